"""course_utils.tools.memory: the peak bytes of the tensors a call creates."""

import pytest
import torch

from course_utils.attention import attention, sdpa_reference
from course_utils.tools.memory import peak_tensor_memory


def test_peak_tensor_memory_grows_with_n_squared_for_hand_attention():
    q = torch.randn(1, 1, 256, 16)
    out, peak = peak_tensor_memory(lambda: attention(q, q, q)[0])
    assert out.shape == (1, 1, 256, 16)
    assert peak >= 2 * 256 * 256 * 4  # at least scores and weights, float32
    _, fused = peak_tensor_memory(lambda: sdpa_reference(q, q, q))
    assert fused < peak / 4
    with pytest.raises(TypeError, match="callable"):
        peak_tensor_memory(42)


def test_peak_counts_what_the_call_holds_at_once():
    n = 1000
    _, peak = peak_tensor_memory(lambda: torch.zeros(n) + torch.ones(n))
    assert peak == 3 * 4 * n  # zeros, ones and their sum, float32
    x = torch.zeros(n)  # created before the call: not counted
    _, peak = peak_tensor_memory(lambda: x * 2)
    assert peak == 4 * n  # only the product
    _, peak = peak_tensor_memory(lambda: x.view(10, 100))
    assert peak == 4 * n  # a view made in the call counts its (old) storage, as documented
