import pytest

from course_utils.exercises.model_size import (
    check_finetune_fits,
    check_kv_cache_gb,
    check_layer_params,
)
from course_utils.tools.selfcheck import CheckFailed


def kv_cache_gb(n_layers, n_kv_heads, head_dim, context, batch=1, bytes_per_value=2):
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value * context * batch / 1e9


def finetune_fits(params, gpu_gb):
    return sorted(name for name, n in params.items() if 16 * n / 1e9 <= gpu_gb)


def layer_params(hidden, intermediate, n_heads, n_kv_heads):
    head_dim = hidden // n_heads
    return (
        2 * hidden * hidden
        + 2 * hidden * n_kv_heads * head_dim
        + 3 * hidden * intermediate
        + 2 * hidden
    )


def test_solutions_pass():
    assert check_kv_cache_gb(kv_cache_gb).passed
    assert check_finetune_fits(finetune_fits).passed
    assert check_layer_params(layer_params).passed


def test_stubs_are_not_attempted():
    def stub(*args, **kwargs):
        raise NotImplementedError

    for check in (check_kv_cache_gb, check_finetune_fits, check_layer_params):
        assert not check(stub).attempted


def test_typical_wrong_answers():
    no_kv_factor = lambda L, H, d, ctx, batch=1, bytes_per_value=2: (
        kv_cache_gb(L, H, d, ctx, batch, bytes_per_value) / 2
    )
    with pytest.raises(CheckFailed, match="2 \\(K and V\\)"):
        check_kv_cache_gb(no_kv_factor)
    weights_only = lambda params, gpu: sorted(n for n, p in params.items() if 2 * p / 1e9 <= gpu)
    with pytest.raises(CheckFailed, match="gradients and AdamW"):
        check_finetune_fits(weights_only)
    eight_bytes = lambda params, gpu: sorted(n for n, p in params.items() if 8 * p / 1e9 <= gpu)
    with pytest.raises(CheckFailed, match="16 bytes per parameter"):
        check_finetune_fits(eight_bytes)
    no_gqa = lambda h, i, nh, kv: 4 * h * h + 3 * h * i + 2 * h
    with pytest.raises(CheckFailed, match="kv_heads x head_dim"):
        check_layer_params(no_gqa)
