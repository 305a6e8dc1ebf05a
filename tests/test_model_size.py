"""Parameter counts: the published totals, and transformers' own count on the meta device."""


import pytest
import torch

from course_utils.model_size import (
    EXAMPLE_HF_CONFIGS,
    SUPPORTED_MODEL_TYPES,
    architecture,
    chinchilla_tokens,
    config_from_hf,
    count_parameters,
    embedding_parameters,
    fits,
    kv_cache_bytes,
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
    "Mistral-7B": 7_241_732_096,
    "GPT-2": 124_439_808,
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
        cfg = transformers.GlmConfig(vocab_size=c["padded_vocab_size"], hidden_size=4096,
                                     intermediate_size=13696, num_hidden_layers=28,
                                     num_attention_heads=32, num_key_value_heads=2, head_dim=128,
                                     attention_bias=True, tie_word_embeddings=False, pad_token_id=0)
        return cfg, transformers.GlmForCausalLM
    cfg = transformers.AutoConfig.for_model(t, **c)
    cls = {"gpt2": transformers.GPT2LMHeadModel, "openai-gpt": transformers.OpenAIGPTLMHeadModel,
           "bert": transformers.BertModel}.get(t, transformers.AutoModelForCausalLM.from_config)
    return cfg, cls


@pytest.mark.parametrize("name", ["Llama-2-7B", "Mistral-7B", "Qwen2-7B", "ChatGLM3-6B", "GPT-2",
                                  "GPT-1", "BERT-base"])
def test_transformers_meta_count_equals_ours(name):
    cfg, cls = _hf_model(name)
    assert count_parameters(config_from_hf(EXAMPLE_HF_CONFIGS[name])) == _hf_meta_count(cfg, cls)


def test_a_transformers_config_object_is_accepted():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.Qwen2Config(**{k: v for k, v in EXAMPLE_HF_CONFIGS["Qwen2-7B"].items()
                                      if k != "model_type"})
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
    assert embedding_parameters(llama) == 2 * 32000 * 4096           # input table + untied head
    gpt2 = config_from_hf(EXAMPLE_HF_CONFIGS["GPT-2"])
    assert embedding_parameters(gpt2) == 50257 * 768 + 1024 * 768    # tied head counted once


def test_memory_kv_flops():
    n = EXACT["Llama-2-7B"]
    assert weight_bytes(n, "int4") == n / 2 and weight_bytes(n, "fp32") == 4 * n
    llama = config_from_hf(EXAMPLE_HF_CONFIGS["Llama-2-7B"])
    assert kv_cache_bytes(llama) == 2 * 32 * 32 * 128 * 2 == 524_288  # 0.5 MiB per token in bf16
    assert kv_cache_bytes(llama, context=4096, batch=2) == 524_288 * 4096 * 2
    qwen = config_from_hf(EXAMPLE_HF_CONFIGS["Qwen2-7B"])
    assert kv_cache_bytes(qwen) == 2 * 28 * 4 * 128 * 2               # GQA: 4 KV heads
    assert training_bytes(n) == 16 * n
    assert chinchilla_tokens(n) == 20 * n
    assert training_flops(n, 1e12) == 6 * n * 1e12
    r = size_report(llama, "Llama-2-7B", context=4096)
    assert r.params == n and r.non_embedding == n - 2 * 32000 * 4096
    assert fits(r, 24, "inference-bf16") and not fits(r, 80, "finetune") and fits(r, 24, "inference-int4")
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
    with pytest.raises(TypeError, match="cannot read layers"):
        architecture(object())
    with pytest.raises(ValueError, match="task must be one of"):
        fits(size_report(EXAMPLE_HF_CONFIGS["GPT-2"]), 24, "train")


def test_bert_is_an_encoder_without_kv_cache():
    r = size_report(EXAMPLE_HF_CONFIGS["BERT-base"], "BERT-base")
    assert r.params == 109_482_240 and r.kv_gb is None and "no KV cache" in str(r)
    with pytest.raises(ValueError, match="encoder"):
        kv_cache_bytes(config_from_hf(EXAMPLE_HF_CONFIGS["BERT-base"]))
