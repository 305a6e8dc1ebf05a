"""Unit tests for course_utils.one_hot."""

import pytest
import torch

from course_utils.one_hot import human_bytes, one_hot, one_hot_bytes


def test_one_hot_matches_torch_and_picks_rows():
    ids = torch.tensor([[3, 0], [1, 3]])
    oh = one_hot(ids, 5)
    assert oh.shape == (2, 2, 5) and oh.dtype == torch.float32
    assert torch.equal(oh, torch.nn.functional.one_hot(ids, 5).float())
    q = torch.randn(5, 4)
    assert torch.allclose(oh @ q, q[ids])
    assert one_hot([], 3).shape == (0, 3)


def test_gradient_of_one_hot_times_q_touches_only_the_rows_of_the_ids():
    """d(one_hot(ids) @ Q)/dQ is zero outside the rows of ``ids``, and equals nn.Embedding's."""
    torch.manual_seed(0)
    q = torch.randn(6, 3, requires_grad=True)
    ids = torch.tensor([4, 1, 4])  # id 4 twice: its row gets both gradients
    upstream = torch.randn(3, 3)
    (one_hot(ids, 6) @ q).backward(upstream)
    assert torch.equal(q.grad[[0, 2, 3, 5]], torch.zeros(4, 3))
    assert torch.allclose(q.grad[4], upstream[0] + upstream[2])
    assert torch.allclose(q.grad[1], upstream[1])
    emb = torch.nn.Embedding.from_pretrained(q.detach().clone(), freeze=False)
    emb(ids).backward(upstream)
    assert torch.allclose(emb.weight.grad, q.grad)


def test_memory():
    assert one_hot_bytes(10, 100) == 4000
    assert one_hot_bytes(10, 100, torch.float16) == 2000
    assert human_bytes(1536) == "1.50 KiB" and human_bytes(12) == "12 B"


def test_bad_input():
    with pytest.raises(TypeError, match="integers"):
        one_hot(torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="vocab_size"):
        one_hot([0], 0)
    with pytest.raises(TypeError, match="integers"):
        one_hot(torch.tensor([True, False]), 3)
    with pytest.raises(ValueError, match=r"got range \[-1, 0\]"):
        one_hot([-1, 0], 3)
    assert one_hot((), 4).shape == (0, 4)
    with pytest.raises(ValueError, match="n_tokens"):
        one_hot_bytes(-1, 3)
