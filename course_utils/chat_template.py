"""A chat template with role markers, and the loss mask that keeps only the assistant's words.

A conversation is a list of ``{"role": ..., "content": ...}`` messages: an optional system
message first, then user and assistant turns in alternation. Each message becomes

    <|role|>content<|end|>

and a prompt for the model ends with ``<|assistant|>`` (the *generation prompt*), so the
model's next tokens are the assistant's answer, closed by ``<|end|>``. In supervised
fine-tuning only the assistant's content and its ``<|end|>`` carry loss: the model learns to
answer, not to write the user's questions.

The markers must be single tokens. ``ChatTokenizer`` is the course's ``CharTokenizer`` with
the four markers as extra tokens after ``<unk>``; real tokenizers add them as "special tokens".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .gpt import GPT
from .gpt_classifier import hidden_states
from .tools.checks import instance_of, non_empty, one_of, positive_int, tensor_shape
from .vocab import UNK, CharTokenizer, right_pad

ROLES = ("system", "user", "assistant")
END = "<|end|>"
MARKERS = tuple(f"<|{role}|>" for role in ROLES) + (END,)
IGNORE_INDEX = -100  # the target F.cross_entropy skips (its default ignore_index)


def role_marker(role: str) -> str:
    """``<|role|>`` for one of ROLES."""
    return f"<|{one_of('role', role, ROLES)}|>"


class ChatTokenizer(CharTokenizer):
    """A ``CharTokenizer`` whose role markers and ``<|end|>`` are single tokens.

    ``encode`` cuts a text at the markers first, then into characters, so
    ``encode("<|user|>你好<|end|>")`` gives 4 ids. ``from_texts`` puts the markers right after
    ``<unk>``; ``sft.add_chat_tokens`` appends them to a pre-trained model's vocabulary instead.
    """

    def __init__(self, itos: Sequence[str]) -> None:
        super().__init__(itos)
        missing = [m for m in MARKERS if m not in self.stoi]
        if missing:
            raise ValueError(
                f"a ChatTokenizer needs the markers {list(MARKERS)} in itos; missing {missing} "
                "(build it with ChatTokenizer.from_texts)"
            )
        self._split = re.compile("(" + "|".join(re.escape(m) for m in MARKERS) + ")")

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> ChatTokenizer:
        """<unk>, the markers, then the characters of ``texts`` and "\\n", sorted."""
        return cls([UNK, *MARKERS, *sorted({c for t in texts for c in t} | {"\n"})])

    def encode(self, tokens) -> list[int]:
        if not isinstance(tokens, str):
            return super().encode(tokens)  # already a list of tokens
        ids: list[int] = []
        for piece in self._split.split(tokens):  # markers at the odd indices
            ids += [self.stoi[piece]] if piece in MARKERS else super().encode(list(piece))
        return ids

    def __repr__(self) -> str:
        return f"ChatTokenizer(size={len(self)}, markers={list(MARKERS)})"


def check_messages(messages) -> list[dict]:
    """``messages`` if it is a conversation the template can render (see the module doc)."""
    if not isinstance(messages, list | tuple):
        raise TypeError(
            f"messages must be a list of {{'role': ..., 'content': ...}} dicts, "
            f"got {type(messages).__name__}"
        )
    non_empty("messages", messages)
    expected = "user"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not {"role", "content"} <= set(m):
            raise TypeError(f"messages[{i}] must be a dict with 'role' and 'content', got {m!r}")
        role, content = one_of(f"messages[{i}]['role']", m["role"], ROLES), m["content"]
        instance_of(f"messages[{i}]['content']", content, str)
        if not content.strip():
            raise ValueError(f"messages[{i}] ({role}) has empty content: every message needs text")
        inside = [k for k in MARKERS if k in content]
        if inside:
            raise ValueError(
                f"messages[{i}] ({role}) contains the marker {inside[0]!r}; a marker inside a "
                "message would end or start a turn"
            )
        if role == "system" and i == 0:
            continue
        if role != expected:
            raise ValueError(
                f"messages[{i}] is {role!r} where {expected!r} was expected: an optional system "
                "message first, then user and assistant in turn"
            )
        expected = "assistant" if role == "user" else "user"
    return list(messages)


def apply_chat_template(messages, add_generation_prompt: bool = False) -> str:
    """The conversation as one string; with ``add_generation_prompt`` it ends with
    ``<|assistant|>``, the cue for the model to answer."""
    messages = check_messages(messages)
    instance_of("add_generation_prompt", add_generation_prompt, bool)
    text = "".join(role_marker(m["role"]) + m["content"] + END for m in messages)
    if add_generation_prompt:
        if messages[-1]["role"] == "assistant":
            raise ValueError(
                "add_generation_prompt=True after an assistant turn: the conversation must end "
                "with the user's message for the assistant to answer it"
            )
        text += role_marker("assistant")
    return text


def encode_chat(tokenizer, messages, block_size: int) -> tuple[list[int], list[int]]:
    """Token ids of the conversation and a 0/1 loss mask, two lists of the same length.

    The mask is 1 on each assistant message's content and its ``<|end|>``, 0 on markers and
    on system and user messages. A conversation longer than the context is an error (training
    reads ``block_size + 1`` tokens: inputs and targets shifted by one), never a silent cut.
    """
    messages = check_messages(messages)
    positive_int("block_size", block_size)
    end = _marker_ids(tokenizer, END)
    ids: list[int] = []
    mask: list[int] = []
    for m in messages:
        head = _marker_ids(tokenizer, role_marker(m["role"]))
        body = tokenizer.encode(m["content"]) + end
        ids += head + body
        mask += [0] * len(head) + [int(m["role"] == "assistant")] * len(body)
    if len(ids) > block_size + 1:
        raise ValueError(
            f"the conversation is {len(ids)} tokens long ({sum(mask)} of them the assistant's); "
            f"a model with block_size {block_size} trains on at most {block_size + 1} "
            "(inputs and targets are the ids shifted by one)"
        )
    return ids, mask


def _marker_ids(tokenizer, marker: str) -> list[int]:
    ids = tokenizer.encode(marker)
    unk = getattr(tokenizer, "unk_index", None)
    if unk is not None and unk in ids:
        raise ValueError(
            f"the tokenizer has no token for the marker {marker!r} (it encodes to <unk>); "
            "use a ChatTokenizer, whose markers are single tokens"
        )
    return ids


def sft_example(tokenizer, messages, block_size: int) -> tuple[list[int], list[int]]:
    """(inputs, targets) for next-token training: targets are the ids shifted by one, with
    IGNORE_INDEX where the loss mask is 0, so only the assistant's tokens are learned."""
    ids, mask = encode_chat(tokenizer, messages, block_size)
    if not any(mask):
        raise ValueError("the conversation has no assistant message: there is nothing to learn")
    x = ids[:-1]  # (seq,)
    y = [t if keep else IGNORE_INDEX for t, keep in zip(ids[1:], mask[1:])]  # (seq,)
    return x, y


def pad_sft_batch(examples, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """[(inputs, targets), ...] -> x (batch, seq) padded with ``pad_id``, y (batch, seq) padded
    with IGNORE_INDEX. Right padding changes no earlier position under a causal mask."""
    non_empty("examples", examples)
    for i, (x, y) in enumerate(examples):
        if len(x) != len(y):
            raise ValueError(
                f"examples[{i}] has {len(x)} inputs and {len(y)} targets; they must be equal"
            )
    x, _ = right_pad([x for x, _ in examples], pad_id)  # (batch, seq)
    y, _ = right_pad([y for _, y in examples], IGNORE_INDEX)  # (batch, seq)
    return x, y


def masked_lm_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the targets that are not IGNORE_INDEX (a scalar).

    The mean is over all answer tokens of the batch, so a long answer weighs more than a short
    one (as in Hugging Face's trainers)."""
    dims = tensor_shape("x", x, "batch seq", dtype=torch.long)
    tensor_shape("y", y, "batch seq", dims, dtype=torch.long)
    keep = y != IGNORE_INDEX  # (batch, seq)
    if not keep.any():
        raise ValueError("every target is IGNORE_INDEX: the batch has no answer token to learn")
    logits = kept_logits(model, x, keep)  # (n_kept, vocab)
    return F.cross_entropy(logits.float(), y[keep])  # mean over the kept targets


def kept_logits(model, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(n_kept, vocab) the logits at the positions where ``keep`` (batch, seq) is True.

    For a course GPT the output head, a quarter of the weights of chapter 09's model, runs
    only at those positions (``gpt_classifier.hidden_states``, then ``lm_head``): the same
    numbers as ``model(x)`` there, in about half the time of an SFT step. Any other model
    that returns (logits, ...) is run whole and indexed."""
    if isinstance(model, GPT):
        return model.lm_head(hidden_states(model, x)[keep])  # (n_kept, vocab)
    return model(x)[0][keep]  # (n_kept, vocab)
