"""Training compute: FLOPs per token of a GPT, IsoFLOP designs, and PF-days.

Kaplan et al. (2020, section 2.1): a forward pass costs about 2 FLOPs per parameter per token
(one multiply, one add) plus 2 * n_layer * n_ctx * d_model for the attention scores; the
backward pass twice that, so training costs 3x the forward: C = 6 N D for large models. They
count N *without* the embedding tables. A lookup in ``wte``/``wpe`` costs no multiply, but the
output layer ``lm_head`` (d_model x vocab) is a matrix product on every token: at our widths
it is most of the work, so it is counted here.
"""

from __future__ import annotations

from .gpt import GPTConfig
from .tools.checks import finite_number, non_negative_int, positive_int

PF_DAY = 1e15 * 86_400  # one petaFLOP/s sustained for a day = 8.64e19 FLOPs


def non_embedding_parameters(cfg: GPTConfig) -> int:
    """Kaplan's N: the Transformer blocks and the final LayerNorm (no wte, wpe, lm_head)."""
    d, L, d_ff = cfg.d_model, cfg.n_layer, cfg.shape.d_ff
    b = 1 if cfg.bias else 0  # bias=False: no Linear biases, LayerNorms keep only their gain
    ln = (1 + b) * d  # one LayerNorm: gain (and bias)
    attn = 4 * d * d + b * 4 * d  # W_Q, W_K, W_V, W_O
    ffn = 2 * d * d_ff + b * (d_ff + d)  # w_1, w_2
    return L * (attn + ffn + 2 * ln) + (ln if cfg.norm_first else 0)


def head_parameters(cfg: GPTConfig) -> int:
    """The output layer's weights (d_model x vocab): a matrix product on every token."""
    return cfg.d_model * cfg.vocab_size


def forward_flops_per_token(cfg: GPTConfig, context: int | None = None) -> int:
    """2 (N_non-embedding + N_head) + 2 n_layer n_ctx d_model (Kaplan's C_forward plus the head)."""
    n_ctx = cfg.block_size if context is None else positive_int("context", context)
    return (
        2 * (non_embedding_parameters(cfg) + head_parameters(cfg))
        + 2 * cfg.n_layer * n_ctx * cfg.d_model
    )


def training_flops(cfg: GPTConfig, tokens: int, context: int | None = None) -> int:
    """3 x forward (forward + backward) per training token."""
    non_negative_int("tokens", tokens)
    return 3 * forward_flops_per_token(cfg, context) * tokens


def steps_for_budget(cfg: GPTConfig, flops: float, tokens_per_step: int) -> int:
    """Training steps whose compute is closest to the budget ``flops`` (at least 1)."""
    finite_number("flops", flops, low=0, low_inclusive=False)
    positive_int("tokens_per_step", tokens_per_step)
    return max(1, round(flops / (3 * forward_flops_per_token(cfg) * tokens_per_step)))


def pf_days(flops: float) -> float:
    return flops / PF_DAY


# ------------------------------------------------------------------ the GPT family's compute
# Each row: (name, N parameters, D training tokens (low, high), C published or None, source).
# C published: taken as printed; otherwise C = 6 N D over the token range, marked as an estimate.
COMPUTE_ROWS = (
    (
        "GPT-1",
        117e6,
        (None, None),
        0.96 * PF_DAY,
        "OpenAI blog 'Improving language understanding with unsupervised learning' (2018-06): "
        "0.96 pfs-days (1 month on 8 P600 GPUs); paper: 100 epochs of 64 x 512 tokens",
    ),
    (
        "GPT-2 (1.5B)",
        1.5e9,
        (10e9, 1e12),
        None,
        "estimate: WebText ~40 GB ~ 10B BPE tokens (OpenWebText: ~9B tokens in ~38 GB); "
        "1 to 100 passes assumed (GPT-1 made 100 passes over its data); tokens and compute "
        "never published",
    ),
    (
        "GPT-3 (175B)",
        175e9,
        (300e9, 300e9),
        3640 * PF_DAY,
        "Brown et al. 2020, Table D.1: 3.64e3 PF-days (3.14e23 FLOPs), 300B tokens",
    ),
)


def compute_table(rows=COMPUTE_ROWS) -> list[dict]:
    """C in FLOPs and PF-days per model: (low, high); published figures have low == high."""
    out = []
    for name, n, (d_lo, d_hi), c_pub, source in rows:
        if c_pub is not None:
            lo = hi = c_pub
            kind = "published"
        else:
            lo, hi = 6 * n * d_lo, 6 * n * d_hi
            kind = "estimate (6ND)"
        out.append(
            dict(
                model=name,
                params=n,
                tokens_low=d_lo,
                tokens_high=d_hi,
                flops_low=lo,
                flops_high=hi,
                pf_days_low=pf_days(lo),
                pf_days_high=pf_days(hi),
                kind=kind,
                source=source,
            )
        )
    return out
