"""course_utils.transformer: shapes, masks, PE, and equivalence with PyTorch's layers."""

import math

import pytest
import torch
from torch import nn

from course_utils.attention import MultiHeadedAttention, causal_mask
from course_utils.model_size import count_parameters
from course_utils.transformer import (
    Decoder,
    DecoderLayer,
    Embeddings,
    Encoder,
    EncoderLayer,
    Generator,
    LearnedPositionalEmbedding,
    PositionalEncoding,
    PositionwiseFeedForward,
    SublayerConnection,
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


# ------------------------------------------- the whole model against nn.Transformer


def _randomize(module: nn.Module, seed: int) -> None:
    """Every LayerNorm and bias away from its initial 1 or 0, so a swapped or skipped one shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1:
                base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
                p.copy_(base + 0.3 * torch.randn(p.shape, generator=g))


@torch.no_grad()
def _course_copy_of(theirs: TorchTransformerModel, cfg: TransformerConfig):
    """make_model(cfg) holding the weights of the reference model, layer by layer."""
    ours = make_model(cfg).eval()
    ref = theirs.transformer
    for mine, torch_layer in zip(ours.encoder.layers, ref.encoder.layers, strict=True):
        copy_from_torch_layer(mine, torch_layer)
    for mine, torch_layer in zip(ours.decoder.layers, ref.decoder.layers, strict=True):
        copy_from_torch_layer(mine, torch_layer)
    if cfg.norm_first:  # pre-norm: one final LayerNorm after each stack, as in nn.Transformer
        ours.encoder.norm.load_state_dict(ref.encoder.norm.state_dict())
        ours.decoder.norm.load_state_dict(ref.decoder.norm.state_dict())
    else:  # post-norm (the paper): nn.Transformer's extra final LayerNorm is not in the model
        ref.encoder.norm = None
        ref.decoder.norm = None
    ours.src_embed.load_state_dict(theirs.src_embed.state_dict())
    ours.tgt_embed.load_state_dict(theirs.tgt_embed.state_dict())
    ours.generator.load_state_dict(theirs.generator.state_dict())
    return ours


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
@pytest.mark.filterwarnings("ignore:.*nested.tensor:UserWarning")  # PyTorch's fast path
def test_whole_model_equals_torch_transformer(norm_first, positional):
    """make_model's encoder-decoder = nn.Transformer with the same weights, padded batches,
    a non-default LayerNorm eps and GELU: every mask, norm and sublayer reaches its place."""
    cfg = TransformerConfig(
        src_vocab=17,
        tgt_vocab=19,
        N=2,
        d_model=D,
        d_ff=FF,
        h=H,
        dropout=0.0,
        activation="gelu",
        positional=positional,
        max_len=16,
        norm_first=norm_first,
        layer_norm_eps=0.5,
    )
    torch.manual_seed(0)
    theirs = TorchTransformerModel(cfg).eval()
    _randomize(theirs, seed=1)
    ours = _course_copy_of(theirs, cfg)
    src = torch.tensor([[3, 4, 5, 6, 7, 8], [9, 10, 11, 0, 0, 0]])  # 0 = padding
    tgt = torch.tensor([[1, 12, 13, 14, 15], [1, 16, 0, 0, 0]])
    src_mask = (src != 0).unsqueeze(-2)  # (batch, 1, src_len)
    tgt_mask = (tgt != 0).unsqueeze(-2) & subsequent_mask(5)  # (batch, tgt_len, tgt_len)
    with torch.no_grad():
        ref = theirs(src, tgt, src_mask, tgt_mask)  # (batch, tgt_len, d_model)
        got = ours(src, tgt, src_mask, tgt_mask)
        # every target position, padded ones included (their queries see the same keys)
        assert torch.allclose(got, ref, atol=1e-5)
        # the masks matter: without them the outputs move
        assert not torch.allclose(ours(src, tgt, src_mask, subsequent_mask(5)), ref, atol=1e-3)
        no_src_mask = torch.ones_like(src_mask)
        assert not torch.allclose(ours(src, tgt, no_src_mask, tgt_mask), ref, atol=1e-3)


def test_generator_is_log_softmax_over_the_vocabulary():
    torch.manual_seed(0)
    gen = Generator(D, 7)
    x = torch.randn(2, 3, D)
    logits = x @ gen.proj.weight.T + gen.proj.bias  # (2, 3, 7)
    expected = logits - logits.logsumexp(dim=2, keepdim=True)
    assert torch.allclose(gen(x), expected, atol=1e-6)


def test_sublayer_connection_post_and_pre_norm_by_hand():
    """Post-norm LayerNorm(x + f(x)) and pre-norm x + f(LayerNorm(x)), eps included."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8)
    f = nn.Linear(8, 8)

    def layer_norm(t, norm):
        mean, var = t.mean(-1, keepdim=True), t.var(-1, unbiased=False, keepdim=True)
        return (t - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias

    defaults = SublayerConnection(8, 0.0)
    assert defaults.norm_first is False and defaults.norm.eps == 1e-5
    for norm_first in (False, True):
        sub = SublayerConnection(8, 0.0, norm_first=norm_first, eps=0.25)
        _randomize(sub, seed=2)
        assert sub.norm.eps == 0.25
        with torch.no_grad():
            want = x + f(layer_norm(x, sub.norm)) if norm_first else layer_norm(x + f(x), sub.norm)
            assert torch.allclose(sub(x, f), want, atol=1e-5)


def test_learned_positions_add_one_vector_per_position():
    torch.manual_seed(0)
    pos = LearnedPositionalEmbedding(8, 0.0, max_len=6)
    x = torch.randn(2, 4, 8)
    assert torch.equal(pos(x), x + pos.pe.weight[:4])
    assert LearnedPositionalEmbedding(8, 0.0).pe.num_embeddings == 512  # BERT's default
    assert PositionalEncoding(8, 0.0).pe.size(1) == 5000  # the default max_len
    assert "pe" not in PositionalEncoding(8, 0.0, 10).state_dict()  # a constant, not a weight


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_make_model_passes_max_len_and_overrides(positional):
    cfg = TransformerConfig(**TINY, max_len=7, positional=positional)
    model = make_model(cfg, N=2)  # overrides change N and keep the rest of cfg
    assert len(model.encoder.layers) == len(model.decoder.layers) == 2
    assert model.src_embed[0].lut.embedding_dim == 16
    for embed in (model.src_embed, model.tgt_embed):
        with pytest.raises(ValueError, match="exceeds max_len 7"):
            embed(torch.ones(1, 8, dtype=torch.long))
    layer = model.decoder.layers[0]
    assert model.encoder.layers[0].size == layer.size == 16


def test_make_model_defaults_and_xavier_init():
    assert PositionwiseFeedForward(8, 16).dropout.p == 0.1
    ff, attn = PositionwiseFeedForward(8, 16), MultiHeadedAttention(2, 8)
    for stack, layer in (
        (Encoder, EncoderLayer(8, attn, ff, 0.0)),
        (Decoder, DecoderLayer(8, attn, attn, ff, 0.0)),
    ):
        assert isinstance(stack(layer, 1).norm, nn.Identity)  # post-norm by default
        assert stack(layer, 1, norm_first=True).norm.eps == 1e-5  # PyTorch's eps by default
    torch.manual_seed(0)
    model = make_model(**TINY)
    assert isinstance(model.encoder.norm, nn.Identity)  # post-norm: no final LayerNorm
    pre = make_model(**TINY, norm_first=True, layer_norm_eps=0.5)
    for norm in (pre.encoder.norm, pre.decoder.norm):
        assert isinstance(norm, nn.LayerNorm) and norm.normalized_shape == (16,) and norm.eps == 0.5
    # every matrix (and embedding table) Xavier-uniform: |w| <= sqrt(6 / (fan_in + fan_out)),
    # filling most of that range; PyTorch's own defaults (N(0, 1), U(+-1/sqrt(fan_in))) do not
    for name, p in model.named_parameters():
        if p.dim() > 1:
            bound = math.sqrt(6 / (p.size(0) + p.size(1)))
            assert p.abs().max() <= bound + 1e-6, name
            assert p.abs().max() > 0.8 * bound, name


def test_copy_from_a_torch_layer_without_biases():
    """PyTorch's bias=False layers copy as zero biases: the course's layer then computes the same."""
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True, bias=False)
    ours = EncoderLayer(
        D, MultiHeadedAttention(H, D, 0.0), PositionwiseFeedForward(D, FF, 0.0), 0.0
    )
    _randomize(ours, seed=3)  # biases that the copy must clear
    copy_from_torch_layer(ours, theirs)
    x = torch.randn(2, 6, D)
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x, None), theirs.eval()(x), atol=1e-5)
