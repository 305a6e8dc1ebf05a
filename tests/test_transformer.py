"""course_utils.transformer: shapes, masks, PE, and equivalence with PyTorch's layers."""

import math

import pytest
import torch
from torch import nn

from course_utils.attention import MultiHeadedAttention, causal_mask
from course_utils.model_size import count_parameters
from course_utils.transformer import (
    DecoderLayer,
    Embeddings,
    EncoderLayer,
    PositionalEncoding,
    PositionwiseFeedForward,
    TorchTransformerModel,
    TransformerConfig,
    copy_from_torch_layer,
    make_model,
    subsequent_mask,
)

D, H, FF = 32, 4, 64


def test_subsequent_mask():
    m = subsequent_mask(4)
    assert m.shape == (1, 4, 4) and m.dtype == torch.bool
    assert torch.equal(m[0], torch.tril(torch.ones(4, 4, dtype=torch.bool)))
    assert torch.equal(m[0], causal_mask(4))  # chapter 06's name for chapter 05's mask


def test_positional_encoding_values_and_linear_shift():
    pe = PositionalEncoding(16, 0.0, 100).pe[0].double()  # (100, 16)
    assert pe[0, 0] == 0 and pe[0, 1] == 1
    assert math.isclose(pe[3, 2].item(), math.sin(3 / 10000 ** (2 / 16)), rel_tol=1e-6)
    # PE(pos + k) = M_k PE(pos) with M_k block-diagonal rotations that do not depend on pos
    k = 5
    freqs = torch.exp(torch.arange(0, 16, 2).double() * (-math.log(10000.0) / 16))
    shifted = torch.empty_like(pe[:-k])
    s, c = pe[:-k, 0::2], pe[:-k, 1::2]
    shifted[:, 0::2] = s * torch.cos(k * freqs) + c * torch.sin(k * freqs)
    shifted[:, 1::2] = c * torch.cos(k * freqs) - s * torch.sin(k * freqs)
    assert torch.allclose(shifted, pe[k:], atol=1e-4)


def test_positional_encoding_too_long():
    with pytest.raises(ValueError, match="max_len"):
        PositionalEncoding(8, 0.0, 5)(torch.zeros(1, 6, 8))


def test_positional_checks_name_the_sizes():
    from course_utils.transformer import LearnedPositionalEmbedding

    with pytest.raises(ValueError, match=r"d_model must be even \(sin/cos pairs\), got 7"):
        PositionalEncoding(7, 0.0)
    with pytest.raises(ValueError, match="sequence length 6 exceeds max_len 5"):
        PositionalEncoding(8, 0.0, 5)(torch.zeros(1, 6, 8))
    with pytest.raises(ValueError, match="sequence length 4 exceeds max_len 3"):
        LearnedPositionalEmbedding(8, 0.0, 3)(torch.zeros(1, 4, 8))
    assert PositionalEncoding(8, 0.0, 5)(torch.zeros(2, 5, 8)).shape == (2, 5, 8)  # 5 fits


def test_config_errors():
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=30, h=4)
    with pytest.raises(ValueError, match="activation"):
        TransformerConfig(activation="tanh")
    with pytest.raises(ValueError, match="share_embeddings"):
        TransformerConfig(src_vocab=5, tgt_vocab=6, share_embeddings=True)


TINY = dict(src_vocab=10, tgt_vocab=10, N=1, d_model=16, d_ff=32, h=4)


@pytest.mark.parametrize(
    "override, error, match",
    [
        (dict(N=0), ValueError, "N must be a positive int, got 0"),  # used to build 0 layers
        (dict(N=-2), ValueError, "N must be a positive int, got -2"),
        (dict(N=1.5), TypeError, "N must be a positive int"),
        (dict(h=0), ValueError, "h must be a positive int, got 0"),  # used to divide by zero
        (dict(d_model=15, h=3), ValueError, "d_model must be even for the sinusoidal"),
        (dict(d_model=18, h=4), ValueError, "divisible"),
        (dict(d_model=0), ValueError, "d_model must be a positive int"),
        (dict(d_ff=0), ValueError, "d_ff must be a positive int"),
        (dict(src_vocab=0), ValueError, "src_vocab must be a positive int"),
        (dict(max_len=0), ValueError, "max_len must be a positive int"),
        (dict(dropout=1.0), ValueError, "dropout must be a number in"),
        (dict(dropout=-0.1), ValueError, "dropout"),
        (dict(positional="rope"), ValueError, "positional must be one of"),
        (dict(n_token_types=-1), ValueError, "n_token_types"),
    ],
)
def test_make_model_rejects_impossible_sizes(override, error, match):
    with pytest.raises(error, match=match):
        make_model(**{**TINY, **override})


def test_make_model_odd_width_works_with_learned_positions():
    model = make_model(**{**TINY, "d_model": 15, "h": 3, "positional": "learned"})
    assert len(model.encoder.layers) == 1
    with pytest.raises(ValueError, match="even"):
        PositionalEncoding(15, 0.0)


def test_make_model_shapes_and_options():
    model = make_model(src_vocab=11, tgt_vocab=13, N=2, d_model=D, d_ff=FF, h=H, dropout=0.0)
    src, tgt = torch.randint(1, 11, (3, 7)), torch.randint(1, 13, (3, 5))
    out = model(src, tgt, (src != 0).unsqueeze(-2), subsequent_mask(5))
    assert out.shape == (3, 5, D)
    assert model.generator(out).shape == (3, 5, 13)
    tied = make_model(
        src_vocab=11,
        tgt_vocab=11,
        N=1,
        d_model=D,
        d_ff=FF,
        h=H,
        share_embeddings=True,
        tie_generator=True,
        activation="gelu",
        positional="learned",
    )
    assert (
        tied.generator.proj.weight is tied.tgt_embed[0].lut.weight is tied.src_embed[0].lut.weight
    )
    untied = make_model(
        src_vocab=11, tgt_vocab=11, N=1, d_model=D, d_ff=FF, h=H, positional="learned"
    )
    assert count_parameters(untied) - count_parameters(tied) == 2 * 11 * D


def test_base_model_parameter_count():
    # the paper's base model with a shared 37000-token vocabulary and all three matrices tied
    cfg = TransformerConfig(share_embeddings=True, tie_generator=True)
    assert count_parameters(cfg) == 63_119_496


def _pair(cls_ours, cls_torch, decoder):
    torch.manual_seed(0)
    theirs = cls_torch(D, H, FF, dropout=0.0, activation="relu", batch_first=True, norm_first=False)
    attn, ff = MultiHeadedAttention(H, D, 0.0), PositionwiseFeedForward(D, FF, 0.0)
    if decoder:
        ours = DecoderLayer(D, attn, MultiHeadedAttention(H, D, 0.0), ff, 0.0)
    else:
        ours = EncoderLayer(D, attn, ff, 0.0)
    copy_from_torch_layer(ours, theirs)
    return ours.eval(), theirs.eval()


def test_encoder_layer_equals_torch():
    ours, theirs = _pair(EncoderLayer, nn.TransformerEncoderLayer, False)
    x = torch.randn(2, 6, D)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])  # (batch, seq): True = padding
    with torch.no_grad():
        ref = theirs(x, src_key_padding_mask=pad)
        got = ours(x, (~pad).unsqueeze(1))
    # PyTorch's fast path returns zeros at padded positions; compare the real tokens
    assert torch.allclose(got[~pad], ref[~pad], atol=1e-5)


def test_decoder_layer_equals_torch():
    ours, theirs = _pair(DecoderLayer, nn.TransformerDecoderLayer, True)
    x, memory = torch.randn(2, 5, D), torch.randn(2, 7, D)
    causal = ~subsequent_mask(5)[0]  # PyTorch: True = may NOT attend
    with torch.no_grad():
        ref = theirs(x, memory, tgt_mask=causal)
        got = ours(x, memory, None, subsequent_mask(5))
    assert torch.allclose(got, ref, atol=1e-5)


def test_copy_from_wrong_layer_type():
    ours, _ = _pair(EncoderLayer, nn.TransformerEncoderLayer, False)
    with pytest.raises(TypeError, match="do not match"):
        copy_from_torch_layer(ours, nn.TransformerDecoderLayer(D, H, FF))


def test_torch_reference_model_runs_with_course_masks():
    cfg = TransformerConfig(src_vocab=11, tgt_vocab=11, N=1, d_model=D, d_ff=FF, h=H, dropout=0.0)
    model = TorchTransformerModel(cfg)
    src = torch.tensor([[2, 3, 4, 0]])
    tgt = torch.tensor([[1, 5, 6, 0]])
    tgt_mask = (tgt != 0).unsqueeze(-2) & subsequent_mask(4)
    assert model(src, tgt, (src != 0).unsqueeze(-2), tgt_mask).shape == (1, 4, D)


def test_embeddings_scaled_by_sqrt_d_model():
    """Embeddings(x) = lut(x) * sqrt(d_model) (section 3.4 of the paper), in make_model too."""
    torch.manual_seed(0)
    emb = Embeddings(16, 10)
    x = torch.tensor([[1, 2, 3], [4, 0, 9]])
    assert torch.equal(emb(x), emb.lut.weight[x] * 4.0)  # sqrt(16) = 4
    model = make_model(**{**TINY, "d_model": 36, "h": 4, "dropout": 0.0})
    for embed in (model.src_embed, model.tgt_embed):
        lut = embed[0]
        assert isinstance(lut, Embeddings)
        assert torch.allclose(lut(x), lut.lut.weight[x] * 6.0)  # sqrt(36) = 6
        # with the positional encoding after it: lut * sqrt(d) + PE
        pe = embed[1].pe[0, :3]
        assert torch.allclose(embed(x), lut.lut.weight[x] * 6.0 + pe, atol=1e-6)
