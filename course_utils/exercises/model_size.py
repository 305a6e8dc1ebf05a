"""Self-checks for chapter 08: KV-cache memory, fine-tuning memory, one layer's parameters."""

from __future__ import annotations

import torch

from ..llama import DecoderLayer, LlamaConfig
from ..model_size import count_parameters
from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close

FINETUNE_MODELS = {
    "Qwen2-0.5B": 494_032_768,
    "Qwen2-1.5B": 1_543_714_304,
    "Llama-2-7B": 6_738_415_616,
}


@exercise("Exercise 1: KV-cache memory for a 32k context")
def check_kv_cache_gb(fn):
    """fn(n_layers, n_kv_heads, head_dim, context, batch=1, bytes_per_value=2) -> GB (1e9 B)."""
    llama = fn(32, 32, 128, 32768)
    expect_close(
        llama,
        17.179869184,
        "Llama-2-7B (32 layers, 32 KV heads of 128), 32,768 tokens, bf16",
        rtol=1e-6,
        hint="per token: 2 (K and V) x layers x KV heads x head_dim x 2 bytes; "
        "then x context x batch, / 1e9",
    )
    expect_close(
        fn(28, 4, 128, 32768, batch=4),
        7.516192768,
        "Qwen2-7B (28 layers, 4 KV heads), batch 4",
        rtol=1e-6,
        hint="grouped-query attention caches only the KV heads, and batch multiplies",
    )
    expect_close(
        fn(32, 32, 128, 32768, bytes_per_value=1),
        llama / 2,
        "the same cache in int8",
        rtol=1e-6,
        hint="use bytes_per_value instead of a fixed 2",
    )
    qwen = fn(28, 4, 128, 32768)
    return (
        f"at 32k tokens Llama-2-7B's cache needs {llama:.1f} GB, more than its 13.5 GB of "
        f"bf16 weights; Qwen2-7B's (GQA, 4 KV heads) only {qwen:.2f} GB"
    )


@exercise("Exercise 2: which model can you fully fine-tune on a 24 GB GPU?")
def check_finetune_fits(fn):
    """fn(params: dict name -> parameter count, gpu_gb) -> list of the names that fit."""
    answer = fn(dict(FINETUNE_MODELS), 24)
    expect(
        isinstance(answer, list | tuple), f"expected a list of names, got {type(answer).__name__}"
    )
    answer = sorted(answer)
    if answer == ["Qwen2-0.5B", "Qwen2-1.5B"]:
        raise CheckFailed(
            "Qwen2-1.5B needs 1.54e9 x 16 bytes = 24.7 GB > 24 GB. Hint: "
            "mixed-precision AdamW keeps bf16 weights and gradients (2 + 2 bytes) "
            "plus fp32 master weights, m and v (4 + 4 + 4): 16 bytes per parameter"
        )
    if len(answer) > 2:
        raise CheckFailed(
            f"got {answer}: the bf16 weights alone (2 bytes/param) let you run a "
            f"model, not train it. Hint: gradients and AdamW's state come on top"
        )
    expect(
        answer == ["Qwen2-0.5B"],
        f"expected ['Qwen2-0.5B'], got {answer}. Hint: 16 bytes per parameter, 1 GB = 1e9 bytes",
    )
    expect(
        sorted(fn(dict(FINETUNE_MODELS), 80)) == ["Qwen2-0.5B", "Qwen2-1.5B"],
        "on an 80 GB GPU both Qwen2 models fit (7.9 and 24.7 GB), Llama-2-7B (108 GB) does not",
    )
    return "only Qwen2-0.5B (7.9 GB of weights, gradients and AdamW state) fits in 24 GB"


@exercise("Exercise 3: parameters of one Llama-style decoder layer")
def check_layer_params(fn):
    """fn(hidden, intermediate, n_heads, n_kv_heads) -> parameters of one layer (no biases)."""
    for hidden, inter, heads, kv in ((4096, 11008, 32, 32), (3584, 18944, 28, 4), (64, 172, 8, 1)):
        cfg = LlamaConfig(
            hidden_size=hidden,
            intermediate_size=inter,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            num_hidden_layers=1,
            vocab_size=8,
        )
        with torch.device("meta"):
            expected = count_parameters(DecoderLayer(cfg))
        got = fn(hidden, inter, heads, kv)
        expect(
            got == expected,
            f"hidden={hidden}, intermediate={inter}, heads={heads}, kv_heads={kv}: expected "
            f"{expected:,}, got {got!r}. Hint: W_Q and W_O are hidden x hidden; W_K and W_V "
            f"are hidden x (kv_heads x head_dim); SwiGLU has three matrices; two RMSNorm "
            f"gains of size hidden",
        )
    return "one Llama-2-7B layer holds 202,383,360 parameters"
