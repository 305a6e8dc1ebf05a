import pytest
import torch
from torch import nn

from course_utils.norms import RMSNorm, layer_norm, rms_norm


def test_layer_norm_matches_torch():
    torch.manual_seed(0)
    x, w, b = torch.randn(3, 5, 16), torch.randn(16), torch.randn(16)
    ref = nn.functional.layer_norm(x, (16,), w, b, eps=1e-5)
    torch.testing.assert_close(layer_norm(x, w, b, 1e-5), ref)


def test_rms_norm_matches_torch_and_transformers():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 32)
    norm = RMSNorm(32, eps=1e-6)
    with torch.no_grad():
        norm.weight.normal_()
    ref = nn.RMSNorm(32, eps=1e-6)
    ref.weight.data.copy_(norm.weight.data)
    torch.testing.assert_close(norm(x), ref(x))
    torch.testing.assert_close(rms_norm(x, norm.weight, 1e-6), ref(x))
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    hf = LlamaRMSNorm(32, eps=1e-6)
    hf.weight.data.copy_(norm.weight.data)
    torch.testing.assert_close(norm(x), hf(x))


def test_rms_norm_has_half_the_parameters_and_no_centring():
    assert sum(p.numel() for p in RMSNorm(64).parameters()) == 64
    assert sum(p.numel() for p in nn.LayerNorm(64).parameters()) == 128
    x = torch.randn(4, 64) + 3.0
    assert RMSNorm(64)(x).mean(-1).abs().min() > 0.5  # the mean survives
    assert nn.LayerNorm(64)(x).mean(-1).abs().max() < 1e-5  # LayerNorm removes it


def test_rms_norm_keeps_dtype():
    norm = RMSNorm(8).to(torch.bfloat16)
    assert norm(torch.randn(2, 8, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_bad_input():
    with pytest.raises(ValueError, match="positive int"):
        RMSNorm(0)
    with pytest.raises(ValueError, match="last dimension 8"):
        RMSNorm(8)(torch.randn(2, 4))


def test_eps_defaults_and_sign_where_the_variance_is_tiny():
    """eps matters when the variance is as small as eps itself: the defaults (LayerNorm 1e-5,
    RMSNorm 1e-6) and the + eps under the square root."""
    torch.manual_seed(0)
    w, b = torch.randn(16), torch.randn(16)
    x = 3e-3 * torch.randn(4, 16)  # variance about 1e-5
    ref = nn.functional.layer_norm(x, (16,), w, b, eps=1e-5)
    torch.testing.assert_close(layer_norm(x, w, b), ref)
    y = 1e-3 * torch.randn(4, 16)  # mean square about 1e-6
    ref = y / torch.sqrt(y.pow(2).mean(-1, keepdim=True) + 1e-6) * w
    torch.testing.assert_close(rms_norm(y, w), ref)
    norm = RMSNorm(16)
    with torch.no_grad():
        norm.weight.copy_(w)
    torch.testing.assert_close(norm(y), ref)
    assert norm.eps == 1e-6
    # a constant vector: zero variance, LayerNorm returns the bias; RMSNorm of zeros is zero
    torch.testing.assert_close(layer_norm(torch.full((2, 16), 7.0), w, b), b.expand(2, 16))
    assert torch.equal(norm(torch.zeros(2, 16)), torch.zeros(2, 16))


def test_one_feature_is_the_smallest_rms_norm():
    norm = RMSNorm(1)
    torch.testing.assert_close(norm(torch.tensor([[3.0], [-2.0]])), torch.tensor([[1.0], [-1.0]]))
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="dim must be a positive int"):
            RMSNorm(bad)
