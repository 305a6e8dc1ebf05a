"""bf16 paths the gpu profile and `make bench` take on CUDA, run here on the CPU.

PyTorch's CPU autocast supports bfloat16, so the code paths (autocast regions,
bf16 weights, fused attention in bf16) are checked without a GPU; each result
is compared with the float32 result of the same computation.
"""

import pytest
import torch
import torch.nn.functional as F

from course_utils.attention import MultiHeadedAttention, attention
from course_utils.gpt import GPTConfig
from course_utils.llama import LlamaConfig
from course_utils.tools.bench import _gpt_loss, _train_step


def cpu_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_attention_and_sdpa_in_bf16_match_float32():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 64, 32) for _ in range(3))  # (batch, heads, seq, d_k)
    ref = F.scaled_dot_product_attention(q, k, v)
    qb, kb, vb = (t.bfloat16() for t in (q, k, v))
    fused = F.scaled_dot_product_attention(qb, kb, vb)
    hand = attention(qb, kb, vb)[0]
    assert fused.dtype == hand.dtype == torch.bfloat16
    torch.testing.assert_close(fused.float(), ref, atol=3e-2, rtol=3e-2)
    torch.testing.assert_close(hand.float(), ref, atol=3e-2, rtol=3e-2)


def test_multi_headed_attention_under_autocast():
    torch.manual_seed(0)
    mha = MultiHeadedAttention(4, 64, dropout=0.0).eval()
    x = torch.randn(2, 16, 64)  # (batch, seq, d_model)
    with torch.no_grad():
        ref = mha(x, x, x)
        with cpu_autocast():
            out = mha(x, x, x)
    assert out.dtype == torch.bfloat16  # the linear layers ran in bf16
    torch.testing.assert_close(out.float(), ref, atol=5e-2, rtol=5e-2)


def test_gpt_training_step_under_autocast_matches_float32_loss():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=4, d_model=64)
    model = cfg.build()
    x = torch.randint(0, 100, (4, 32))  # (batch, seq)
    loss32 = _gpt_loss(model, x)
    with cpu_autocast():
        logits, loss16 = model(x, x)
    assert logits.dtype == torch.bfloat16
    assert loss16.item() == pytest.approx(loss32.item(), rel=0.02)
    loss16.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_bench_bf16_training_step_runs_on_cpu():
    """The closure `make bench` times with bf16 autocast on CUDA, run with CPU autocast."""
    torch.manual_seed(0)
    model = GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, d_model=32).build()
    x = torch.randint(0, 50, (4, 16))
    before = [p.detach().clone() for p in model.parameters()]
    step = _train_step(model, lambda: (x,), _gpt_loss, True, torch.device("cpu"))
    step()
    changed = [not torch.equal(a, p) for a, p in zip(before, model.parameters())]
    assert all(torch.isfinite(p).all() for p in model.parameters()) and any(changed)


def test_llama_in_bf16_weights_generates_like_float32():
    """Chapter 08 loads local models in bf16 on CUDA: the same forward, here in bf16 on CPU."""
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        max_position_embeddings=64,
    )
    model = cfg.build().eval()
    x = torch.randint(0, 64, (1, 12))
    with torch.no_grad():
        ref = model(x)[0]
        model16 = cfg.build().eval()
        model16.load_state_dict(model.state_dict())
        model16 = model16.to(torch.bfloat16)
        out = model16(x)[0]
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=0.1, rtol=0.1)
    assert model16.generate(x, 4, temperature=0.0).shape == (1, 16)


def test_encoder_decoder_under_autocast():
    from course_utils.seq2seq_training import Batch
    from course_utils.transformer import TransformerConfig, make_model

    torch.manual_seed(0)
    model = make_model(
        TransformerConfig(src_vocab=20, tgt_vocab=20, N=1, d_model=32, d_ff=64, h=4, dropout=0.0)
    ).eval()
    b = Batch(torch.randint(1, 20, (2, 7)), torch.randint(1, 20, (2, 6)), pad=0)
    with torch.no_grad():
        ref = model.generator(model(b.src, b.tgt, b.src_mask, b.tgt_mask))
        with cpu_autocast():
            out = model.generator(model(b.src, b.tgt, b.src_mask, b.tgt_mask))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), ref, atol=0.1, rtol=0.1)
