"""The GPT chapter's checks accept the worked solutions and reject typical mistakes."""

import pytest
import torch

from course_utils.exercises.gpt import (
    check_block_parameters,
    check_kv_cache_bytes,
    check_top_k,
    check_untied_gpt2,
)
from course_utils.tools.selfcheck import CheckFailed


def block_parameters(d_model, d_ff):
    attention = 4 * (d_model * d_model + d_model)
    ffn = d_model * d_ff + d_ff + d_ff * d_model + d_model
    return attention + ffn + 2 * 2 * d_model


def my_top_k(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def kv_cache_bytes(cfg, seq_len, bytes_per_value):
    return 2 * cfg.n_layer * seq_len * cfg.d_model * bytes_per_value


def test_solutions_pass():
    assert check_block_parameters(block_parameters).passed
    assert check_top_k(my_top_k).passed
    assert check_untied_gpt2(124_439_808 + 50257 * 768).passed
    assert check_kv_cache_bytes(kv_cache_bytes).passed


def test_not_attempted():
    def stub(*args):
        raise NotImplementedError

    assert not check_top_k(stub).attempted


def test_wrong_answers_explained():
    with pytest.raises(CheckFailed, match="LayerNorms"):
        check_block_parameters(lambda d, f: 4 * d * d + 2 * d * f)
    with pytest.raises(CheckFailed, match="-inf"):
        check_top_k(lambda x, k: x.masked_fill(x < torch.topk(x, k).values[..., -1:], 0.0))
    with pytest.raises(CheckFailed, match="largest"):
        check_top_k(
            lambda x, k: x.masked_fill(x > torch.topk(-x, k).values.neg()[..., -1:], float("-inf"))
        )
    with pytest.raises(CheckFailed, match="output matrix"):
        check_untied_gpt2(124_439_808)
    with pytest.raises(CheckFailed, match="AND values"):
        check_kv_cache_bytes(lambda c, n, b: c.n_layer * n * c.d_model * b)
