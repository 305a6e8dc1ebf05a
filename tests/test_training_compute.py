"""course_utils.training_compute: Kaplan's N counted on real modules, FLOPs, budgets, PF-days."""

import math

import pytest

from course_utils.gpt import GPTConfig
from course_utils.training_compute import (
    COMPUTE_ROWS,
    PF_DAY,
    compute_table,
    forward_flops_per_token,
    head_parameters,
    non_embedding_parameters,
    pf_days,
    steps_for_budget,
    training_flops,
)

BASE = dict(vocab_size=37, block_size=24, n_layer=2, n_head=2, d_model=16)
CONFIGS = [
    GPTConfig(**BASE),
    GPTConfig(**{**BASE, "norm_first": False}),  # GPT-1: post-norm, no final LayerNorm
    GPTConfig(**{**BASE, "d_ff": 40}),  # d_ff != 4d
    GPTConfig(**{**BASE, "n_layer": 3, "d_model": 24, "n_head": 3, "d_ff": 56}),
    GPTConfig(**{**BASE, "bias": False}),  # LayerNorms keep only their gain
    GPTConfig(**{**BASE, "bias": False, "norm_first": False, "d_ff": 20}),
    GPTConfig(**{**BASE, "tie_weights": False}),
]
IDS = ["pre", "post", "dff40", "L3d24", "nobias", "nobias-post", "untied"]


def module_count(cfg: GPTConfig) -> int:
    """Parameters of the built model outside wte, wpe and lm_head (a tied tensor counted once)."""
    model = cfg.build()
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if not name.startswith(("wte.", "wpe.", "lm_head."))
    )


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_non_embedding_parameters_count_the_modules(cfg):
    assert non_embedding_parameters(cfg) == module_count(cfg)


def test_non_embedding_parameters_gpt2_small():
    # GPT-2 small: 124,439,808 in all, minus wte (50257 x 768) and wpe (1024 x 768)
    gpt2 = GPTConfig()
    assert non_embedding_parameters(gpt2) == 124_439_808 - 50257 * 768 - 1024 * 768


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_head_parameters_is_the_output_matrix(cfg):
    untied = GPTConfig(**{**cfg.to_dict(), "tie_weights": False}).build()
    assert head_parameters(cfg) == untied.lm_head.weight.numel() == cfg.d_model * cfg.vocab_size


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_forward_flops_per_token(cfg):
    n, head = module_count(cfg), cfg.d_model * cfg.vocab_size
    attention = 2 * cfg.n_layer * cfg.block_size * cfg.d_model  # n_ctx = block_size
    assert forward_flops_per_token(cfg) == 2 * (n + head) + attention
    for ctx in (1, 7, 100):
        want = 2 * (n + head) + 2 * cfg.n_layer * ctx * cfg.d_model
        assert forward_flops_per_token(cfg, ctx) == want
        assert forward_flops_per_token(cfg, context=ctx) == want


def test_training_flops_is_three_forwards():
    cfg = CONFIGS[3]
    f = forward_flops_per_token(cfg)
    assert training_flops(cfg, 0) == 0
    assert training_flops(cfg, 1) == 3 * f
    assert training_flops(cfg, 1000) == 3 * f * 1000
    f7 = forward_flops_per_token(cfg, 7)
    assert f7 != f
    assert training_flops(cfg, 50, context=7) == 3 * f7 * 50
    assert training_flops(cfg, 50, 7) == 3 * f7 * 50
    assert isinstance(training_flops(cfg, 10), int)


def test_steps_for_budget_rounds_to_nearest_and_at_least_one():
    cfg = CONFIGS[0]
    per_step = 3 * forward_flops_per_token(cfg) * 64  # 64 tokens a step, n_ctx = block_size
    assert steps_for_budget(cfg, 10 * per_step, 64) == 10
    assert steps_for_budget(cfg, 10.4 * per_step, 64) == 10
    assert steps_for_budget(cfg, 10.6 * per_step, 64) == 11
    assert steps_for_budget(cfg, 9.6 * per_step, 64) == 10
    assert steps_for_budget(cfg, 0.3 * per_step, 64) == 1  # rounds to 0: at least one step
    assert steps_for_budget(cfg, 1e-3, 64) == 1
    assert steps_for_budget(cfg, 10 * per_step, 32) == 20  # half the tokens: twice the steps
    assert isinstance(steps_for_budget(cfg, 10 * per_step, 64), int)


def test_pf_day():
    assert PF_DAY == 8.64e19
    assert pf_days(PF_DAY) == 1.0
    assert pf_days(3 * PF_DAY) == pytest.approx(3.0)
    assert pf_days(0) == 0.0


def test_compute_table_published_and_estimated_rows():
    rows = {r["model"]: r for r in compute_table()}
    assert list(rows) == ["GPT-1", "GPT-2 (1.5B)", "GPT-3 (175B)"]
    for r in rows.values():
        assert r["pf_days_low"] == pytest.approx(r["flops_low"] / 8.64e19)
        assert r["pf_days_high"] == pytest.approx(r["flops_high"] / 8.64e19)
        assert r["source"]
    gpt1, gpt2, gpt3 = rows["GPT-1"], rows["GPT-2 (1.5B)"], rows["GPT-3 (175B)"]
    # published: taken as printed, low == high
    assert gpt3["kind"] == gpt1["kind"] == "published"
    assert gpt3["flops_low"] == gpt3["flops_high"] == pytest.approx(3.14e23, rel=2e-3)
    assert gpt3["pf_days_low"] == gpt3["pf_days_high"] == pytest.approx(3640)
    assert (gpt3["params"], gpt3["tokens_low"], gpt3["tokens_high"]) == (175e9, 300e9, 300e9)
    assert gpt1["flops_low"] == gpt1["flops_high"] == pytest.approx(0.96 * 8.64e19)
    assert gpt1["pf_days_low"] == pytest.approx(0.96)
    assert gpt1["tokens_low"] is None and gpt1["params"] == 117e6
    # estimated: 6 N D at both ends of the token range
    assert gpt2["kind"] == "estimate (6ND)"
    assert (gpt2["tokens_low"], gpt2["tokens_high"]) == (10e9, 1e12)
    assert gpt2["flops_low"] == pytest.approx(6 * 1.5e9 * 10e9)
    assert gpt2["flops_high"] == pytest.approx(6 * 1.5e9 * 1e12)
    assert gpt2["pf_days_low"] == pytest.approx(9e19 / 8.64e19)


def test_compute_table_of_other_rows():
    rows = [
        ("A", 2e6, (3e9, 5e9), None, "est"),
        ("B", 7e6, (1e9, 2e9), 4.2e16, "pub"),
    ]
    a, b = compute_table(rows)
    assert (a["flops_low"], a["flops_high"]) == (6 * 2e6 * 3e9, 6 * 2e6 * 5e9)
    assert a["kind"] == "estimate (6ND)" and a["source"] == "est" and a["params"] == 2e6
    assert b["flops_low"] == b["flops_high"] == 4.2e16  # the published figure wins over 6ND
    assert b["kind"] == "published" and (b["tokens_low"], b["tokens_high"]) == (1e9, 2e9)
    assert len(compute_table(COMPUTE_ROWS)) == len(COMPUTE_ROWS)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda c: training_flops(c, -1), ValueError, "tokens"),
        (lambda c: training_flops(c, 2.5), TypeError, "tokens"),
        (lambda c: steps_for_budget(c, 0, 64), ValueError, "flops"),
        (lambda c: steps_for_budget(c, -1e9, 64), ValueError, "flops"),
        (lambda c: steps_for_budget(c, math.nan, 64), ValueError, "flops"),
        (lambda c: steps_for_budget(c, math.inf, 64), ValueError, "flops"),
        (lambda c: steps_for_budget(c, "1e9", 64), TypeError, "flops"),
        (lambda c: steps_for_budget(c, 1e9, 0), ValueError, "tokens_per_step"),
        (lambda c: steps_for_budget(c, 1e9, 1.5), TypeError, "tokens_per_step"),
        (lambda c: forward_flops_per_token(c, 0), ValueError, "context"),
        (lambda c: forward_flops_per_token(c, -5), ValueError, "context"),
        (lambda c: forward_flops_per_token(c, 2.5), TypeError, "context"),
        (lambda c: training_flops(c, 10, context=0), ValueError, "context"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(CONFIGS[0])
