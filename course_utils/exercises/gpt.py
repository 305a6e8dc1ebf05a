"""Self-checks for the GPT chapter's exercises."""

from __future__ import annotations

import torch

from ..attention import MultiHeadedAttention
from ..gpt import GPT_PRESETS, GPTConfig
from ..model_size import count_parameters
from ..sampling import top_k_filter
from ..tools.selfcheck import exercise, expect, expect_equal, expect_type
from ..transformer import EncoderLayer, PositionwiseFeedForward


def _block(d_model: int, d_ff: int) -> EncoderLayer:
    attn = MultiHeadedAttention(1, d_model, 0.0)
    return EncoderLayer(
        d_model, attn, PositionwiseFeedForward(d_model, d_ff, 0.0, "gelu"), 0.0, True
    )


@exercise("Exercise 1: parameters of one GPT block")
def check_block_parameters(block_parameters):
    for d_model, d_ff in ((768, 3072), (64, 100)):
        got = block_parameters(d_model, d_ff)
        expect_type(got, int, f"block_parameters({d_model}, {d_ff})")
        want = count_parameters(_block(d_model, d_ff))
        expect_equal(
            got,
            want,
            f"block_parameters({d_model}, {d_ff})",
            hint="attention: 4 matrices d x d plus 4 biases of d; FFN: d x d_ff + d_ff "
            "and d_ff x d + d; two LayerNorms with a gain and a bias of d each",
        )
    return "12d² + 13d when d_ff = 4d"


@exercise("Exercise 2: top-k filtering")
def check_top_k(my_top_k):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 20, generator=g)
    for k in (1, 5, 20):
        got = my_top_k(logits.clone(), k)
        expect_type(got, torch.Tensor, f"my_top_k(logits, {k})")
        expect_equal(tuple(got.shape), tuple(logits.shape), f"shape of my_top_k(logits, {k})")
        want = top_k_filter(logits, k)
        kept = torch.isfinite(got)
        changed = ~torch.isfinite(want) & kept & (got != logits)
        expect(
            not bool(changed.any()),
            f"my_top_k(logits, {k}): dropped tokens must get -inf (so that softmax gives them 0), "
            "not 0 or another finite value",
        )
        expect_equal(
            int(kept.sum(-1).max()),
            k,
            f"tokens kept per row with k={k}",
            hint="keep exactly the k largest logits of each row (torch.topk(..., k))",
        )
        expect(
            bool(torch.equal(kept, torch.isfinite(want))),
            f"my_top_k(logits, {k}) kept the wrong tokens: keep the k *largest* logits of each row",
        )
        expect(bool(torch.equal(got[kept], logits[kept])), "kept logits must stay unchanged")
    return "the same tokens survive as with course_utils.sampling.top_k_filter"


@exercise("Exercise 3: GPT-2 small without weight tying")
def check_untied_gpt2(n_params):
    expect_type(n_params, int, "your count")
    cfg = GPTConfig(**{**GPT_PRESETS["gpt2"].to_dict(), "tie_weights": False})
    expect_equal(
        n_params,
        count_parameters(cfg),
        "parameters of GPT-2 small with an untied output layer",
        hint="start from 124,439,808 and add the output matrix of vocab_size x d_model "
        "(it has no bias)",
    )
    return "tying saves 50,257 x 768 = 38.6M parameters, 24% of the untied model"


@exercise("Exercise 4: memory of the KV cache")
def check_kv_cache_bytes(kv_cache_bytes):
    cases = ((GPT_PRESETS["gpt2"], 1024, 2), (GPT_PRESETS["gpt2-xl"], 100, 4))
    for cfg, seq_len, nbytes in cases:
        got = kv_cache_bytes(cfg, seq_len, nbytes)
        want = 2 * cfg.n_layer * seq_len * cfg.d_model * nbytes
        expect_equal(
            got,
            want,
            f"kv_cache_bytes(n_layer={cfg.n_layer}, d_model={cfg.d_model}, "
            f"seq_len={seq_len}, bytes={nbytes})",
            hint="keys AND values (x2), for every layer, every position, d_model numbers each",
        )
    return "GPT-2 small holds 36 MiB of keys and values per 1,024-token sequence in fp16"
