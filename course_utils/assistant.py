"""The assistant checkpoint (助手检查点), and ``CourseAssistant``, which talks to it.

Chapter 09 ends with a GPT tuned to follow instructions. Everything needed to talk to it goes
into one file, ``checkpoints/assistant.pt``, written by ``python -m course_utils.make_assistant``.
The format, ``course-assistant-v1``, is a ``torch.save`` dict that ``torch.load(...,
weights_only=True)`` reads::

    format          "course-assistant-v1"
    name            the model's name in the API ("course-assistant")
    model_config    the GPTConfig fields
    itos            the ChatTokenizer's vocabulary (id -> token), the role markers included
    chat_template   "course-chat-v1": <|role|>content<|end|>, from ``chat_template.py``
    normalize       "NFKC": applied to every message before encoding, as to the training text
    weights_dtype   "float16"
    model           the state dict in float16 (half the size; read back as float32)
    provenance      how the file was made (command, stages, metrics, ...), and
                    "weights_sha256", the SHA-256 of the stored weights, checked on load

``CourseAssistant`` applies the template, samples with the course's ``sampling.sample_next``
and stops at ``<|end|>``. ``stream`` yields the answer one token at a time and never a role
marker; ``chat`` returns it whole. It is the backend that ``python -m course_utils.serve``
puts behind an OpenAI-compatible endpoint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Generator
from pathlib import Path

import torch

from .chat_template import MARKERS, ROLES, ChatTokenizer, apply_chat_template, check_messages
from .corpus_cleaning import normalize
from .generation import next_token_logits
from .gpt import GPT, GPTConfig
from .sampling import check_sampling_args, sample_next
from .tools.checks import instance_of, positive_int
from .train_gpt import CheckpointError, read_state, save_state

__all__ = [
    "ASSISTANT_FORMAT",
    "CHAT_TEMPLATE",
    "DEFAULT_ASSISTANT",
    "MAKE_ASSISTANT_COMMAND",
    "how_to_make",
    "CourseAssistant",
    "load_assistant",
    "save_assistant",
    "weights_sha256",
]

ASSISTANT_FORMAT = "course-assistant-v1"
CHAT_TEMPLATE = "course-chat-v1"  # chat_template.py's <|role|>content<|end|>
DEFAULT_ASSISTANT = Path(__file__).resolve().parent.parent / "checkpoints" / "assistant.pt"
MAKE_ASSISTANT_COMMAND = "python -m course_utils.make_assistant"
ASSISTANT_KEYS = ("name", "model_config", "itos", "chat_template", "normalize", "model")


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of the tensors, in name order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _half(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict in float16; a tied tensor (wte = lm_head) stays one tensor, stored once."""
    converted: dict[int, torch.Tensor] = {}
    out = {}
    for name, t in state_dict.items():
        key = t.data_ptr()
        if key not in converted:
            converted[key] = t.detach().cpu().to(torch.float16)
        out[name] = converted[key]
    return out


def save_assistant(
    path: str | os.PathLike,
    model: GPT,
    tokenizer: ChatTokenizer,
    provenance: dict,
    *,
    name: str = "course-assistant",
) -> str:
    """Write the assistant checkpoint atomically; return the weights' SHA-256.

    ``provenance`` says how the model was made (the command, the stages and their configs,
    the metrics); it must be JSON-serialisable, so that anyone can read it back.
    """
    instance_of("model", model, GPT)
    instance_of("tokenizer", tokenizer, ChatTokenizer)  # the markers must be single tokens
    instance_of("provenance", provenance, dict)
    instance_of("name", name, str)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but the model only "
            f"{model.config.vocab_size} (vocab_size): they were not made for each other"
        )
    try:  # the round trip also turns str subclasses (torch.__version__) into plain str,
        provenance = json.loads(json.dumps(provenance))  # which torch.load(weights_only) reads
    except TypeError as exc:
        raise TypeError(f"provenance must be JSON-serialisable: {exc}") from None
    weights = _half(model.state_dict())
    sha = weights_sha256(weights)
    state = {
        "format": ASSISTANT_FORMAT,
        "name": name,
        "model_config": model.config.to_dict(),
        "itos": list(tokenizer.itos),
        "chat_template": CHAT_TEMPLATE,
        "normalize": "NFKC",
        "weights_dtype": "float16",
        "model": weights,
        "provenance": {**provenance, "weights_sha256": sha},
    }
    save_state(state, Path(path))  # a crash never leaves half a file under the real name
    return sha


def how_to_make() -> str:
    """The command that writes the default assistant, or, where the package has none, how to
    write an assistant checkpoint by hand and serve it."""
    if importlib.util.find_spec("course_utils.make_assistant") is not None:
        return f"make one with:\n    {MAKE_ASSISTANT_COMMAND}"
    return (
        "write one with course_utils.assistant.save_assistant(path, model, chat_tokenizer, "
        "provenance) and pass its path (python -m course_utils.serve --checkpoint PATH)"
    )


def load_assistant(
    path: str | os.PathLike = DEFAULT_ASSISTANT, device: str | torch.device = "cpu"
) -> CourseAssistant:
    """Read an assistant checkpoint; check its format, template and weights' SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no assistant checkpoint at {path}; {how_to_make()}")
    state = read_state(path, "an assistant checkpoint", f"; {how_to_make()}")
    if not isinstance(state, dict) or state.get("format") != ASSISTANT_FORMAT:
        raise CheckpointError(
            f"{path} is not an assistant checkpoint (expected format {ASSISTANT_FORMAT!r}); "
            "a checkpoint of chapter 07's trainer is a base model, not an assistant"
        )
    missing = [k for k in ASSISTANT_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path} is incomplete: it has no {missing}")
    if state["chat_template"] != CHAT_TEMPLATE:
        raise CheckpointError(
            f"{path} was trained with the chat template {state['chat_template']!r}; this "
            f"code renders {CHAT_TEMPLATE!r}, and a model answers well only in its own template"
        )
    provenance = state.get("provenance", {})
    if weights_sha256(state["model"]) != provenance.get("weights_sha256"):
        raise CheckpointError(
            f"{path}: the weights do not match the SHA-256 recorded when they were saved "
            f"(corrupt or edited?); {how_to_make()}"
        )
    model = GPTConfig(**state["model_config"]).build()
    model.load_state_dict({k: v.float() for k, v in state["model"].items()})
    return CourseAssistant(
        model.to(device),
        ChatTokenizer(state["itos"]),
        name=state["name"],
        normalize_text=state["normalize"] == "NFKC",
        provenance=provenance,
    )


class CourseAssistant:
    """A course GPT behind the chat template: ``stream``, ``chat``, ``count_prompt_tokens``.

    One generation runs at a time (a lock): GPT's KV cache enters through forward hooks on the
    model's shared W_K and W_V layers, so two generations at once would fill each other's cache.
    """

    roles = ROLES

    def __init__(
        self,
        model: GPT,
        tokenizer: ChatTokenizer,
        *,
        name: str = "course-assistant",
        normalize_text: bool = True,
        provenance: dict | None = None,
    ):
        self.model = instance_of("model", model, GPT).eval()
        self.tokenizer = instance_of("tokenizer", tokenizer, ChatTokenizer)
        self.name = instance_of("name", name, str)
        self.normalize_text = normalize_text
        self.provenance = dict(provenance or {})
        self.stop_ids = {tokenizer.stoi[m] for m in MARKERS}  # <|end|>, and any role marker
        self._lock = threading.Lock()

    @property
    def context_length(self) -> int:
        """The most tokens the model sees: the prompt and the answer together."""
        return self.model.config.block_size

    def prompt_ids(self, messages) -> list[int]:
        """The conversation through the template, ending with ``<|assistant|>``, as ids."""
        messages = check_messages(_as_messages(messages))
        if self.normalize_text:  # the training text was NFKC-normalised; so must the prompt be
            messages = [{**m, "content": normalize(m["content"])} for m in messages]
        return self.tokenizer.encode(apply_chat_template(messages, add_generation_prompt=True))

    def count_prompt_tokens(self, messages) -> int:
        return len(self.prompt_ids(messages))

    def stream(
        self,
        messages,
        max_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> Generator[str, None, str]:
        """Yield the answer one token at a time; the generator returns the finish reason.

        "stop": the model wrote ``<|end|>`` (or a role marker), which is never yielded;
        "length": ``max_tokens`` tokens, or the context is full. ``temperature=0`` is greedy;
        ``seed`` fixes the sampling. ``messages`` is a list of ``{"role", "content"}`` dicts
        or one user message as a string. Bad arguments raise here, before any generation.
        """
        ids = self.prompt_ids(messages)
        positive_int("max_tokens", max_tokens)
        check_sampling_args(temperature, None, top_p)
        room = self.context_length - len(ids)
        if room < 1:
            raise ValueError(
                f"the conversation is {len(ids)} tokens long and the model's context is "
                f"{self.context_length}: no room is left for an answer; drop early turns"
            )
        generator = torch.Generator()
        if seed is None:
            generator.seed()  # a fresh random seed (a new Generator always starts from the same)
        else:
            generator.manual_seed(seed)
        top_p_or_none = None if top_p >= 1 else top_p  # 1 keeps every token: no filter
        return self._tokens(ids, min(max_tokens, room), temperature, top_p_or_none, generator)

    def _tokens(self, ids, n, temperature, top_p, generator) -> Generator[str, None, str]:
        with self._lock:
            device = self.model.wte.weight.device
            idx = torch.tensor([ids], dtype=torch.long, device=device)  # (1, seq)
            cache = self.model.new_cache()
            for _ in range(n):
                with torch.no_grad():  # only around the maths: a caller between tokens keeps grad
                    logits = next_token_logits(self.model, idx, cache)  # (1, vocab)
                    next_id = sample_next(
                        logits, temperature=temperature, top_p=top_p, generator=generator
                    )  # (1, 1)
                token = int(next_id)
                if token in self.stop_ids:
                    return "stop"
                idx = torch.cat([idx, next_id], dim=1)  # (1, seq + 1)
                yield self.tokenizer.decode([token])
            return "length"

    def chat(
        self,
        messages,
        max_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> str:
        """The whole answer as one string (``stream``'s pieces joined)."""
        return "".join(self.stream(messages, max_tokens, temperature, top_p, seed))

    def __repr__(self) -> str:
        c = self.model.config
        return (
            f"CourseAssistant(name={self.name!r}, layers={c.n_layer}, d_model={c.d_model}, "
            f"context={c.block_size}, vocab={len(self.tokenizer)})"
        )


def _as_messages(messages):
    """One string is one user message."""
    return [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
