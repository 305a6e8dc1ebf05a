"""course_utils.attention: scaled dot-product and multi-head attention, masks, backward pass."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.attention import (
    AttentionWithManualBackward,
    MultiHeadedAttention,
    attention,
    attention_backward,
    causal_mask,
    padding_mask,
    sdpa_reference,
    to_torch_mha,
)


def qkv(*shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=dtype) for _ in range(3)]


def test_attention_matches_sdpa_without_mask():
    q, k, v = qkv(2, 3, 5, 8)
    out, p = attention(q, k, v)
    assert out.shape == (2, 3, 5, 8) and p.shape == (2, 3, 5, 5)
    assert torch.allclose(p.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v), atol=1e-12)


@pytest.mark.parametrize("mask", [causal_mask(5), padding_mask([5, 2]).unsqueeze(1)])
def test_attention_matches_sdpa_with_mask(mask):
    q, k, v = qkv(2, 3, 5, 8)
    out, p = attention(q, k, v, mask=mask)
    assert torch.allclose(out, sdpa_reference(q, k, v, mask), atol=1e-12)
    assert torch.all(p.masked_select(~mask.expand_as(p)) == 0)


def test_integer_mask_and_different_key_length():
    q = torch.randn(1, 2, 4)
    k, v = torch.randn(1, 6, 4), torch.randn(1, 6, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0, 1]])  # 1 = may attend
    out, p = attention(q, k, v, mask=mask)
    assert out.shape == (1, 2, 3) and p.shape == (1, 2, 6)
    assert torch.all(p[..., 3:5] == 0)


def test_fully_masked_rows_give_zero_not_nan_and_finite_gradients():
    q, k, v = (t.requires_grad_() for t in qkv(1, 3, 4))
    mask = torch.tensor([[1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=torch.bool)
    out, p = attention(q, k, v, mask=mask)
    assert not torch.isnan(out).any() and not torch.isnan(p).any()
    assert torch.all(p[0, 1] == 0) and torch.all(out[0, 1] == 0)
    assert torch.allclose(p[0, 0].sum(), torch.tensor(1.0, dtype=torch.float64))
    out.sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()


def test_nan_input_is_not_hidden():
    q, k, v = qkv(1, 3, 4)
    q[0, 0, 0] = float("nan")
    out, _ = attention(q, k, v, mask=causal_mask(3))
    assert torch.isnan(out[0, 0]).all()


def test_causal_mask_blocks_the_future():
    torch.manual_seed(0)
    mha = MultiHeadedAttention(2, 8, dropout=0.0).eval()
    x = torch.randn(1, 6, 8)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 8)  # change only the last two tokens
    mask = causal_mask(6)
    with torch.no_grad():
        a, b = mha(x, x, x, mask=mask), mha(y, y, y, mask=mask)
    assert torch.allclose(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_masks():
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]
    m = padding_mask([2, 0, 3], max_len=4)
    assert m.shape == (3, 1, 4) and m.dtype == torch.bool
    assert m[:, 0].tolist() == [[True, True, False, False], [False] * 4, [True, True, True, False]]
    assert padding_mask(torch.tensor([1, 2])).shape == (2, 1, 2)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_causal_mask_bad_size(bad):
    with pytest.raises((TypeError, ValueError), match="positive int"):
        causal_mask(bad)


def test_padding_mask_bad_input():
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        padding_mask([1.5, 2.0])
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        padding_mask([[1, 2]])
    with pytest.raises(ValueError, match=">= 0"):
        padding_mask([2, -1])
    with pytest.raises(ValueError, match="shorter than the longest"):
        padding_mask([2, 5], max_len=3)


def test_attention_bad_input():
    q, k, v = qkv(2, 5, 8)
    with pytest.raises(ValueError, match=r"last dim d_k.*\(2, 5, 8\).*\(2, 5, 7\)"):
        attention(q, k[..., :7], v)
    with pytest.raises(ValueError, match="same sequence length"):
        attention(q, k, v[:, :4])
    with pytest.raises(ValueError, match="at least 2 dims"):
        attention(q[0, 0], k, v)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\) cannot broadcast"):
        attention(q, k, v, mask=causal_mask(4))
    with pytest.raises(TypeError, match="query must be a torch.Tensor, got list"):
        attention(q.tolist(), k, v)
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        attention(q, k, v, mask=[[1]])


def test_multi_head_shapes_and_attn():
    mha = MultiHeadedAttention(h=4, d_model=16)
    assert len(mha.linears) == 4 and mha.h == 4 and mha.d_k == 4
    x = torch.randn(3, 7, 16)
    mem = torch.randn(3, 9, 16)
    assert mha(x, x, x).shape == (3, 7, 16)
    assert mha.attn.shape == (3, 4, 7, 7)
    assert mha(x, mem, mem, mask=padding_mask([9, 5, 1])).shape == (3, 7, 16)  # 3-D mask
    assert mha.attn.shape == (3, 4, 7, 9)
    assert torch.all(mha.attn[2, :, :, 1:] == 0)


def test_multi_head_bad_input():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadedAttention(h=3, d_model=16)
    mha = MultiHeadedAttention(h=2, d_model=8)
    with pytest.raises(ValueError, match=r"\(batch, seq_q, 8\)"):
        mha(torch.randn(5, 8), torch.randn(5, 8), torch.randn(5, 8))
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match="cannot broadcast"):
        mha(x, x, x, mask=torch.ones(2, 4, 4, dtype=torch.bool))


@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_matches_torch_mha(bias):
    torch.manual_seed(0)
    mha = MultiHeadedAttention(4, 16, dropout=0.0, bias=bias).double().eval()
    ref = to_torch_mha(mha)
    x = torch.randn(2, 6, 16, dtype=torch.float64)
    keep = padding_mask([6, 4])  # (2, 1, 6)
    out, weights = ref(x, x, x, key_padding_mask=~keep.squeeze(1), average_attn_weights=False)
    assert (mha(x, x, x, mask=keep) - out).abs().max() < 1e-12
    assert (mha.attn - weights).abs().max() < 1e-12
    causal = causal_mask(6)
    out, _ = ref(x, x, x, attn_mask=~causal)
    assert (mha(x, x, x, mask=causal) - out).abs().max() < 1e-12


def test_to_torch_mha_bad_input():
    with pytest.raises(TypeError, match="MultiHeadedAttention"):
        to_torch_mha(nn.Linear(2, 2))


def test_dropout_train_vs_eval():
    torch.manual_seed(0)
    mha = MultiHeadedAttention(2, 8, dropout=0.5)
    x = torch.randn(1, 10, 8)
    mha.train()
    mha(x, x, x)
    assert (mha.attn == 0).any()
    mha.eval()
    a = mha(x, x, x)
    assert torch.allclose(mha.attn.sum(-1), torch.ones(1, 2, 10))
    assert torch.equal(a, mha(x, x, x))


def test_backward_by_hand_matches_autograd():
    q, k, v = (t.requires_grad_() for t in qkv(2, 2, 5, 3))
    mask = causal_mask(5)
    out, p = attention(q, k, v, mask=mask)
    g = torch.randn_like(out)
    out.backward(g)
    dq, dk, dv = attention_backward(q.detach(), k.detach(), v.detach(), p.detach(), g)
    for mine, ref in ((dq, q.grad), (dk, k.grad), (dv, v.grad)):
        assert (mine - ref).abs().max() < 1e-12


def test_manual_backward_gradcheck():
    inputs = [t.requires_grad_() for t in qkv(1, 2, 4, 3)]
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 1, 0]], dtype=torch.bool)
    assert torch.autograd.gradcheck(
        lambda a, b, c: AttentionWithManualBackward.apply(a, b, c, mask), inputs
    )
    assert torch.autograd.gradcheck(AttentionWithManualBackward.apply, inputs)


def test_causal_mask_with_past_and_window_matches_its_definition():
    # query i sits at position past + i; it sees key j when j <= past + i and past + i - j < window
    for size, past, window in [
        (1, 0, None),
        (4, 0, None),
        (3, 5, None),
        (4, 2, 3),
        (1, 7, 2),
        (5, 0, 1),
    ]:
        got = causal_mask(size, past, window=window)
        want = torch.tensor(
            [
                [
                    j <= past + i and (window is None or past + i - j < window)
                    for j in range(past + size)
                ]
                for i in range(size)
            ]
        )
        assert torch.equal(got, want), (size, past, window)
    assert torch.equal(causal_mask(3, 4)[:, -3:], causal_mask(3))  # new keys: the usual triangle
    assert causal_mask(3, 4)[:, :4].all()  # every new query sees every cached key


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(size=0), "size"),
        (dict(size=3, past=-1), "past"),
        (dict(size=3, past=1.5), "past"),
        (dict(size=3, window=0), "window"),
        (dict(size=3, window=2.0), "window"),
    ],
)
def test_causal_mask_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        causal_mask(**kwargs)


@pytest.mark.parametrize(
    "q_shape, kv_shape, match",
    [
        (
            (2, 5, 8),
            (4, 5, 8),
            r"key must have shape .* batch = 2 .* got shape \(4, 5, 8\)",
        ),  # 2 sentences merged
        ((4, 5, 8), (2, 5, 8), r"key .* batch = 4"),
        ((2, 5, 8), (2, 5, 6), r"key must have shape \(batch, seq_k, 8\), got shape \(2, 5, 6\)"),
        ((2, 5, 6), (2, 5, 6), r"query must have shape \(batch, seq_q, 8\)"),
        ((5, 8), (5, 8), r"query must have shape"),  # no batch axis
        ((1, 2, 5, 8), (1, 2, 5, 8), r"query must have shape"),
    ],
)
def test_multi_head_rejects_mismatched_inputs(q_shape, kv_shape, match):
    mha = MultiHeadedAttention(h=2, d_model=8)
    with pytest.raises(ValueError, match=match):
        mha(torch.randn(q_shape), torch.randn(kv_shape), torch.randn(kv_shape))


def test_multi_head_rejects_a_value_unlike_the_key():
    mha = MultiHeadedAttention(h=2, d_model=8)
    q = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"value .* seq_k = 7"):
        mha(q, torch.randn(2, 7, 8), torch.randn(2, 6, 8))
    with pytest.raises(ValueError, match=r"value .* batch = 2"):
        mha(q, torch.randn(2, 7, 8), torch.randn(1, 7, 8))
    with pytest.raises(TypeError, match="key must be a torch.Tensor"):
        mha(q, q.tolist(), q)
    assert mha(q, torch.randn(2, 7, 8), torch.randn(2, 7, 8)).shape == (2, 5, 8)  # cross-attention


@pytest.mark.parametrize(
    "h, d_model, error, match",
    [
        (0, 8, ValueError, "h must be a positive int"),
        (-2, 8, ValueError, "h must be"),
        (3, 8, ValueError, "divisible"),
        (2, 0, ValueError, "d_model must be a positive int"),
        (2.0, 8, TypeError, "h must be"),
    ],
)
def test_multi_head_bad_sizes(h, d_model, error, match):
    with pytest.raises(error, match=match):
        MultiHeadedAttention(h=h, d_model=d_model)


@pytest.mark.parametrize("shape_q, shape_k", [((5, 3), (4, 3)), ((2, 5, 3), (2, 4, 3))])
def test_backward_by_hand_for_2d_and_3d_inputs(shape_q, shape_k):
    """dV = P^T dO, dP = dO V^T, dK = dS^T Q / sqrt(d): the transposes are of the last two
    axes, whatever the number of leading axes (seq_q != seq_k shows a wrong one)."""
    g = torch.Generator().manual_seed(0)
    q = torch.randn(*shape_q, generator=g, dtype=torch.float64, requires_grad=True)
    k, v = (
        torch.randn(*shape_k, generator=g, dtype=torch.float64, requires_grad=True)
        for _ in range(2)
    )
    out, p = attention(q, k, v)
    grad_out = torch.randn(out.shape, generator=g, dtype=torch.float64)
    out.backward(grad_out)
    mine = attention_backward(q.detach(), k.detach(), v.detach(), p.detach(), grad_out)
    for got, ref in zip(mine, (q.grad, k.grad, v.grad)):
        torch.testing.assert_close(got, ref)


def test_manual_backward_applies_the_mask():
    q, k, v = qkv(1, 4, 3)
    mask = causal_mask(4)
    out = AttentionWithManualBackward.apply(q, k, v, mask)
    torch.testing.assert_close(out, attention(q, k, v, mask=mask)[0])
    assert not torch.allclose(out, attention(q, k, v)[0])


def test_fully_masked_row_in_a_batched_mask():
    """A (batch, seq_q, seq_k) mask: the row that allows no key gives zero weights, the other
    rows of the same batch element still sum to 1."""
    q, k, v = qkv(2, 3, 4)
    mask = torch.ones(2, 3, 3, dtype=torch.bool)
    mask[0, 1] = False  # batch 0, query 1: no key at all
    mask[1, :, 2] = False  # batch 1: key 2 hidden from every query
    out, p = attention(q, k, v, mask=mask)
    assert torch.all(p[0, 1] == 0) and torch.all(out[0, 1] == 0)
    sums = p.sum(-1)
    torch.testing.assert_close(sums[0, [0, 2]], torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(sums[1], torch.ones(3, dtype=torch.float64))
    assert torch.all(p[1, :, 2] == 0)


def test_multi_head_with_a_full_3d_mask_and_its_defaults():
    """A (batch, seq_q, seq_k) mask is the same for every head: compare head by head."""
    torch.manual_seed(0)
    mha = MultiHeadedAttention(2, 8, dropout=0.0).eval()
    assert mha.attn is None  # nothing attended yet
    assert all(lin.bias is not None for lin in mha.linears)  # biases by default
    assert all(lin.bias is None for lin in MultiHeadedAttention(2, 8, bias=False).linears)
    x = torch.randn(3, 5, 8)
    mask = causal_mask(5).expand(3, 5, 5).clone()
    mask[1, :, 3:] = False  # batch 1 may not look at its last two positions
    mask[1, :, 0] = True
    out = mha(x, x, x, mask)
    q, k, v = (lin(x).view(3, 5, 2, 4).transpose(1, 2) for lin, x in zip(mha.linears, (x, x, x)))
    ref, _ = attention(q, k, v, mask=mask[:, None])  # (batch, 1, seq_q, seq_k)
    ref = mha.linears[3](ref.transpose(1, 2).reshape(3, 5, 8))
    torch.testing.assert_close(out, ref)


def test_padding_mask_of_no_sequence_and_sdpa_reference_without_mask():
    none = torch.zeros(0, dtype=torch.long)  # a batch of no sequence
    assert padding_mask(none).shape == (0, 1, 0)
    assert padding_mask(none, max_len=3).shape == (0, 1, 3)
    q, k, v = qkv(2, 4, 3)
    torch.testing.assert_close(sdpa_reference(q, k, v), attention(q, k, v)[0])


def test_to_torch_mha_keeps_dropout_and_bias_settings():
    assert to_torch_mha(MultiHeadedAttention(2, 8, dropout=0.3)).dropout == 0.3
    ref = to_torch_mha(MultiHeadedAttention(2, 8, bias=False))
    assert ref.in_proj_bias is None and ref.out_proj.bias is None
