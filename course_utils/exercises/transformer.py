"""Self-checks for the Transformer chapter's exercises."""

from __future__ import annotations

import torch

from ..attention import MultiHeadedAttention
from ..decoding import beam_search_step
from ..model_size import count_parameters
from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close, expect_equal, expect_type
from ..transformer import EncoderLayer, PositionalEncoding, PositionwiseFeedForward


@exercise("Exercise 1: sinusoidal positional encoding")
def check_positional_encoding(fn):
    for max_len, d_model in ((6, 8), (50, 16)):
        pe = fn(max_len, d_model)
        expect_type(pe, torch.Tensor, f"positional_encoding({max_len}, {d_model})")
        expected = PositionalEncoding(d_model, 0.0, max_len).pe[0]  # (max_len, d_model)
        expect_equal(
            tuple(pe.shape), tuple(expected.shape), "shape of the encoding (max_len, d_model)"
        )
        if torch.allclose(pe[:, 0::2], expected[:, 1::2], atol=1e-5):
            raise CheckFailed(
                "sin and cos are swapped: even dimensions 2i hold sin, odd 2i+1 hold cos"
            )
        expect_close(
            pe,
            expected,
            f"positional_encoding({max_len}, {d_model})",
            atol=1e-5,
            hint="PE(pos, 2i) = sin(pos / 10000^(2i / d_model)); the exponent uses 2i, "
            "the even index, for both dimensions of a pair",
        )
    return "matches PositionalEncoding's buffer"


@exercise("Exercise 2: parameters of one encoder layer, by formula")
def check_encoder_layer_params(fn):
    for d_model, d_ff, h in ((512, 2048, 8), (64, 256, 4)):
        layer = EncoderLayer(
            d_model, MultiHeadedAttention(h, d_model), PositionwiseFeedForward(d_model, d_ff), 0.0
        )
        expected = count_parameters(layer)
        got = fn(d_model, d_ff)
        expect_type(got, int, f"encoder_layer_params({d_model}, {d_ff})")
        if got == 4 * d_model * d_model + 2 * d_model * d_ff:
            raise CheckFailed(
                "you counted the weight matrices only: every nn.Linear has a bias, "
                "and each of the two LayerNorms has a gain and a bias of size d_model"
            )
        expect_equal(
            got,
            expected,
            f"encoder_layer_params({d_model}, {d_ff})",
            hint="4 projections d*d + d, two FFN layers (d*d_ff + d_ff, d_ff*d + d), "
            "two LayerNorms 2*d each",
        )
    return f"the base model's encoder layer (512, 2048) has {fn(512, 2048):,} parameters"


@exercise("Exercise 3: one beam-search step")
def check_beam_step(fn):
    scores = torch.tensor([-0.1, -2.0, -0.7])
    log_probs = torch.log_softmax(
        torch.tensor([[2.0, 1.0, 0.1, -1.0], [3.0, 0.0, 0.0, 0.0], [0.5, 0.4, 0.3, 0.2]]), dim=-1
    )
    got = fn(scores, log_probs, 3)
    expect(
        isinstance(got, tuple) and len(got) == 3,
        "return a tuple (new_scores, beam_index, word_index)",
    )
    new_scores, beam_idx, word_idx = got
    exp_scores, exp_beam, exp_word = beam_search_step(scores, log_probs, 3)
    only_new = log_probs.view(-1).topk(3)
    if torch.allclose(torch.as_tensor(new_scores, dtype=torch.float), only_new.values):
        raise CheckFailed(
            "you ranked the next words by their own log-probability only: add each "
            "beam's score so far, scores[:, None] + log_probs, before taking topk"
        )
    expect_close(
        new_scores,
        exp_scores,
        "new scores (best first)",
        hint="topk over the flattened (beams * vocab) matrix of scores[:, None] + log_probs",
    )
    expect_equal(
        torch.as_tensor(beam_idx).tolist(),
        exp_beam.tolist(),
        "beam index",
        hint="flat index // vocab gives the beam",
    )
    expect_equal(
        torch.as_tensor(word_idx).tolist(),
        exp_word.tolist(),
        "word index",
        hint="flat index % vocab gives the word",
    )
    return "the same k extensions as course_utils.decoding.beam_search_step"
