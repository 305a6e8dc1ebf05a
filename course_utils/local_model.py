"""Run an open checkpoint on your own machine, in the course's own Llama-style code.

Point ``COURSE_LOCAL_MODEL`` at a folder holding a Hugging Face checkpoint
(``config.json``, ``*.safetensors`` or ``pytorch_model*.bin``, ``tokenizer.json``),
for example a small Qwen2 model downloaded on AutoDL with ModelScope or through
a Hugging Face mirror::

    modelscope download --model Qwen/Qwen2-0.5B-Instruct --local_dir /root/autodl-tmp/qwen2-0.5b
    export COURSE_LOCAL_MODEL=/root/autodl-tmp/qwen2-0.5b

``load_local_model`` reads the config with ``LlamaConfig.from_hf``, builds
``LlamaForCausalLM`` and loads the weights by name
(``course_utils.hf_checkpoint.load_hf_state_dict``): the course's module names
are Hugging Face's, so nothing is renamed. Supported: llama, mistral, qwen2.
No ``transformers`` needed; the tokenizer comes from the ``tokenizers`` library.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .hf_checkpoint import load_hf_state_dict, read_hf_config, read_hf_weights
from .llama import LlamaConfig, LlamaForCausalLM

ENV_VAR = "COURSE_LOCAL_MODEL"
LOADABLE_TYPES = ("llama", "mistral", "qwen2")


def local_model_dir() -> Path | None:
    """The folder named by $COURSE_LOCAL_MODEL, or None when unset."""
    value = os.environ.get(ENV_VAR, "").strip()
    return Path(value).expanduser() if value else None


def load_local_model(folder, dtype: torch.dtype = torch.float32, device=None):
    """(model in eval mode, tokenizers.Tokenizer or None, the folder's config.json as a dict)."""
    folder = Path(folder).expanduser()
    if not (folder / "config.json").exists():
        raise FileNotFoundError(
            f"{folder} holds no config.json: point {ENV_VAR} at the checkpoint "
            f"folder itself (the one with config.json and the weights)"
        )
    hf_config = read_hf_config(folder)
    if hf_config.get("model_type") not in LOADABLE_TYPES:
        raise ValueError(
            f"local loading supports model types {', '.join(LOADABLE_TYPES)}; "
            f"{folder} is {hf_config.get('model_type')!r}"
        )
    cfg = LlamaConfig.from_hf(hf_config)
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    model = model.to_empty(device="cpu")  # allocate, uninitialised: the checkpoint fills it
    if cfg.tie_word_embeddings:  # to_empty gave the head a tensor of its own
        model.lm_head.weight = model.model.embed_tokens.weight
    load_hf_state_dict(model, read_hf_weights(folder))
    model = model.to(device=device or "cpu", dtype=dtype).eval()
    tokenizer = None
    if (folder / "tokenizer.json").exists():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return model, tokenizer, hf_config


def _stop_ids(folder: Path, hf_config: dict) -> list[int]:
    ids = []
    gen = folder / "generation_config.json"
    sources = [json.loads(gen.read_text(encoding="utf-8"))] if gen.exists() else []
    for source in sources + [hf_config]:
        eos = source.get("eos_token_id")
        ids += eos if isinstance(eos, list) else [] if eos is None else [eos]
    return sorted(set(ids))


def chat_prompt(user_message: str, folder, system: str = "You are a helpful assistant.") -> str:
    """ChatML (Qwen's template, with its default system line) when the tokenizer uses it;
    otherwise the plain message."""
    cfg_file = Path(folder) / "tokenizer_config.json"
    template = ""
    if cfg_file.exists():
        template = str(json.loads(cfg_file.read_text(encoding="utf-8")).get("chat_template", ""))
    if "<|im_start|>" in template:
        return (
            f"<|im_start|>system\n{system}<|im_end|>\n"
            f"<|im_start|>user\n{user_message}<|im_end|>\n<|im_start|>assistant\n"
        )
    return user_message


def generate_text(
    model,
    tokenizer,
    prompt: str,
    max_new_tokens: int = 64,
    folder=None,
    hf_config: dict | None = None,
    temperature: float = 0.0,
) -> str:
    """Encode prompt, generate greedily (or sample), decode only the new tokens."""
    if tokenizer is None:
        raise ValueError("this checkpoint has no tokenizer.json, so text cannot be encoded")
    device = next(model.parameters()).device
    ids = torch.tensor([tokenizer.encode(prompt).ids], device=device)  # (1, seq)
    stop = _stop_ids(Path(folder), hf_config or {}) if folder is not None else []
    out = model.generate(ids, max_new_tokens, temperature=temperature, eos_token_id=stop or None)
    new = out[0, ids.size(1) :].tolist()
    new = [t for t in new if t not in stop]
    return tokenizer.decode(new)
