"""Each config reads its own Hugging Face config.json: every field checked, nonsense refused."""

import json
import math

import pytest
import torch

from course_utils.bert import BertConfig
from course_utils.gpt import GPTConfig
from course_utils.hf_checkpoint import (
    CONFIG_FOR_MODEL_TYPE,
    EXAMPLE_HF_CONFIGS,
    SUPPORTED_MODEL_TYPES,
    config_from_hf,
    load_hf_state_dict,
    read_hf_config,
    read_hf_weights,
)
from course_utils.llama import LlamaConfig, tiny_config


def _with(name, **changes):
    """A published config with some fields changed (None removes a field)."""
    d = dict(EXAMPLE_HF_CONFIGS[name])
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def test_the_dispatcher_maps_each_model_type_to_its_config_class():
    assert SUPPORTED_MODEL_TYPES == (
        "gpt2",
        "openai-gpt",
        "bert",
        "llama",
        "mistral",
        "qwen2",
        "chatglm",
        "baichuan",
        "mixtral",
        "deepseek",
    )
    assert CONFIG_FOR_MODEL_TYPE["openai-gpt"] is GPTConfig
    assert CONFIG_FOR_MODEL_TYPE["bert"] is BertConfig
    assert CONFIG_FOR_MODEL_TYPE["chatglm"] is LlamaConfig
    for name, d in EXAMPLE_HF_CONFIGS.items():
        cls = CONFIG_FOR_MODEL_TYPE[d["model_type"]]
        assert config_from_hf(d) == cls.from_hf(d), name


def test_from_hf_reads_the_fields_it_translates():
    gpt1 = GPTConfig.from_hf(EXAMPLE_HF_CONFIGS["GPT-1"])
    assert (gpt1.norm_first, gpt1.block_size, gpt1.d_ff) == (False, 512, 3072)
    assert GPTConfig.from_hf(_with("GPT-2", n_inner=1000, tie_word_embeddings=False)).d_ff == 1000
    assert GPTConfig.from_hf(_with("GPT-2", n_inner=None)).d_ff == 4 * 768
    mistral = LlamaConfig.from_hf(EXAMPLE_HF_CONFIGS["Mistral-7B"])
    assert (mistral.sliding_window, mistral.num_key_value_heads) == (4096, 8)
    qwen = LlamaConfig.from_hf(_with("Qwen2-7B", sliding_window=4096))
    assert qwen.attention_bias and qwen.sliding_window is None and qwen.rope_theta == 1e6
    new_style = _with("Llama-2-7B", rope_parameters={"rope_theta": 5e5, "rope_type": "default"})
    assert LlamaConfig.from_hf(new_style).rope_theta == 5e5  # transformers >= 5 nests it
    assert LlamaConfig.from_hf(_with("Llama-2-7B", head_dim=None)).head_dim == 128
    b13 = LlamaConfig.from_hf(EXAMPLE_HF_CONFIGS["Baichuan-13B"])
    assert (b13.position, b13.max_position_embeddings) == ("alibi", 4096)
    glm = LlamaConfig.from_hf(_with("ChatGLM3-6B", multi_query_attention=False))
    assert glm.num_key_value_heads == 32
    bert = BertConfig.from_hf(_with("BERT-base", hidden_dropout_prob=0.0, hidden_act="relu"))
    assert (bert.dropout, bert.hidden_act) == (0.0, "relu")


def test_gpt_from_hf_defaults_and_required_fields():
    bare = GPTConfig.from_hf(_with("GPT-2", layer_norm_epsilon=None, tie_word_embeddings=None))
    assert (bare.layer_norm_eps, bare.tie_weights) == (1e-5, True)  # transformers' defaults
    assert GPTConfig.from_hf(_with("GPT-2", layer_norm_epsilon=1e-6)).layer_norm_eps == 1e-6
    for field in ("vocab_size", "n_positions", "n_layer", "n_head", "n_embd"):
        with pytest.raises(ValueError, match=field):
            GPTConfig.from_hf(_with("GPT-2", **{field: None}))


def test_rope_scaling_is_announced():
    with pytest.warns(UserWarning, match="rope scaling 'linear' is ignored"):
        LlamaConfig.from_hf(_with("Llama-2-7B", rope_scaling={"type": "linear", "factor": 2.0}))


BAD_HF_CONFIGS = [
    # (published config, changed fields, error, message)
    (
        "Llama-2-7B",
        {"num_hidden_layers": -3},
        ValueError,
        "field 'num_hidden_layers' must be a positive int, got -3",
    ),
    ("Llama-2-7B", {"vocab_size": 0}, ValueError, "field 'vocab_size' must be a positive int"),
    ("Llama-2-7B", {"hidden_size": "768"}, TypeError, "field 'hidden_size' must be a positive int"),
    (
        "Llama-2-7B",
        {"tie_word_embeddings": "false"},
        TypeError,
        "field 'tie_word_embeddings' must be a bool, got str 'false'",
    ),
    ("Llama-2-7B", {"num_hidden_layers": True}, TypeError, "num_hidden_layers"),
    ("Llama-2-7B", {"num_hidden_layers": 32.0}, TypeError, "num_hidden_layers"),
    ("Llama-2-7B", {"hidden_size": None}, ValueError, "lacks \\['hidden_size'\\]"),
    ("Llama-2-7B", {"num_key_value_heads": 0}, ValueError, "num_key_value_heads"),
    ("Llama-2-7B", {"num_key_value_heads": 3}, ValueError, "multiple of num_key_value_heads"),
    ("Llama-2-7B", {"head_dim": -1}, ValueError, "field 'head_dim'"),
    ("Llama-2-7B", {"max_position_embeddings": 0}, ValueError, "max_position_embeddings"),
    ("Llama-2-7B", {"rms_norm_eps": -1e-5}, ValueError, "field 'rms_norm_eps'"),
    ("Llama-2-7B", {"rms_norm_eps": math.nan}, ValueError, "rms_norm_eps. must be a finite"),
    ("Llama-2-7B", {"rope_theta": 0}, ValueError, "field 'rope_theta'"),
    ("Llama-2-7B", {"rope_theta": "1e4"}, TypeError, "field 'rope_theta'"),
    (
        "Llama-2-7B",
        {"rope_parameters": {"rope_theta": -1.0}},
        ValueError,
        "field 'rope_parameters.rope_theta'",
    ),
    ("Llama-2-7B", {"rope_scaling": "linear"}, TypeError, "field 'rope_scaling' must be a dict"),
    ("Llama-2-7B", {"mlp_bias": True}, ValueError, "mlp_bias=true"),
    ("Llama-2-7B", {"mlp_bias": "no"}, TypeError, "field 'mlp_bias'"),
    ("Llama-2-7B", {"attention_bias": 1}, TypeError, "field 'attention_bias'"),
    ("Llama-2-7B", {"model_type": None}, ValueError, "model_type None is not supported"),
    ("Llama-2-7B", {"model_type": ["llama"]}, ValueError, "is not supported"),
    ("Mistral-7B", {"sliding_window": -1}, ValueError, "field 'sliding_window'"),
    ("Qwen2-7B", {"intermediate_size": 0}, ValueError, "field 'intermediate_size'"),
    ("ChatGLM3-6B", {"num_layers": -3}, ValueError, "field 'num_layers'"),
    ("ChatGLM3-6B", {"multi_query_group_num": 0}, ValueError, "field 'multi_query_group_num'"),
    ("ChatGLM3-6B", {"add_bias_linear": "false"}, TypeError, "field 'add_bias_linear'"),
    ("ChatGLM3-6B", {"rmsnorm": False}, ValueError, "rmsnorm=false"),
    ("ChatGLM3-6B", {"rope_ratio": -2}, ValueError, "field 'rope_ratio'"),
    ("ChatGLM3-6B", {"kv_channels": "128"}, TypeError, "field 'kv_channels'"),
    ("ChatGLM3-6B", {"ffn_hidden_size": None}, ValueError, "lacks \\['ffn_hidden_size'\\]"),
    ("Baichuan-13B", {"model_max_length": -1}, ValueError, "field 'model_max_length'"),
    ("Baichuan-7B", {"num_attention_heads": 0}, ValueError, "field 'num_attention_heads'"),
    ("GPT-2", {"n_layer": -3}, ValueError, "field 'n_layer' must be a positive int"),
    ("GPT-2", {"n_embd": "768"}, TypeError, "field 'n_embd'"),
    ("GPT-2", {"vocab_size": 0}, ValueError, "field 'vocab_size'"),
    ("GPT-2", {"tie_word_embeddings": "false"}, TypeError, "field 'tie_word_embeddings'"),
    ("GPT-2", {"n_inner": 0}, ValueError, "field 'n_inner'"),
    ("GPT-2", {"layer_norm_epsilon": 0}, ValueError, "field 'layer_norm_epsilon'"),
    ("GPT-2", {"n_head": 5}, ValueError, "divisible by n_head"),
    ("GPT-1", {"n_positions": None}, ValueError, "lacks \\['n_positions'\\]"),
    ("BERT-base", {"hidden_size": "768"}, TypeError, "field 'hidden_size'"),
    ("BERT-base", {"num_hidden_layers": -3}, ValueError, "field 'num_hidden_layers'"),
    ("BERT-base", {"type_vocab_size": 0}, ValueError, "field 'type_vocab_size'"),
    ("BERT-base", {"hidden_act": "swish"}, ValueError, "field 'hidden_act' must be one of"),
    ("BERT-base", {"hidden_dropout_prob": 1.5}, ValueError, "field 'hidden_dropout_prob'"),
    ("BERT-base", {"layer_norm_eps": "1e-12"}, TypeError, "field 'layer_norm_eps'"),
    ("Mixtral-8x7B", {"num_local_experts": 0}, ValueError, "field 'num_local_experts'"),
    (
        "Mixtral-8x7B",
        {"num_experts_per_tok": None},
        ValueError,
        "lacks \\['num_experts_per_tok'\\]",
    ),
    ("Mixtral-8x7B", {"num_experts_per_tok": 9}, ValueError, "cannot exceed num_experts .8."),
    ("Mixtral-8x7B", {"num_local_experts": "8"}, TypeError, "field 'num_local_experts'"),
    ("DeepSeekMoE-16B", {"n_shared_experts": -1}, ValueError, "field 'n_shared_experts'"),
    ("DeepSeekMoE-16B", {"first_k_dense_replace": 1.5}, TypeError, "first_k_dense_replace"),
    ("DeepSeekMoE-16B", {"moe_layer_freq": 2}, ValueError, "moe_layer_freq != 1"),
    ("DeepSeekMoE-16B", {"scoring_func": "sigmoid"}, ValueError, "field 'scoring_func'"),
    ("DeepSeekMoE-16B", {"norm_topk_prob": "false"}, TypeError, "field 'norm_topk_prob'"),
    ("DeepSeekMoE-16B", {"moe_intermediate_size": None}, ValueError, "lacks"),
]


@pytest.mark.parametrize(
    "name, changes, error, match",
    BAD_HF_CONFIGS,
    ids=[f"{n}-{next(iter(c))}" for n, c, _, _ in BAD_HF_CONFIGS],
)
def test_a_nonsense_config_is_refused_naming_the_field(name, changes, error, match):
    with pytest.raises(error, match=match):
        config_from_hf(_with(name, **changes))


def test_each_class_reads_only_its_own_model_types():
    with pytest.raises(ValueError, match="'model_type' must be one of 'gpt2', 'openai-gpt'"):
        GPTConfig.from_hf(EXAMPLE_HF_CONFIGS["Llama-2-7B"])
    with pytest.raises(ValueError, match="model_type"):
        BertConfig.from_hf(_with("BERT-base", model_type=None))
    with pytest.raises(TypeError, match="config must be a dict"):
        LlamaConfig.from_hf([("model_type", "llama")])


def test_config_json_files(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(TypeError, match="must hold a JSON object, got a list"):
        config_from_hf(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "llama",')
    with pytest.raises(ValueError, match="is not valid JSON"):
        config_from_hf(tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        read_hf_config(tmp_path / "nowhere")
    (tmp_path / "config.json").write_text(json.dumps(_with("GPT-2", n_layer=-3)))
    with pytest.raises(ValueError, match="n_layer"):
        config_from_hf(tmp_path)


BAD_CONFIGS = [
    (GPTConfig, {"tie_weights": "false"}, TypeError, "GPTConfig.tie_weights must be a bool"),
    (GPTConfig, {"dropout": 1.0}, ValueError, "GPTConfig.dropout"),
    (GPTConfig, {"layer_norm_eps": 0.0}, ValueError, "GPTConfig.layer_norm_eps"),
    (GPTConfig, {"d_ff": 0}, ValueError, "GPTConfig.d_ff"),
    (GPTConfig, {"activation": "swish"}, ValueError, "GPTConfig.activation must be one of"),
    (GPTConfig, {"n_layer": -3}, ValueError, "GPTConfig.n_layer"),
    (LlamaConfig, {"num_hidden_layers": -3}, ValueError, "LlamaConfig.num_hidden_layers"),
    (LlamaConfig, {"vocab_size": 0}, ValueError, "LlamaConfig.vocab_size"),
    (LlamaConfig, {"hidden_size": "768"}, TypeError, "LlamaConfig.hidden_size"),
    (LlamaConfig, {"tie_word_embeddings": "false"}, TypeError, "LlamaConfig.tie_word_embeddings"),
    (LlamaConfig, {"head_dim": 0}, ValueError, "LlamaConfig.head_dim"),
    (LlamaConfig, {"rope_theta": 0.0}, ValueError, "LlamaConfig.rope_theta"),
    (LlamaConfig, {"rms_norm_eps": math.inf}, ValueError, "LlamaConfig.rms_norm_eps"),
    (LlamaConfig, {"partial_rotary_factor": 1.5}, ValueError, "LlamaConfig.partial_rotary_factor"),
    (LlamaConfig, {"sliding_window": 0}, ValueError, "LlamaConfig.sliding_window"),
    (LlamaConfig, {"model_type": "t5"}, ValueError, "LlamaConfig.model_type must be one of"),
    (BertConfig, {"num_hidden_layers": -3}, ValueError, "BertConfig.num_hidden_layers"),
    (BertConfig, {"type_vocab_size": 0}, ValueError, "BertConfig.type_vocab_size"),
    (BertConfig, {"dropout": 1.0}, ValueError, "BertConfig.dropout"),
    (BertConfig, {"hidden_act": "tanh"}, ValueError, "BertConfig.hidden_act"),
]


@pytest.mark.parametrize(
    "cls, fields, error, match",
    BAD_CONFIGS,
    ids=[f"{c.__name__}-{next(iter(f))}" for c, f, _, _ in BAD_CONFIGS],
)
def test_a_config_built_by_hand_is_checked_too(cls, fields, error, match):
    with pytest.raises(error, match=match):
        cls(**fields)


# ---------------------------------------------------------------- weights
def _tiny(tie: bool):
    torch.manual_seed(0)
    return tiny_config("qwen2-0.5b", tie_word_embeddings=tie).build()


def test_a_tied_head_may_be_present_or_absent_in_the_checkpoint():
    source = _tiny(tie=True)
    state = source.state_dict()
    for tensors in (state, {k: v for k, v in state.items() if k != "lm_head.weight"}):
        target = _tiny(tie=True)
        torch.nn.init.zeros_(target.model.embed_tokens.weight)
        names = load_hf_state_dict(target, tensors)
        assert "lm_head.weight" not in names
        assert torch.equal(target.lm_head.weight, source.model.embed_tokens.weight)
        assert target.lm_head.weight is target.model.embed_tokens.weight


def test_an_untied_head_must_be_in_the_checkpoint():
    state = _tiny(tie=False).state_dict()
    del state["lm_head.weight"]
    with pytest.raises(ValueError, match="missing 1 \\['lm_head.weight'\\]"):
        load_hf_state_dict(_tiny(tie=False), state)


def test_extra_and_misshapen_tensors_are_named():
    model = _tiny(tie=False)
    state = dict(model.state_dict())
    state["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(4)  # old checkpoints
    assert len(load_hf_state_dict(model, state)) == len(model.state_dict())
    with pytest.raises(ValueError, match="unexpected 1 \\['score.weight'\\]"):
        load_hf_state_dict(model, {**state, "score.weight": torch.zeros(2, 2)})
    state["model.norm.weight"] = torch.ones(3)
    with pytest.raises(ValueError, match="model.norm.weight: checkpoint shape \\(3,\\)"):
        load_hf_state_dict(model, state)


def test_load_hf_state_dict_arguments():
    with pytest.raises(TypeError, match="model must be a Module"):
        load_hf_state_dict({"a": 1}, {})
    with pytest.raises(TypeError, match="tensors must be a dict"):
        load_hf_state_dict(_tiny(tie=False), [torch.zeros(1)])


def test_read_hf_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.safetensors"):
        read_hf_weights(tmp_path)
    torch.save({"a": torch.ones(2)}, tmp_path / "pytorch_model-00001.bin")
    torch.save({"b": torch.zeros(3)}, tmp_path / "pytorch_model-00002.bin")
    assert sorted(read_hf_weights(tmp_path)) == ["a", "b"]


def test_local_model_reads_config_json_through_the_same_checks(tmp_path):
    from course_utils.local_model import load_local_model

    (tmp_path / "config.json").write_text('["qwen2"]')
    with pytest.raises(TypeError, match="must hold a JSON object"):
        load_local_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2", "vocab_size": 0}))
    with pytest.raises(ValueError, match="lacks"):
        load_local_model(tmp_path)
