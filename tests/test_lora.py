"""course_utils.lora: zero start, only A and B trained, exact merge, the same adapter as Hugging Face
peft's, and the 7B training-memory arithmetic."""

import copy
import math

import pytest
import torch
from torch import nn

from course_utils.gpt_compared import new_gpt
from course_utils.llama import LLAMA_PRESETS
from course_utils.lora import (
    GPT_TARGETS,
    LLAMA_TARGETS,
    QLORA_BITS_PER_PARAM,
    LoRALinear,
    adam_state_bytes,
    apply_lora,
    finetune_memory,
    lora_parameters,
    merge_lora,
    trainable_parameters,
)
from course_utils.model_size import count_parameters

V, D, LAYERS, BLOCK = 20, 16, 2, 16  # d_ff = 4 * D = 64
IDX = torch.tensor([[1, 5, 2, 7, 3, 3, 9, 0], [4, 9, 8, 1, 2, 6, 6, 19]])


def gpt(seed=0):
    return new_gpt(V, D, LAYERS, BLOCK, seed=seed).eval()


def randomise_B(model, seed=1):
    """B is 0 at the start; give it values so the update shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.copy_(torch.randn(m.lora_B.shape, generator=g) * 0.5)


def test_lora_linear_forward_by_hand():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    layer = LoRALinear(base, r=2, alpha=3.0)
    assert layer.scaling == 1.5 and layer.r == 2 and layer.alpha == 3.0
    assert layer.lora_A.shape == (2, 6) and layer.lora_B.shape == (5, 2)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(3, 4, 6)
    want = x @ base.weight.T + base.bias + 1.5 * (x @ layer.lora_A.T) @ layer.lora_B.T
    torch.testing.assert_close(layer(x), want)
    assert "r=2, alpha=3, scaling=1.5" in repr(layer)


def test_lora_A_is_drawn_like_an_nn_linear_weight_and_B_is_zero():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(64, 8), r=16, alpha=16)
    bound = 1 / math.sqrt(64)  # kaiming_uniform_ with a = sqrt(5): U(-1/sqrt(d_in), 1/sqrt(d_in))
    assert 0.97 * bound < layer.lora_A.abs().max() <= bound
    assert (layer.lora_B == 0).all()
    assert not layer.base.weight.requires_grad and not layer.base.bias.requires_grad
    assert layer.lora_A.requires_grad and layer.lora_B.requires_grad


def test_A_and_B_follow_the_base_dtype_and_device():
    layer = LoRALinear(nn.Linear(4, 3, dtype=torch.float64), r=2, alpha=2)
    assert layer.lora_A.dtype == layer.lora_B.dtype == torch.float64
    meta = LoRALinear(nn.Linear(4, 3, device="meta"), r=2, alpha=2)  # as finetune_memory builds
    assert meta.lora_A.is_meta and meta.lora_B.is_meta


def test_dropout_acts_on_the_update_only():
    torch.manual_seed(0)
    base = nn.Linear(8, 8)
    layer = LoRALinear(base, r=4, alpha=4, dropout=0.5).train()
    x = torch.randn(5, 8)
    torch.testing.assert_close(layer(x), base(x))  # B = 0: dropout leaves the base path alone
    with torch.no_grad():
        layer.lora_B.normal_()
    assert not torch.allclose(layer(x), layer.eval()(x))  # train mode drops update inputs
    assert isinstance(layer.dropout, nn.Dropout) and layer.dropout.p == 0.5


def test_apply_lora_starts_from_the_base_model_exactly():
    base = gpt()
    model = copy.deepcopy(base)
    names = apply_lora(model, r=4, alpha=8)
    assert len(names) == 6 * LAYERS
    assert names[:2] == [
        "blocks.layers.0.self_attn.linears.0",
        "blocks.layers.0.self_attn.linears.1",
    ]
    assert names[4:6] == ["blocks.layers.0.feed_forward.w_1", "blocks.layers.0.feed_forward.w_2"]
    assert torch.equal(model(IDX)[0], base(IDX)[0])  # B = 0: not a bit of difference


def test_only_A_and_B_train_and_their_count_is_r_times_in_plus_out():
    model = gpt()
    total = count_parameters(model)
    apply_lora(model, r=4, alpha=8)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith(("lora_A", "lora_B")) for n in trainable)
    # per layer: 4 attention projections 16 -> 16, then 16 -> 64 and 64 -> 16
    per_layer = 4 * 4 * (16 + 16) + 4 * (16 + 64) + 4 * (64 + 16)
    assert per_layer == 1152
    assert trainable_parameters(model) == LAYERS * per_layer == 2304
    assert lora_parameters(16, 64, 4) == 320
    for args, name in [((16, 64, 0), "r"), ((0, 64, 4), "d_in"), ((16, 0, 4), "d_out")]:
        with pytest.raises(ValueError, match=f"{name} must be a positive int, got 0"):
            lora_parameters(*args)
    assert count_parameters(model) == total + 2304
    model.train()
    model(IDX)[0].sum().backward()
    grads = [n for n, p in model.named_parameters() if p.grad is not None]
    assert sorted(grads) == sorted(trainable)


def test_apply_lora_passes_dropout_on():
    model = gpt()
    apply_lora(model, r=2, alpha=2, dropout=0.1)
    ps = {m.dropout.p for m in model.modules() if isinstance(m, LoRALinear)}
    assert ps == {0.1}
    apply_lora(plain := gpt(), r=2, alpha=2)
    assert {m.dropout.p for m in plain.modules() if isinstance(m, LoRALinear)} == {0.0}


def test_targets_select_layers_by_name_suffix():
    model = gpt()
    names = apply_lora(model, r=2, alpha=2, targets=("linears.0", "linears.2"))  # W_Q and W_V
    assert [n.rsplit(".", 2)[-2:] for n in names] == [["linears", "0"], ["linears", "2"]] * 2
    assert trainable_parameters(model) == LAYERS * 2 * 2 * (16 + 16)
    one = gpt()
    assert apply_lora(one, r=2, alpha=2, targets="blocks.layers.1.feed_forward.w_2") == [
        "blocks.layers.1.feed_forward.w_2"
    ]
    assert trainable_parameters(one) == 2 * (64 + 16)


def test_merge_is_exact():
    model = gpt()
    apply_lora(model, r=4, alpha=8)
    randomise_B(model)
    with torch.no_grad():
        lora_out = model(IDX)[0]
        layer = model.blocks.layers[1].feed_forward.w_1
        want_w = layer.base.weight + 2.0 * layer.lora_B @ layer.lora_A  # alpha / r = 2
    assert not torch.allclose(lora_out, gpt()(IDX)[0], atol=1e-3)  # the update matters
    merged = merge_lora(model)
    assert merged is model
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert isinstance(model.blocks.layers[1].feed_forward.w_1, nn.Linear)
    torch.testing.assert_close(model.blocks.layers[1].feed_forward.w_1.weight, want_w)
    assert count_parameters(model) == count_parameters(gpt())
    torch.testing.assert_close(model(IDX)[0], lora_out, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="no LoRALinear layer to merge"):
        merge_lora(model)


def test_generation_with_a_kv_cache_sees_the_adapter():
    model = gpt()
    apply_lora(model, r=4, alpha=8)
    randomise_B(model)
    prompt = IDX[:, :3]
    cached = model.generate(prompt, 6, temperature=0, use_cache=True)
    plain = model.generate(prompt, 6, temperature=0, use_cache=False)
    assert torch.equal(cached, plain)


def test_bad_inputs():
    with pytest.raises(ValueError, match="r must be a positive int, got 0"):
        apply_lora(gpt(), r=0, alpha=8)
    with pytest.raises(ValueError, match="r must be a positive int, got -2"):
        LoRALinear(nn.Linear(4, 4), r=-2, alpha=8)
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, inf\]"):
        apply_lora(gpt(), r=4, alpha=0)
    with pytest.raises(ValueError, match="alpha must be"):
        LoRALinear(nn.Linear(4, 4), r=2, alpha=-1.0)
    with pytest.raises(ValueError, match="dropout must be"):
        LoRALinear(nn.Linear(4, 4), r=2, alpha=2, dropout=1.0)
    with pytest.raises(TypeError, match="base must be a Linear"):
        LoRALinear(nn.Embedding(4, 4), r=2, alpha=2)
    with pytest.raises(
        ValueError,
        match=r"no module matches targets \('q_proj',\); the nn.Linear layers: \['blocks",
    ):
        apply_lora(gpt(), r=2, alpha=2, targets=("q_proj",))
    with pytest.raises(
        TypeError, match="target 'blocks.layers.0.feed_forward' is a PositionwiseFeedForward"
    ):
        apply_lora(gpt(), r=2, alpha=2, targets=("feed_forward",))
    model = gpt()
    apply_lora(model, r=2, alpha=2)
    with pytest.raises(TypeError, match="is a LoRALinear, not an nn.Linear"):
        apply_lora(model, r=2, alpha=2)  # wrapping twice
    assert all(p.requires_grad for p in gpt().parameters())  # a failed call freezes nothing
    with pytest.raises(ValueError, match="targets must not be empty"):
        apply_lora(gpt(), r=2, alpha=2, targets=())


def test_a_failed_apply_lora_leaves_the_model_alone():
    model = gpt()
    with pytest.raises(TypeError):
        apply_lora(model, r=2, alpha=2, targets=("w_1", "feed_forward"))
    assert all(p.requires_grad for p in model.parameters())
    assert not any(isinstance(m, LoRALinear) for m in model.modules())


# ---------------------------------------------------------------- against Hugging Face peft


@pytest.mark.parametrize("r, alpha, targets", [(4, 8, GPT_TARGETS), (2, 5, ("linears.1", "w_2"))])
def test_same_adapter_as_peft(r, alpha, targets):
    peft = pytest.importorskip("peft")
    ours = gpt()
    theirs = peft.inject_adapter_in_model(
        peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0),
        copy.deepcopy(ours),
    )
    names = apply_lora(ours, r=r, alpha=alpha, targets=targets)
    their_trainable = [n for n, p in theirs.named_parameters() if p.requires_grad]
    assert trainable_parameters(ours) == sum(
        p.numel() for p in theirs.parameters() if p.requires_grad
    )
    assert sorted({n.rsplit(".lora_", 1)[0] for n in their_trainable}) == sorted(names)
    randomise_B(ours)
    with torch.no_grad():
        for name in names:
            mine, peft_layer = ours.get_submodule(name), theirs.get_submodule(name)
            assert peft_layer.scaling["default"] == mine.scaling == alpha / r
            peft_layer.lora_A["default"].weight.copy_(mine.lora_A)  # (r, d_in)
            peft_layer.lora_B["default"].weight.copy_(mine.lora_B)  # (d_out, r)
        torch.testing.assert_close(ours(IDX)[0], theirs(IDX)[0])
        assert not torch.allclose(ours(IDX)[0], gpt()(IDX)[0], atol=1e-3)


# ---------------------------------------------------------------- memory


def test_adam_state_bytes():
    assert adam_state_bytes(1000) == 8000  # m and v, 4 bytes each
    assert adam_state_bytes(1000, bytes_per_value=2) == 4000


def test_finetune_memory_of_llama_2_7b():
    n = 6_738_415_616  # Llama-2-7B's published parameter count
    d, f, layers, vocab = 4096, 11008, 32, 32000
    lora = layers * 16 * (4 * (d + d) + 3 * (d + f))  # r = 16 on all seven projections
    assert lora == 39_976_960
    linear = layers * (4 * d * d + 3 * d * f)  # 4-bit in QLoRA; embeddings, norms, head in bf16
    assert n - linear == 2 * vocab * d + layers * 2 * d + d
    full, lo, q = finetune_memory(LLAMA_PRESETS["llama-2-7b"], r=16, targets=LLAMA_TARGETS)
    assert (full.method, lo.method, q.method) == ("full fine-tuning", "LoRA", "QLoRA")
    assert (full.params, full.trainable, full.total_bytes) == (n, n, 16 * n)
    assert (lo.params, lo.trainable) == (n + lora, lora)
    assert lo.weight_bytes == 2 * n and lo.training_bytes == 16 * lora
    assert QLORA_BITS_PER_PARAM == pytest.approx(4.127, abs=1e-3)  # the QLoRA paper's figure
    assert q.weight_bytes == pytest.approx(linear * 4.127 / 8 + (n - linear) * 2, rel=1e-4)
    assert q.training_bytes == 16 * lora and (q.params, q.trainable) == (n + lora, lora)
    # in GB: 107.8 (full), 14.1 (LoRA), 4.5 (QLoRA)
    assert [round(m.total_bytes / 1e9, 1) for m in (full, lo, q)] == [107.8, 14.1, 4.5]
    smaller = finetune_memory(LLAMA_PRESETS["llama-2-7b"], r=8)
    assert smaller[1].trainable == lora // 2
    assert finetune_memory(LLAMA_PRESETS["llama-2-7b"]) == [full, lo, q]  # r = 16 by default
