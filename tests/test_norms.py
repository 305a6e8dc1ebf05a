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
