"""Parameter counts: the published totals, and transformers' own count on the meta device."""

import pytest
import torch

from course_utils.hf_checkpoint import EXAMPLE_HF_CONFIGS, SUPPORTED_MODEL_TYPES, config_from_hf
from course_utils.model_config import ModelShape
from course_utils.model_size import (
    active_parameters,
    chinchilla_tokens,
    count_parameters,
    embedding_parameters,
    fits,
    kv_cache_bytes,
    model_shape,
    size_report,
    training_bytes,
    training_flops,
    weight_bytes,
)

EXACT = {
    "Llama-2-7B": 6_738_415_616,
    "Qwen2-7B": 7_615_616_512,
    "ChatGLM3-6B": 6_243_584_000,
    "Baichuan-7B": 7_000_559_616,
    "Baichuan-13B": 13_264_901_120,  # Baichuan-13B's README, "model details" table
    "Mistral-7B": 7_241_732_096,
    "GPT-2": 124_439_808,
    "Mixtral-8x7B": 46_702_792_704,
    "DeepSeekMoE-16B": 16_375_728_128,
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_totals(name):
    assert count_parameters(config_from_hf(EXAMPLE_HF_CONFIGS[name])) == EXACT[name]


def _hf_meta_count(hf_config, cls):
    with torch.device("meta"):
        model = cls(hf_config)
    return sum(p.numel() for p in model.parameters())


def _hf_model(name):
    transformers = pytest.importorskip("transformers")
    c = dict(EXAMPLE_HF_CONFIGS[name])
    t = c.pop("model_type")
    if t == "chatglm":  # transformers' Glm is ChatGLM's architecture with Llama-style names
        cfg = transformers.GlmConfig(
            vocab_size=c["padded_vocab_size"],
            hidden_size=4096,
            intermediate_size=13696,
            num_hidden_layers=28,
            num_attention_heads=32,
            num_key_value_heads=2,
            head_dim=128,
            attention_bias=True,
            tie_word_embeddings=False,
            pad_token_id=0,
        )
        return cfg, transformers.GlmForCausalLM
    cfg = transformers.AutoConfig.for_model(t, **c)
    cls = {
        "gpt2": transformers.GPT2LMHeadModel,
        "openai-gpt": transformers.OpenAIGPTLMHeadModel,
        "bert": transformers.BertModel,
    }.get(t, transformers.AutoModelForCausalLM.from_config)
    return cfg, cls


@pytest.mark.parametrize(
    "name",
    [
        "Llama-2-7B",
        "Mistral-7B",
        "Qwen2-7B",
        "ChatGLM3-6B",
        "GPT-2",
        "GPT-1",
        "BERT-base",
        "Mixtral-8x7B",
    ],
)
def test_transformers_meta_count_equals_ours(name):
    cfg, cls = _hf_model(name)
    assert count_parameters(config_from_hf(EXAMPLE_HF_CONFIGS[name])) == _hf_meta_count(cfg, cls)


def test_a_transformers_config_object_is_accepted():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.Qwen2Config(
        **{k: v for k, v in EXAMPLE_HF_CONFIGS["Qwen2-7B"].items() if k != "model_type"}
    )
    assert count_parameters(config_from_hf(cfg)) == EXACT["Qwen2-7B"]


def test_config_from_path(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps(EXAMPLE_HF_CONFIGS["Baichuan-7B"]))
    assert count_parameters(config_from_hf(tmp_path)) == EXACT["Baichuan-7B"]


def test_baichuan_13b_uses_alibi_and_chatglm_partial_rope():
    assert config_from_hf(EXAMPLE_HF_CONFIGS["Baichuan-13B"]).position == "alibi"
    glm = config_from_hf(EXAMPLE_HF_CONFIGS["ChatGLM3-6B"])
    assert (glm.rotary_dim, glm.num_key_value_heads, glm.rope_interleaved) == (64, 2, True)


def test_embedding_split():
    llama = config_from_hf(EXAMPLE_HF_CONFIGS["Llama-2-7B"])
    assert embedding_parameters(llama) == 2 * 32000 * 4096  # input table + untied head
    gpt2 = config_from_hf(EXAMPLE_HF_CONFIGS["GPT-2"])
    assert embedding_parameters(gpt2) == 50257 * 768 + 1024 * 768  # tied head counted once


def test_memory_kv_flops():
    n = EXACT["Llama-2-7B"]
    assert weight_bytes(n, "int4") == n / 2 and weight_bytes(n, "fp32") == 4 * n
    llama = config_from_hf(EXAMPLE_HF_CONFIGS["Llama-2-7B"])
    assert kv_cache_bytes(llama) == 2 * 32 * 32 * 128 * 2 == 524_288  # 0.5 MiB per token in bf16
    assert kv_cache_bytes(llama, context=4096, batch=2) == 524_288 * 4096 * 2
    qwen = config_from_hf(EXAMPLE_HF_CONFIGS["Qwen2-7B"])
    assert kv_cache_bytes(qwen) == 2 * 28 * 4 * 128 * 2  # GQA: 4 KV heads
    assert training_bytes(n) == 16 * n
    assert chinchilla_tokens(n) == 20 * n
    assert training_flops(n, 1e12) == 6 * n * 1e12
    r = size_report(llama, "Llama-2-7B", context=4096)
    assert r.params == n and r.non_embedding == n - 2 * 32000 * 4096
    assert (
        fits(r, 24, "inference-bf16")
        and not fits(r, 80, "finetune")
        and fits(r, 24, "inference-int4")
    )
    assert "Llama-2-7B: 6,738,415,616 parameters" in str(r)


def test_count_parameters_keeps_its_contract():
    assert count_parameters(torch.nn.Linear(3, 2)) == 8
    lin = torch.nn.Linear(3, 2)
    lin.bias.requires_grad_(False)
    assert count_parameters(lin, trainable_only=True) == 6


def test_bad_input():
    with pytest.raises(ValueError, match="supported types are gpt2, openai-gpt, bert, llama"):
        config_from_hf({"model_type": "t5"})
    assert "baichuan" in SUPPORTED_MODEL_TYPES
    with pytest.raises(ValueError, match="lacks"):
        config_from_hf({"model_type": "llama", "hidden_size": 8})
    with pytest.raises(TypeError, match="dict"):
        config_from_hf(42)
    with pytest.raises(ValueError, match="ChatGLM2/ChatGLM3"):
        config_from_hf({"model_type": "chatglm", "vocab_size": 130528})
    with pytest.raises(TypeError, match="nn.Module or a config"):
        count_parameters("llama")
    with pytest.raises(ValueError, match="dtype must be one of"):
        weight_bytes(10, "fp8")
    with pytest.raises(TypeError, match="config with a shape"):
        model_shape(object())
    with pytest.raises(ValueError, match="task must be one of"):
        fits(size_report(EXAMPLE_HF_CONFIGS["GPT-2"]), 24, "train")


def test_bert_is_an_encoder_without_kv_cache():
    r = size_report(EXAMPLE_HF_CONFIGS["BERT-base"], "BERT-base")
    assert r.params == 109_482_240 and r.kv_gb is None and "no KV cache" in str(r)
    with pytest.raises(ValueError, match="encoder"):
        kv_cache_bytes(config_from_hf(EXAMPLE_HF_CONFIGS["BERT-base"]))


def test_every_config_has_a_shape():
    shapes = {name: config_from_hf(c).shape for name, c in EXAMPLE_HF_CONFIGS.items()}
    assert shapes["Qwen2-7B"] == ModelShape(
        layers=28,
        d_model=3584,
        heads=28,
        kv_heads=4,
        head_dim=128,
        d_ff=18944,
        vocab=152064,
        decoder=True,
    )
    assert shapes["GPT-2"] == ModelShape(12, 768, 12, 12, 64, 3072, 50257, True)
    assert shapes["BERT-base"].decoder is False
    assert shapes["ChatGLM3-6B"].kv_heads == 2


LLAMA = config_from_hf(EXAMPLE_HF_CONFIGS["Llama-2-7B"])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: kv_cache_bytes(LLAMA, context=-5),
            ValueError,
            "context must be a non-negative int, got -5",
        ),
        (lambda: kv_cache_bytes(LLAMA, context=1.5), TypeError, "context"),
        (lambda: kv_cache_bytes(LLAMA, batch=0), ValueError, "batch must be a positive int"),
        (lambda: kv_cache_bytes(LLAMA, dtype="fp8"), ValueError, "dtype must be one of"),
        (lambda: kv_cache_bytes(EXAMPLE_HF_CONFIGS["Llama-2-7B"]), TypeError, "got dict"),
        (lambda: weight_bytes(-1), ValueError, "n_params"),
        (lambda: weight_bytes(float("nan")), ValueError, "n_params must be a finite number"),
        (lambda: weight_bytes("7e9"), TypeError, "n_params"),
        (lambda: training_bytes(-5), ValueError, "n_params"),
        (lambda: training_bytes(10, bytes_per_param=0), ValueError, "bytes_per_param"),
        (lambda: training_flops(0, 1), ValueError, "n_params"),
        (lambda: training_flops(1e9, -1), ValueError, "n_tokens"),
        (lambda: chinchilla_tokens(-1), ValueError, "n_params"),
        (lambda: size_report(LLAMA, context=-5), ValueError, "context"),
        (lambda: size_report(LLAMA, batch=0), ValueError, "batch"),
        (lambda: size_report(LLAMA, kv_dtype="fp8"), ValueError, "kv_dtype must be one of"),
        (lambda: size_report(LLAMA, name=3), TypeError, "name must be a str"),
        (lambda: size_report({"model_type": "llama", "vocab_size": 0}), ValueError, "lacks"),
        (lambda: fits("report", 24), TypeError, "report must be a SizeReport"),
        (lambda: fits(size_report(LLAMA), -24), ValueError, "gpu_gb"),
        (lambda: fits(size_report(LLAMA), float("nan")), ValueError, "gpu_gb"),
        (
            lambda: count_parameters(torch.nn.Linear(2, 2), trainable_only="yes"),
            TypeError,
            "trainable_only must be a bool",
        ),
    ],
)
def test_calculator_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_config_whose_build_returns_no_module():
    class Odd:
        def build(self):
            return 42

    with pytest.raises(TypeError, match=r"Odd.build\(\) returned int"):
        count_parameters(Odd())
    with pytest.raises(TypeError, match=r"Odd.build\(\) returned int"):
        embedding_parameters(Odd())


# Published totals of the mixtures of experts, as their authors round them:
# Mixtral-8x7B: "46.7B total parameters but only uses 12.9B parameters per token"
#   (Mistral AI, "Mixtral of experts", mistral.ai/news/mixtral-of-experts, 11 Dec 2023);
# DeepSeekMoE 16B: "16.4B" total, "2.8B" activated (Dai et al. 2024, arXiv:2401.06066,
#   Table 4 and section 5; model card of deepseek-ai/deepseek-moe-16b-base).
PUBLISHED_MOE = {"Mixtral-8x7B": (46.7, 12.9), "DeepSeekMoE-16B": (16.4, 2.8)}


@pytest.mark.parametrize("name", sorted(PUBLISHED_MOE))
def test_moe_total_and_active_match_the_published_figures(name):
    cfg = config_from_hf(EXAMPLE_HF_CONFIGS[name])
    total, active = count_parameters(cfg), active_parameters(cfg)
    assert (round(total / 1e9, 1), round(active / 1e9, 1)) == PUBLISHED_MOE[name]
    report = size_report(cfg, name)
    assert (report.params, report.active) == (total, active)
    assert f"active per token (mixture of experts): {active:,}" in str(report)
    assert report.chinchilla_flops == 6 * active * 20 * total  # compute: 6 x active x tokens


def test_active_parameters_by_hand():
    d, ff, layers, vocab = 4096, 14336, 32, 32000
    attention = d * d * 2 + d * 1024 * 2  # W_Q, W_O (4096 wide); W_K, W_V (8 KV heads of 128)
    expert, router, norms = 3 * d * ff, 8 * d, 2 * d
    per_token = layers * (attention + 2 * expert + router + norms) + 2 * vocab * d + d
    assert active_parameters(config_from_hf(EXAMPLE_HF_CONFIGS["Mixtral-8x7B"])) == per_token
    assert EXACT["Mixtral-8x7B"] - per_token == layers * 6 * expert  # 6 idle experts per layer
    # DeepSeekMoE: layer 0 dense; 27 layers of 64 routed (6 used) + 2 shared experts of 1408
    d, vocab, moe_ff = 2048, 102400, 1408
    attention, expert = 4 * d * d, 3 * d * moe_ff
    dense = attention + 3 * d * 10944 + 2 * d
    moe_active = attention + (6 + 2) * expert + 64 * d + 2 * d
    ds = config_from_hf(EXAMPLE_HF_CONFIGS["DeepSeekMoE-16B"])
    assert active_parameters(ds) == dense + 27 * moe_active + 2 * vocab * d + d
    assert count_parameters(ds) - active_parameters(ds) == 27 * (64 - 6) * expert
    dense_model = config_from_hf(EXAMPLE_HF_CONFIGS["Llama-2-7B"])
    assert active_parameters(dense_model) == count_parameters(dense_model)


def test_size_report_fields_by_hand():
    gb = 1e9
    n = EXACT["Llama-2-7B"]
    kv_tok = 2 * 32 * 32 * 128 * 2  # K and V x layers x kv heads x head dim x bf16 bytes
    r = size_report(LLAMA)  # defaults: context 4096, batch 1, bf16 cache, the config's type name
    assert (r.context, r.batch, r.name) == (4096, 1, type(LLAMA).__name__)
    assert r.kv_bytes_per_token == kv_tok and r.kv_gb == pytest.approx(kv_tok * 4096 / gb)
    assert r.weights_gb == pytest.approx(
        {
            "fp32": 4 * n / gb,
            "bf16": 2 * n / gb,
            "int8": n / gb,
            "int4": n / 2 / gb,
            "q4_k": 4.5 * n / 8 / gb,  # 4 bits plus the per-block scales
        }
    )
    assert r.training_gb == pytest.approx(16 * n / gb)
    big = size_report(LLAMA, context=1000, batch=3, kv_dtype="fp32")
    assert big.batch == 3 and big.kv_bytes_per_token == 2 * kv_tok
    assert big.kv_gb == pytest.approx(2 * kv_tok * 1000 * 3 / gb)
    assert "KV cache 512 KiB/token" in str(r) and "for 4,096 tokens x batch 1" in str(r)
    assert "fp32 27.0 GB, bf16 13.5 GB" in str(r) and "int4 3.4 GB, q4_k 3.8 GB" in str(r)


def test_fits_adds_the_kv_cache_and_holds_at_the_boundary():
    r = size_report(LLAMA, context=4096, batch=8)
    need_bf16 = r.weights_gb["bf16"] + r.kv_gb
    need_int4 = r.weights_gb["int4"] + r.kv_gb
    assert fits(r, need_bf16) and not fits(r, need_bf16 - 0.01)  # the default: inference in bf16
    assert fits(r, need_int4, "inference-int4") and not fits(r, need_int4 - 0.01, "inference-int4")
    need_q4 = r.weights_gb["q4_k"] + r.kv_gb
    assert fits(r, need_q4, "inference-q4_k") and not fits(r, need_q4 - 0.01, "inference-q4_k")
    assert fits(r, r.training_gb, "finetune") and not fits(r, r.training_gb - 0.01, "finetune")
    bert = size_report(EXAMPLE_HF_CONFIGS["BERT-base"])  # no KV cache: the weights alone
    assert fits(bert, bert.weights_gb["bf16"]) and not fits(bert, bert.weights_gb["bf16"] - 0.01)


def test_parameter_helpers_accept_fractions_and_count_frozen_parameters():
    assert weight_bytes(0.5, "fp32") == 2.0 and training_flops(0.5, 2) == 6.0
    lin = torch.nn.Linear(3, 2)
    lin.bias.requires_grad_(False)
    assert count_parameters(lin) == 8  # by default frozen parameters count too


def test_active_parameters_needs_both_experts_and_top_k():
    class Sampler(torch.nn.Module):  # has a top_k, but no experts: nothing is idle
        def __init__(self):
            super().__init__()
            self.top_k = 2
            self.proj = torch.nn.Linear(4, 4)

    class Bag(torch.nn.Module):  # has experts, but no routing: every expert runs
        def __init__(self):
            super().__init__()
            self.experts = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(3))

    assert active_parameters(Sampler()) == count_parameters(Sampler()) == 20
    assert active_parameters(Bag()) == count_parameters(Bag()) == 60


def test_mixtral_fits_24_gb_only_at_an_ideal_4_bits():
    """0.5 bytes per weight: 23.4 GB + a 4k cache < 24 GB; with 4-bit formats' scales
    (4.5 bits per weight) 26.3 GB does not fit, but 48 GB does."""
    r = size_report(EXAMPLE_HF_CONFIGS["Mixtral-8x7B"], "Mixtral-8x7B", context=4096)
    assert round(r.weights_gb["int4"], 1) == 23.4 and round(r.weights_gb["q4_k"], 1) == 26.3
    assert fits(r, 24, "inference-int4") and not fits(r, 24, "inference-q4_k")
    assert fits(r, 48, "inference-q4_k")
