"""A Hugging Face checkpoint in the course's models: config.json to a config, tensors to weights.

``config_from_hf`` reads a ``config.json`` (a dict, a path, or a ``transformers``
config object) and hands it to the config class registered for its
``model_type``. That class's ``from_hf`` translates its family's fields and
checks each one:

============================================  ================================
model_type                                    course config
============================================  ================================
gpt2, openai-gpt                              ``course_utils.gpt.GPTConfig``
bert                                          ``course_utils.bert.BertConfig``
llama, mistral, qwen2, chatglm, baichuan,     ``course_utils.llama.LlamaConfig``
mixtral, deepseek (mixtures of experts)
============================================  ================================

A new family is a config class with ``HF_MODEL_TYPES`` and ``from_hf``, added
to ``CONFIG_CLASSES``.

``load_hf_state_dict`` copies a checkpoint's tensors into a course model by
name, and ``read_hf_weights`` reads them from a folder (``*.safetensors`` or
``pytorch_model*.bin``). ``EXAMPLE_HF_CONFIGS`` holds published configs, copied
so that the course runs offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .bert import BertConfig, BertModel, hf_to_course_name
from .gpt import GPTConfig
from .llama import LlamaConfig
from .tools.checks import instance_of

CONFIG_CLASSES = (GPTConfig, BertConfig, LlamaConfig)
CONFIG_FOR_MODEL_TYPE = {t: cls for cls in CONFIG_CLASSES for t in cls.HF_MODEL_TYPES}
SUPPORTED_MODEL_TYPES = tuple(CONFIG_FOR_MODEL_TYPE)


# ---------------------------------------------------------------- config.json
def read_hf_config(config) -> dict:
    """The config.json dict of a dict, a transformers config, a checkpoint folder or a file."""
    if isinstance(config, str | Path):
        path = Path(config)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"no config.json at {path}")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(config, dict):
            raise TypeError(f"{path} must hold a JSON object, got a {type(config).__name__}")
        return config
    if hasattr(config, "to_dict") and not isinstance(config, dict):  # a transformers config
        config = config.to_dict()
    if not isinstance(config, dict):
        raise TypeError(
            f"config must be a dict (parsed config.json), a path or a transformers config, "
            f"got {type(config).__name__}"
        )
    return config


def config_from_hf(config):
    """The course's config for a Hugging Face config.json: GPTConfig, BertConfig or LlamaConfig."""
    d = read_hf_config(config)
    model_type = d.get("model_type")
    if not isinstance(model_type, str) or model_type not in CONFIG_FOR_MODEL_TYPE:
        raise ValueError(
            f"model_type {model_type!r} is not supported; supported types are "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    return CONFIG_FOR_MODEL_TYPE[model_type].from_hf(d)


# ---------------------------------------------------------------- weights
def _same_name(name: str) -> str | None:
    """The Llama family's module names are Hugging Face's; rotary frequencies are not weights."""
    return None if name.endswith("rotary_emb.inv_freq") else name


# Checkpoint name -> course name (None: skip), for models whose names differ from the checkpoint's.
HF_NAMES: dict[type, Callable[[str], str | None]] = {BertModel: hf_to_course_name}


def _tied_names(model: nn.Module) -> set[str]:
    """Second names of a shared tensor (a tied output head): the checkpoint may omit them."""
    first = {name for name, _ in model.named_parameters()}
    return {name for name, _ in model.named_parameters(remove_duplicate=False)} - first


def load_hf_state_dict(model: nn.Module, tensors: dict, rename=None) -> list[str]:
    """Copy a Hugging Face state dict into a course model, by name; return the names loaded.

    ``rename`` maps a checkpoint name to the course's (None skips the tensor). By
    default it comes from ``HF_NAMES`` (BERT's ``hf_to_course_name``); other models
    (the Llama family) keep the checkpoint's names. A tied output head may be
    absent. Every other weight of ``model`` must be filled and every checkpoint
    tensor used, each with the model's shape: anything else raises a ValueError
    naming it.
    """
    instance_of("model", model, nn.Module)
    instance_of("tensors", tensors, dict)
    rename = rename or HF_NAMES.get(type(model), _same_name)
    tied = _tied_names(model)
    state = {}
    for name, tensor in tensors.items():
        ours = rename(name)
        if ours is not None and ours not in tied:
            state[ours] = tensor
    own = {k: v for k, v in model.state_dict().items() if k not in tied}
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"checkpoint does not fit the model: missing {len(missing)} {missing[:5]}, "
            f"unexpected {len(unexpected)} {unexpected[:5]}"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise ValueError(
                f"{name}: checkpoint shape {tuple(tensor.shape)}, model expects "
                f"{tuple(own[name].shape)}"
            )
    model.load_state_dict(state, strict=False)
    return sorted(state)


def read_hf_weights(folder) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint folder: its *.safetensors files, else pytorch_model*.bin."""
    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    if files:
        from safetensors.torch import load_file

        return {k: v for f in files for k, v in load_file(str(f)).items()}
    files = sorted(folder.glob("pytorch_model*.bin"))
    if files:
        return {
            k: v
            for f in files
            for k, v in torch.load(f, map_location="cpu", weights_only=True).items()
        }
    raise FileNotFoundError(f"no *.safetensors or pytorch_model*.bin files in {folder}")


# ---------------------------------------------------------------- published config.json files
# The size-relevant fields of each model's config.json as published on the Hugging Face Hub
# (meta-llama/Llama-2-7b-hf, mistralai/Mistral-7B-v0.1, Qwen/Qwen2-7B, THUDM/chatglm3-6b,
# baichuan-inc/Baichuan-7B, baichuan-inc/Baichuan-13B-Base, openai-community/gpt2,
# openai-community/openai-gpt, google-bert/bert-base-uncased, mistralai/Mixtral-8x7B-v0.1,
# deepseek-ai/deepseek-moe-16b-base), copied so the course runs offline.
# fmt: off
EXAMPLE_HF_CONFIGS: dict[str, dict] = {
    "Llama-2-7B": {"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096,
                   "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": 32, "max_position_embeddings": 4096,
                   "rms_norm_eps": 1e-05, "tie_word_embeddings": False},
    "Mistral-7B": {"model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096,
                   "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": 8, "max_position_embeddings": 32768,
                   "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
                   "tie_word_embeddings": False},
    "Qwen2-7B": {"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584,
                 "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                 "num_key_value_heads": 4, "max_position_embeddings": 131072, "rms_norm_eps": 1e-06,
                 "rope_theta": 1000000.0, "tie_word_embeddings": False},
    "ChatGLM3-6B": {"model_type": "chatglm", "padded_vocab_size": 65024, "hidden_size": 4096,
                    "ffn_hidden_size": 13696, "kv_channels": 128, "num_layers": 28,
                    "num_attention_heads": 32, "multi_query_attention": True,
                    "multi_query_group_num": 2, "add_bias_linear": False, "add_qkv_bias": True,
                    "layernorm_epsilon": 1e-05, "rmsnorm": True, "seq_length": 8192},
    "Baichuan-7B": {"model_type": "baichuan", "vocab_size": 64000, "hidden_size": 4096,
                    "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
                    "max_position_embeddings": 4096, "rms_norm_eps": 1e-06},
    "Baichuan-13B": {"model_type": "baichuan", "vocab_size": 64000, "hidden_size": 5120,
                     "intermediate_size": 13696, "num_hidden_layers": 40, "num_attention_heads": 40,
                     "model_max_length": 4096, "rms_norm_eps": 1e-06},
    "GPT-2": {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768,
              "n_layer": 12, "n_head": 12, "layer_norm_epsilon": 1e-05},
    "GPT-1": {"model_type": "openai-gpt", "vocab_size": 40478, "n_positions": 512, "n_embd": 768,
              "n_layer": 12, "n_head": 12, "layer_norm_epsilon": 1e-05},
    "BERT-base": {"model_type": "bert", "vocab_size": 30522, "hidden_size": 768,
                  "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                  "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
                  "hidden_act": "gelu"},
    "Mixtral-8x7B": {"model_type": "mixtral", "vocab_size": 32000, "hidden_size": 4096,
                     "intermediate_size": 14336, "num_hidden_layers": 32,
                     "num_attention_heads": 32, "num_key_value_heads": 8,
                     "max_position_embeddings": 32768, "rms_norm_eps": 1e-05,
                     "rope_theta": 1000000.0, "sliding_window": None, "num_local_experts": 8,
                     "num_experts_per_tok": 2, "tie_word_embeddings": False},
    "DeepSeekMoE-16B": {"model_type": "deepseek", "vocab_size": 102400, "hidden_size": 2048,
                        "intermediate_size": 10944, "moe_intermediate_size": 1408,
                        "num_hidden_layers": 28, "num_attention_heads": 16,
                        "num_key_value_heads": 16, "n_shared_experts": 2, "n_routed_experts": 64,
                        "num_experts_per_tok": 6, "moe_layer_freq": 1,
                        "first_k_dense_replace": 1, "norm_topk_prob": False,
                        "scoring_func": "softmax", "max_position_embeddings": 4096,
                        "rms_norm_eps": 1e-06, "rope_theta": 10000, "attention_bias": False,
                        "tie_word_embeddings": False},
}
# fmt: on
