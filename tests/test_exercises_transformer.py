"""The chapter's exercise checks accept the worked solutions and explain typical mistakes."""

import math

import pytest
import torch

from course_utils.decoding import beam_search_step
from course_utils.exercises.transformer import (
    check_beam_step,
    check_encoder_layer_params,
    check_positional_encoding,
)
from course_utils.tools.selfcheck import CheckFailed


def positional_encoding(max_len, d_model):
    pos = torch.arange(max_len).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


def test_positional_encoding_check():
    assert check_positional_encoding(positional_encoding).passed

    def swapped(max_len, d_model):
        return (
            positional_encoding(max_len, d_model)
            .view(max_len, -1, 2)
            .flip(-1)
            .reshape(max_len, d_model)
        )

    with pytest.raises(CheckFailed, match="swapped"):
        check_positional_encoding(swapped)

    def not_attempted(max_len, d_model):
        raise NotImplementedError

    assert not check_positional_encoding(not_attempted).attempted


def test_encoder_layer_params_check():
    assert check_encoder_layer_params(
        lambda d, f: 4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d
    ).passed
    with pytest.raises(CheckFailed, match="weight matrices only"):
        check_encoder_layer_params(lambda d, f: 4 * d * d + 2 * d * f)


def test_beam_step_check():
    assert check_beam_step(beam_search_step).passed

    def forgets_history(scores, log_probs, k):
        s, flat = log_probs.view(-1).topk(k)
        return s, flat // log_probs.size(1), flat % log_probs.size(1)

    with pytest.raises(CheckFailed, match="add each beam's score"):
        check_beam_step(forgets_history)
