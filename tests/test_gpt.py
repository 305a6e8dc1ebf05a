"""course_utils.gpt, sampling and gpt_family: counts, shapes, KV cache, sampling, bad input."""

import math

import pytest
import torch
from torch import nn

from course_utils.attention import MultiHeadedAttention
from course_utils.gpt import (
    GPT,
    GPT_PRESETS,
    GPTConfig,
    closed_form_parameters,
    reference_gpt,
)
from course_utils.gpt_family import (
    GPT3_TABLE,
    GPT3_TRAIN_TOKENS,
    generation_table,
    gpt3_config,
    table_inconsistencies,
)
from course_utils.model_size import count_parameters, training_flops
from course_utils.sampling import sample_next, top_k_filter, top_p_filter
from course_utils.transformer import EncoderLayer, PositionwiseFeedForward

TINY = GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, d_model=16)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("openai-gpt", 116_534_784),
        ("gpt2", 124_439_808),
        ("gpt2-medium", 354_823_168),
        ("gpt2-large", 774_030_080),
        ("gpt2-xl", 1_557_611_200),
    ],
)
def test_published_parameter_counts(name, expected):
    assert count_parameters(GPT_PRESETS[name]) == expected


@pytest.mark.parametrize("name", ["openai-gpt", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"])
def test_closed_form_matches_gpt2(name):  # GPT-1 (post-norm) has no final LayerNorm: no 2d
    assert closed_form_parameters(GPT_PRESETS[name]) == count_parameters(GPT_PRESETS[name])


def test_built_from_course_blocks():
    model = TINY.build()
    layer = model.blocks.layers[0]
    assert isinstance(layer, EncoderLayer)
    assert isinstance(layer.self_attn, MultiHeadedAttention)
    assert isinstance(layer.feed_forward, PositionwiseFeedForward)
    assert model.lm_head.weight is model.wte.weight
    assert isinstance(model.blocks.norm, nn.LayerNorm)  # pre-norm: final LayerNorm
    post = GPTConfig(**{**TINY.to_dict(), "norm_first": False}).build()
    assert isinstance(post.blocks.norm, nn.Identity)  # GPT-1: no final LayerNorm


def test_untied_and_biasless_counts():
    tied = count_parameters(TINY)
    untied = count_parameters(GPTConfig(**{**TINY.to_dict(), "tie_weights": False}))
    assert untied - tied == TINY.vocab_size * TINY.d_model
    nobias = count_parameters(GPTConfig(**{**TINY.to_dict(), "bias": False}))
    d, L = TINY.d_model, TINY.n_layer
    # per layer: 4 attention biases (d each), FFN biases 4d + d, 2 LayerNorm biases; final LN bias
    assert tied - nobias == L * (4 * d + 5 * d + 2 * d) + d


def test_gpt3_table_within_3_percent():
    for row in GPT3_TABLE:
        n = count_parameters(gpt3_config(row))
        assert abs(n / row.n_params - 1) < 0.03, row.name
    found = table_inconsistencies()
    assert len(found) == 2 and found[0].startswith("GPT-3 XL") and found[1].startswith("GPT-3 13B")


def test_gpt3_compute():
    n = count_parameters(gpt3_config(GPT3_TABLE[-1]))
    assert training_flops(n, GPT3_TRAIN_TOKENS) == pytest.approx(3.14e23, rel=0.01)
    with pytest.raises(ValueError, match="n_params"):
        training_flops(0, 1)


def test_generation_table_columns():
    rows = generation_table()
    assert [r["parameters"] for r in rows][:2] == [116_534_784, 1_557_611_200]
    assert {
        "layers",
        "d_model",
        "heads",
        "d_ff",
        "context",
        "vocab",
        "norm",
        "data",
        "objective",
        "use",
    } <= set(rows[0])


def test_forward_shapes_and_causality():
    torch.manual_seed(0)
    model = TINY.build().eval()
    x = torch.randint(0, 40, (2, 10))
    logits, loss = model(x, x)
    assert logits.shape == (2, 10, 40) and loss.ndim == 0
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 40  # change the future: earlier positions' logits stay the same
    assert torch.allclose(model(y)[0][:, :6], logits[:, :6], atol=1e-5)


def test_kv_cache_matches_uncached():
    torch.manual_seed(0)
    model = TINY.build()
    x = torch.randint(0, 40, (3, 4))
    for kw in ({"temperature": 0}, {"temperature": 0.9, "top_k": 10}, {"top_p": 0.8}):
        a = model.generate(x, 20, use_cache=False, generator=torch.Generator().manual_seed(1), **kw)
        b = model.generate(x, 20, use_cache=True, generator=torch.Generator().manual_seed(1), **kw)
        assert torch.equal(a, b)
        assert a.shape == (3, 24)
    # longer than block_size: the window slides, with and without the cache
    a = model.generate(x, 30, temperature=0, use_cache=False)
    b = model.generate(x, 30, temperature=0, use_cache=True)
    assert torch.equal(a, b)


def test_kv_cache_hooks_fill_the_cache_and_are_removed():
    model = TINY.build().eval()
    cache = model.new_cache()
    idx = torch.randint(0, 40, (2, 5))
    with torch.no_grad():
        first, _ = model(idx[:, :3], cache=cache)
        assert len(cache) == 3 and cache.keys[0].shape == cache.values[1].shape == (2, 3, 16)
        rest, _ = model(idx[:, 3:], cache=cache)  # positions 3, 4 against 5 cached keys
        full, _ = model(idx)
    assert len(cache) == 5
    torch.testing.assert_close(torch.cat([first, rest], dim=1), full)
    w_k = model.blocks.layers[0].self_attn.linears[1]
    assert not w_k._forward_hooks
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 12, dtype=torch.long), cache=cache)  # 5 cached + 12 > 16


def test_same_speed_reference_counts_alike():
    assert count_parameters(reference_gpt(TINY)) == count_parameters(TINY)


def test_sampling_filters():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert torch.isinf(top_k_filter(logits, 2)).tolist() == [[True, False, False, True]]
    # probabilities ~ [0.09, 0.67, 0.24, 0.03]: p=0.7 keeps the top two
    assert torch.isinf(top_p_filter(logits, 0.7)).tolist() == [[True, False, False, True]]
    assert torch.isinf(top_p_filter(logits, 0.5)).tolist() == [[True, False, True, True]]
    assert sample_next(logits, temperature=0).tolist() == [[1]]
    assert sample_next(logits, temperature=0, top_k=3, top_p=0.1).tolist() == [[1]]
    g = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, top_k=1, generator=g).item() for _ in range(5)}
    assert draws == {1}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"top_k": 0}, ValueError, "top_k must be a positive int, got 0"),
        ({"top_k": -3}, ValueError, "top_k"),
        ({"top_k": 2.5}, TypeError, "top_k"),
        ({"top_p": 1.5}, ValueError, "top_p must be a number in"),
        ({"top_p": 0.0}, ValueError, "top_p"),
        ({"top_p": float("nan")}, ValueError, "top_p must be a finite number"),
        ({"temperature": -1.0}, ValueError, "temperature must be a number in"),
        ({"temperature": float("nan")}, ValueError, "temperature must be a finite number"),
        ({"temperature": float("inf")}, ValueError, "temperature"),
        ({"temperature": "0.7"}, TypeError, "temperature must be a number"),
        ({"greedy": True}, TypeError, "greedy"),  # gone: temperature=0 is greedy
        ({"temperature": 0, "top_k": 0}, ValueError, "top_k"),  # checked even when greedy
    ],
)
def test_sampling_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        sample_next(torch.zeros(1, 5), **kwargs)


def test_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(d_model=10, n_head=3)
    with pytest.raises(ValueError, match="positive int"):
        GPTConfig(n_layer=0)
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"n_layer": 2})
    model = TINY.build()
    with pytest.raises(TypeError, match="idx must have dtype torch.int64"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"idx must have shape \(batch, seq\)"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="idx must be a torch.Tensor"):
        model([[1, 2]])
    with pytest.raises(ValueError, match=r"targets .* seq = 3"):
        model(torch.zeros(2, 3, dtype=torch.long), targets=torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"logits must have shape \(batch, vocab\)"):
        sample_next(torch.zeros(5))


def _std_by_name(model):
    return {n: p.detach().std().item() for n, p in model.named_parameters() if p.dim() >= 2}


@pytest.mark.parametrize("norm_first", [True, False])
def test_gpt2_scaled_residual_init(norm_first):
    """GPT-2: W_O and w_2 (the projections that write into the residual stream) start with
    std 0.02 / sqrt(2L), exactly 2L tensors; every other matrix 0.02, every bias 0."""
    L = 6
    torch.manual_seed(0)
    cfg = GPTConfig(
        vocab_size=64, block_size=32, n_layer=L, n_head=4, d_model=64, norm_first=norm_first
    )
    model = cfg.build()
    stds = _std_by_name(model)
    residual = {
        n for n in stds if n.endswith(("self_attn.linears.3.weight", "feed_forward.w_2.weight"))
    }
    assert len(residual) == 2 * L  # one W_O and one w_2 per layer
    small = 0.02 / math.sqrt(2 * L)
    for name, std in stds.items():
        want = small if name in residual else 0.02
        assert std == pytest.approx(want, rel=0.05), name
    # the same tensors, found by their value: exactly 2L matrices are the small ones
    assert sum(abs(s / small - 1) < 0.05 for s in stds.values()) == 2 * L
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            assert torch.count_nonzero(p) == 0, name
    means = [p.detach().mean().item() for n, p in model.named_parameters() if p.dim() >= 2]
    assert max(abs(m) for m in means) < 0.005  # centred at 0


def test_gpt2_residual_init_follows_depth():
    """Twice the layers, std / sqrt(2): the sum of 2L residual writes keeps its scale."""
    torch.manual_seed(0)
    cfg = dict(vocab_size=32, block_size=8, n_head=2, d_model=64)
    two = _std_by_name(GPTConfig(n_layer=2, **cfg).build())[
        "blocks.layers.0.feed_forward.w_2.weight"
    ]
    eight = _std_by_name(GPTConfig(n_layer=8, **cfg).build())[
        "blocks.layers.0.feed_forward.w_2.weight"
    ]
    assert two == pytest.approx(0.02 / math.sqrt(4), rel=0.05)
    assert eight == pytest.approx(0.02 / math.sqrt(16), rel=0.05)


def _top_k_reference(row, k):
    kth = sorted(row.tolist(), reverse=True)[k - 1]
    return [x if x >= kth else float("-inf") for x in row.tolist()]


def _top_p_reference(row, p):
    probs = row.softmax(-1).tolist()
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    keep, total = set(), 0.0
    for i in order:  # keep tokens until the kept ones reach p
        if total >= p:
            break
        keep.add(i)
        total += probs[i]
    return [x if i in keep else float("-inf") for i, x in enumerate(row.tolist())]


def test_filters_work_on_every_row_of_any_batch_shape():
    """top-k and top-p act on the last axis of (..., vocab) logits, row by row."""
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7)
    for k in (1, 3, 7, 10):
        got = top_k_filter(logits, k)
        for idx in [(i, j) for i in range(2) for j in range(3)]:
            assert got[idx].tolist() == _top_k_reference(logits[idx], min(k, 7)), (k, idx)
    for p in (0.3, 0.6, 0.9, 1.0):
        got = top_p_filter(logits, p)
        for idx in [(i, j) for i in range(2) for j in range(3)]:
            assert got[idx].tolist() == _top_p_reference(logits[idx], p), (p, idx)
    # on one row (1-D) as well
    assert top_k_filter(logits[0, 0], 2).tolist() == _top_k_reference(logits[0, 0], 2)


def test_top_p_boundary_and_default_temperature():
    """top-p stops as soon as the kept tokens reach p (>=): four tokens of 0.25 and p = 0.5
    keep exactly two. The default temperature is 1: the same draws as temperature=1.0."""
    kept = torch.isfinite(top_p_filter(torch.zeros(3, 4), 0.5)).sum(-1)
    assert kept.tolist() == [2, 2, 2]
    assert torch.isfinite(top_p_filter(torch.zeros(1, 4), 0.75)).sum() == 3
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]]).expand(400, 5)
    a = sample_next(logits, generator=torch.Generator().manual_seed(3))
    b = sample_next(logits, temperature=1.0, generator=torch.Generator().manual_seed(3))
    c = sample_next(logits, temperature=2.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the draws follow softmax(logits / T): token 0 has probability 0.636 at T = 1
    assert abs((a == 0).float().mean().item() - logits[0].softmax(-1)[0].item()) < 0.08
    # greedy picks the largest logit of every row
    assert sample_next(
        torch.tensor([[0.0, 5.0, 1.0], [9.0, 0.0, 1.0]]), temperature=0
    ).tolist() == [
        [1],
        [0],
    ]


@pytest.mark.parametrize("norm_first", [True, False])
def test_the_reference_gpt_computes_what_the_course_gpt_computes(norm_first):
    """reference_gpt (nn.TransformerEncoderLayer) with the course GPT's weights gives its logits
    and loss: the benchmark compares two implementations of one function."""
    from dataclasses import replace

    from course_utils.transformer import copy_from_torch_layer

    cfg = replace(TINY, dropout=0.0, norm_first=norm_first)
    torch.manual_seed(0)
    ref, ours = reference_gpt(cfg).eval(), cfg.build().eval()
    with torch.no_grad():
        ours.wte.weight.copy_(ref.wte.weight)
        ours.wpe.weight.copy_(ref.wpe.weight)
        ours.lm_head.weight.copy_(ref.lm_head.weight)
        if norm_first:
            ours.blocks.norm.load_state_dict(ref.ln_f.state_dict())
    for mine, theirs in zip(ours.blocks.layers, ref.blocks):
        copy_from_torch_layer(mine, theirs)
    idx = torch.randint(0, cfg.vocab_size, (2, 12), generator=torch.Generator().manual_seed(1))
    logits_ref, loss_ref = ref(idx, idx)
    logits, loss = ours(idx, idx)
    torch.testing.assert_close(logits, logits_ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(loss, loss_ref, atol=1e-5, rtol=1e-4)
    assert ref(idx)[1] is None  # no targets, no loss


def _top_k_by_row(row, k):
    kth = sorted(row.tolist(), reverse=True)[min(k, len(row)) - 1]
    return [v if v >= kth else float("-inf") for v in row.tolist()]


def _top_p_by_row(row, p):
    probs = row.softmax(-1).tolist()
    kept, total = set(), 0.0
    for i in sorted(range(len(probs)), key=lambda i: -probs[i]):
        if total >= p:  # the tokens kept so far already reach p
            break
        kept.add(i)
        total += probs[i]
    return [v if i in kept else float("-inf") for i, v in enumerate(row.tolist())]


def test_filters_act_on_the_last_axis_of_any_shape():
    """top-k and top-p on (2, 3, 7) logits, against a row-by-row reference."""
    logits = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rows = logits.reshape(-1, 7)
    for k in (1, 3, 9):
        want = torch.tensor([_top_k_by_row(r, k) for r in rows], dtype=torch.float64)
        assert torch.equal(top_k_filter(logits, k), want.reshape(2, 3, 7))
    for p in (0.3, 0.6, 0.95):
        want = torch.tensor([_top_p_by_row(r, p) for r in rows], dtype=torch.float64)
        assert torch.equal(top_p_filter(logits, p), want.reshape(2, 3, 7))


def test_top_p_stops_when_the_kept_tokens_reach_p_exactly():
    logits = torch.tensor([[math.log(2.0), 0.0, 0.0]], dtype=torch.float64)  # 0.5, 0.25, 0.25
    assert torch.isinf(top_p_filter(logits, 0.5)).tolist() == [[False, True, True]]
    assert torch.isinf(top_p_filter(logits, 0.75)).tolist() == [[False, False, True]]
    assert torch.isinf(top_p_filter(logits, 0.76)).tolist() == [[False, False, False]]


def test_sample_next_defaults_to_temperature_one_and_draws_from_its_generator():
    logits = torch.randn(500, 6, generator=torch.Generator().manual_seed(1))
    a = sample_next(logits, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(123)  # the global generator must not matter
    b = sample_next(logits, temperature=1.0, generator=torch.Generator().manual_seed(2))
    assert a.shape == (500, 1) and torch.equal(a, b)
    hotter = sample_next(logits, temperature=2.0, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(a, hotter)
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1, keepdim=True))


def test_config_fields_reach_every_layer():
    """dropout, bias and layer_norm_eps are passed to each block, not left at a layer's default."""
    cfg = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=16)
    assert cfg.dropout == 0.0  # the default: no dropout, so training mode is deterministic
    model = cfg.build().train()
    idx = torch.randint(0, 50, (2, 10), generator=torch.Generator().manual_seed(0))
    logits, loss = model(idx)
    assert loss is None and torch.equal(logits, model(idx)[0])
    no_bias = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=16, bias=False)
    assert not [n for n, _ in no_bias.build().named_parameters() if n.endswith("bias")]
    eps = GPTConfig(
        vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=16, layer_norm_eps=1e-3
    )
    norms = [m for m in eps.build().modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * 2 + 1 and {m.eps for m in norms} == {1e-3}
