import math

import pytest
import torch

from course_utils.alibi import alibi_bias, alibi_slopes
from course_utils.rope import RotaryEmbedding, apply_rope, rope_cos_sin, rope_inv_freq


def _rotate(x, pos, rotary_dim=None, interleaved=False):
    rotary_dim = rotary_dim or x.size(-1)
    cos, sin = rope_cos_sin(torch.tensor(pos), rope_inv_freq(rotary_dim))
    return apply_rope(x, cos, sin, interleaved=interleaved)


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("rotary_dim", [16, 8])
def test_scores_depend_only_on_relative_position(interleaved, rotary_dim):
    torch.manual_seed(0)
    q, k = torch.randn(1, 16), torch.randn(1, 16)
    base = None
    for shift in (0, 5, 100):
        qm = _rotate(q, [7 + shift], rotary_dim, interleaved)
        kn = _rotate(k, [3 + shift], rotary_dim, interleaved)
        score = (qm * kn).sum()
        base = score if base is None else base
        torch.testing.assert_close(score, base, rtol=1e-4, atol=1e-4)


def test_rotation_preserves_norm_and_position_zero_is_identity():
    x = torch.randn(5, 32)
    y = _rotate(x, list(range(5)))
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(_rotate(x[:1], [0]), x[:1])


def test_partial_rope_leaves_the_second_half_alone():
    x = torch.randn(2, 4, 6, 128)  # (batch, heads, seq, head_dim)
    y = _rotate(x, list(range(6)), rotary_dim=64, interleaved=True)
    torch.testing.assert_close(y[..., 64:], x[..., 64:])
    assert not torch.allclose(y[..., 1:, :64], x[..., 1:, :64])


def test_matches_transformers_llama_rope():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    torch.manual_seed(0)
    q, k = torch.randn(2, 4, 9, 16), torch.randn(2, 4, 9, 16)
    cos, sin = RotaryEmbedding(16)(torch.arange(9))
    cos2, sin2 = torch.cat([cos, cos], -1)[None], torch.cat([sin, sin], -1)[None]  # (1, seq, d)
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos2, sin2)
    torch.testing.assert_close(apply_rope(q, cos, sin), q_ref)
    torch.testing.assert_close(apply_rope(k, cos, sin), k_ref)


def test_inv_freq_formula():
    f = rope_inv_freq(8, theta=10000.0)
    torch.testing.assert_close(f, torch.tensor([1.0, 10000**-0.25, 10000**-0.5, 10000**-0.75]))


def test_alibi_slopes_and_bias():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0 ** -(i + 1) for i in range(8)]))
    s40 = alibi_slopes(40)
    assert s40.shape == (40,) and math.isclose(s40[32].item(), 2 ** (-8 / 64), rel_tol=1e-6)
    b = alibi_bias(2, 4)
    assert b.shape == (2, 4, 4)
    torch.testing.assert_close(b[0, 3], torch.tensor([-3.0, -2.0, -1.0, 0.0]) * 2**-4)
    torch.testing.assert_close(alibi_bias(2, 1, 4)[:, 0], b[:, 3])  # last query row, with a cache


def test_bad_input():
    with pytest.raises(ValueError, match="positive even int"):
        rope_inv_freq(7)
    cos, sin = rope_cos_sin(torch.arange(3), rope_inv_freq(32))
    with pytest.raises(ValueError, match="exceeds the head dimension"):
        apply_rope(torch.randn(3, 16), cos, sin)
    with pytest.raises(ValueError, match="seq length"):
        apply_rope(torch.randn(4, 32), cos, sin)
    with pytest.raises(ValueError, match="positive int"):
        alibi_slopes(0)
    with pytest.raises(TypeError, match="n_heads must be a positive int, got 2.0"):
        alibi_slopes(2.0)


def test_alibi_slopes_when_heads_are_not_a_power_of_two():
    """6 heads: the 4-head slopes 2^-2, 2^-4, 2^-6, 2^-8, then every other slope of the 8-head
    set (2^-1, 2^-3, ...), as many as are missing: 2^-1 and 2^-3 (Press et al., appendix)."""
    want = [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    torch.testing.assert_close(alibi_slopes(6), torch.tensor(want))
    s40 = alibi_slopes(40)  # 32 slopes, then 2^(-8/64 (2k + 1)) for k = 0..7
    extra = [2 ** (-8 / 64 * (2 * k + 1)) for k in range(8)]
    torch.testing.assert_close(s40[32:], torch.tensor(extra))
    assert alibi_slopes(6).dtype == torch.float32


def _rope_by_hand(x, positions, theta, interleaved):
    """Each pair (a, b) of coordinates rotated by position * theta^(-2i/d), as a complex
    number (a + ib) e^(i angle). Pairs: (2i, 2i+1) interleaved, (i, i + d/2) otherwise."""
    d = x.size(-1)
    out = x.clone().double()
    for s, pos in enumerate(positions):
        for i in range(d // 2):
            a_idx, b_idx = (2 * i, 2 * i + 1) if interleaved else (i, i + d // 2)
            angle = pos * theta ** (-2 * i / d)
            z = complex(x[..., s, a_idx].item(), x[..., s, b_idx].item()) * complex(
                math.cos(angle), math.sin(angle)
            )
            out[..., s, a_idx], out[..., s, b_idx] = z.real, z.imag
    return out.float()


@pytest.mark.parametrize("interleaved", [False, True])
def test_rope_against_complex_rotation_by_hand(interleaved):
    torch.manual_seed(0)
    x = torch.randn(4, 8)  # (seq, head_dim)
    positions = [0, 1, 5, 17]
    for theta, rope in ((10000.0, RotaryEmbedding(8)), (500.0, RotaryEmbedding(8, theta=500.0))):
        cos, sin = rope(torch.tensor(positions))
        got = apply_rope(x, cos, sin, interleaved=interleaved)
        torch.testing.assert_close(got, _rope_by_hand(x, positions, theta, interleaved))
    # the default theta is 10,000, in the function and in the module
    assert torch.equal(rope_inv_freq(8), rope_inv_freq(8, theta=10000.0))  # bit for bit
    assert RotaryEmbedding(8).theta == 10000.0


def test_rope_with_per_sequence_positions_and_dtype():
    """cos/sin (batch, seq, d/2) from positions (batch, seq): each row rotated by its own
    positions; a bfloat16 input comes back in bfloat16."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8)  # (batch, seq, head_dim)
    positions = torch.tensor([[0, 1, 2], [7, 8, 9]])
    cos, sin = RotaryEmbedding(8)(positions)
    assert cos.shape == (2, 3, 4)
    got = apply_rope(x, cos, sin)
    for b in range(2):
        c, s = RotaryEmbedding(8)(positions[b])
        torch.testing.assert_close(got[b], apply_rope(x[b], c, s))
    y = apply_rope(x.to(torch.bfloat16), cos, sin)
    assert y.dtype == torch.bfloat16
    partial = apply_rope(torch.randn(3, 12).to(torch.bfloat16), cos[0, :, :2], sin[0, :, :2])
    assert partial.dtype == torch.bfloat16 and partial.shape == (3, 12)


def test_smallest_sizes_are_accepted_and_the_next_ones_down_rejected():
    torch.testing.assert_close(rope_inv_freq(2), torch.tensor([1.0]))  # one pair, frequency 1
    torch.testing.assert_close(alibi_slopes(1), torch.tensor([2.0**-8]))  # one head
    for bad in (0, -2, 2.0, 3):
        with pytest.raises(ValueError, match="rotary_dim must be a positive even int"):
            rope_inv_freq(bad)
    with pytest.raises(ValueError, match="seq_q"):
        alibi_bias(2, 5, 4)
    assert alibi_bias(2, 4, 4).shape == (2, 4, 4)


def _complex_rope(x, positions, rotary_dim, theta, interleaved):
    """RoPE as complex multiplication, written independently: each pair (a, b) of the first
    rotary_dim coordinates is the number a + ib, turned by position * theta^(-2i/rotary_dim)."""
    half = rotary_dim // 2
    freqs = torch.tensor([theta ** (-2 * i / rotary_dim) for i in range(half)], dtype=torch.float64)
    turn = torch.polar(
        torch.ones(len(positions), half, dtype=torch.float64), positions[:, None] * freqs
    )
    x = x.double()
    if interleaved:  # pairs (2i, 2i+1)
        z = torch.complex(x[..., 0:rotary_dim:2], x[..., 1:rotary_dim:2]) * turn
        rotated = torch.stack((z.real, z.imag), dim=-1).flatten(-2)
    else:  # pairs (i, i + rotary_dim/2)
        z = torch.complex(x[..., :half], x[..., half:rotary_dim]) * turn
        rotated = torch.cat((z.real, z.imag), dim=-1)
    return torch.cat((rotated, x[..., rotary_dim:]), dim=-1)


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("theta", [10000.0, 500000.0])
def test_apply_rope_against_complex_multiplication(interleaved, theta):
    x = torch.randn(2, 3, 5, 10, generator=torch.Generator().manual_seed(0))  # (b, h, seq, d)
    positions = torch.arange(3, 8, dtype=torch.float64)  # an offset: positions 3..7
    cos, sin = RotaryEmbedding(8, theta)(positions)  # rotary_dim 8 of head_dim 10
    got = apply_rope(x, cos, sin, interleaved=interleaved)
    want = _complex_rope(x, positions, 8, theta, interleaved)
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=1e-5)
    assert torch.equal(got[..., 8:], x[..., 8:])  # the last two coordinates pass through


def test_default_theta_is_ten_thousand():
    i = torch.arange(4)
    want = 1.0 / 10000.0 ** (2 * i / 8)
    torch.testing.assert_close(rope_inv_freq(8), want.float())
    cos, _ = RotaryEmbedding(8)(torch.tensor([1.0]))
    torch.testing.assert_close(cos[0], want.float().cos())
