"""Supervised fine-tuning (指令微调, SFT): a base GPT learns to answer in the chat template.

Four steps, each a function:

* ``add_chat_tokens``: the base model's character vocabulary has no role markers, so the four
  ``MARKERS`` are appended at its end (every old id keeps its meaning) and the token table
  ``wte`` and the output head ``lm_head`` grow by one row each, initialised to the mean of
  the old rows;
* ``train_sft``: next-token training on conversations with the loss on the assistant's tokens
  only (``chat_template.masked_lm_loss``), warm-up then cosine learning rate, AdamW, clipping.
  ``params`` trains a subset (LoRA's A and B); ``train_new_token_rows`` then also trains the
  markers' rows of the frozen embedding and head, and no other row;
* ``generate_answers``: batched greedy decoding of chat prompts, each answer cut at its
  ``<|end|>``; with ``chat=False``, of plain prompts (``few_shot_prompt``, for the base model),
  cut at the end of the line;
* ``sample_answers``: ``n`` sampled answers per instruction, from one seeded generator, for
  DPO's rejected answers and GRPO's groups;
* ``task_accuracy``: exact match per task (``instruction_data.is_correct``), with the Wilson
  interval and the per-example right/wrong list for paired comparisons.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .chat_template import (
    END,
    IGNORE_INDEX,
    MARKERS,
    ChatTokenizer,
    apply_chat_template,
    masked_lm_loss,
    pad_sft_batch,
    sft_example,
)
from .generation import generate
from .gpt import GPT
from .instruction_data import Example, is_correct
from .statistics import wilson_interval
from .tools.checks import (
    finite_number,
    instance_of,
    non_empty,
    non_negative_int,
    positive_int,
)
from .train_gpt import TrainConfig, lr_at
from .vocab import CharTokenizer

__all__ = [
    "SFTConfig",
    "TaskScore",
    "add_chat_tokens",
    "as_conversation",
    "few_shot_prompt",
    "generate_answers",
    "sample_answers",
    "task_accuracy",
    "train_sft",
]


# ------------------------------------------------------------------ new tokens


def add_chat_tokens(model: GPT, tokenizer: CharTokenizer) -> tuple[GPT, ChatTokenizer]:
    """A copy of ``model`` that knows the four MARKERS, and its ``ChatTokenizer``.

    The markers are appended after the last id, so every old id keeps its row. ``wte`` and
    ``lm_head`` gain one row per marker, each the mean of the old rows, as Hugging Face's
    ``resize_token_embeddings(..., mean_resizing=True)`` does (it adds noise of 1e-9 times the
    rows' covariance, left out here). A mean row in the head gives each marker the mean of the
    old logits: below the largest, so no greedy choice changes, and as exp(mean) <= mean(exp)
    the four markers together take at most 4 / (V + 4) of the probability (V old tokens).
    Logits of old tokens on old ids are unchanged; a tied head stays tied. ``model`` itself is
    not modified.
    """
    instance_of("model", model, GPT)
    instance_of("tokenizer", tokenizer, CharTokenizer)
    present = [m for m in MARKERS if m in tokenizer.stoi]
    if present:
        raise ValueError(
            f"the tokenizer already has the markers {present}: it is a chat vocabulary "
            "already; add_chat_tokens takes the base model's tokenizer"
        )
    old = model.config.vocab_size
    if len(tokenizer) != old:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens and the model {old} rows "
            "(vocab_size): they were not made for each other"
        )
    chat = copy.deepcopy(model)
    chat.wte = _grown_embedding(model.wte, len(MARKERS))  # (old + 4, d_model)
    chat.lm_head = _grown_head(model.lm_head, len(MARKERS))  # (old + 4, d_model)
    if model.lm_head.weight is model.wte.weight:  # tied: one table for input and output
        chat.lm_head.weight = chat.wte.weight
    chat.config.vocab_size = old + len(MARKERS)
    return chat, ChatTokenizer([*tokenizer.itos, *MARKERS])


def _mean_rows(weight: torch.Tensor, n_new: int) -> torch.Tensor:
    """(old, d) -> (old + n_new, d): the old rows, then n_new copies of their mean."""
    mean = weight.detach().mean(dim=0)  # (d,)
    return torch.cat([weight.detach(), mean.expand(n_new, -1)])  # (old + n_new, d)


def _grown_embedding(wte: nn.Embedding, n_new: int) -> nn.Embedding:
    grown = _mean_rows(wte.weight, n_new)  # (old + n_new, d_model)
    return nn.Embedding.from_pretrained(grown, freeze=not wte.weight.requires_grad)


def _grown_head(head: nn.Linear, n_new: int) -> nn.Linear:
    """GPT's head (no bias) with n_new mean rows appended."""
    w = head.weight
    grown = nn.Linear(head.in_features, head.out_features + n_new, bias=False)
    grown = grown.to(device=w.device, dtype=w.dtype)
    with torch.no_grad():
        grown.weight.copy_(_mean_rows(w, n_new))  # (old + n_new, d_model)
    return grown.requires_grad_(w.requires_grad)


# ------------------------------------------------------------------ training


@dataclass
class SFTConfig:
    """How SFT trains: the steps, and chapter 07's recipe (``train_gpt``) for each step."""

    steps: int = 300
    batch_size: int = 32  # conversations per step, drawn with replacement
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 20
    weight_decay: float = 0.0  # decay pulls towards 0, not towards the pre-trained weights
    grad_clip: float = 1.0  # 0: no clipping
    seed: int = 0

    def __post_init__(self):
        positive_int("SFTConfig.steps", self.steps)
        positive_int("SFTConfig.batch_size", self.batch_size)
        non_negative_int("SFTConfig.warmup", self.warmup)
        non_negative_int("SFTConfig.seed", self.seed)
        finite_number("SFTConfig.lr", self.lr, low=0, low_inclusive=False)
        finite_number("SFTConfig.min_lr (at most lr)", self.min_lr, low=0, high=self.lr)
        finite_number("SFTConfig.weight_decay", self.weight_decay, low=0)
        finite_number("SFTConfig.grad_clip (0: no clipping)", self.grad_clip, low=0)

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay from lr to min_lr (``train_gpt.lr_at``)."""
        schedule = TrainConfig(steps=self.steps, lr=self.lr, min_lr=self.min_lr, warmup=self.warmup)
        return lr_at(step, schedule)


def as_conversation(item) -> list[dict]:
    """An ``Example`` as a user/assistant exchange; a list of messages as it is."""
    if isinstance(item, Example):
        return [
            {"role": "user", "content": item.instruction},
            {"role": "assistant", "content": item.answer},
        ]
    return item


def encode_conversations(tokenizer, items, block_size: int) -> list[tuple[list, list]]:
    """(inputs, targets) of ``chat_template.sft_example`` for each Example or conversation."""
    non_empty("examples", items)
    out = []
    for i, item in enumerate(items):
        try:
            out.append(sft_example(tokenizer, as_conversation(item), block_size))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"examples[{i}]: {exc}") from None
    return out


def step_seed(seed: int, step: int) -> int:
    """One seed per (seed, step), as ``train_gpt.get_batch`` makes it."""
    return seed * 1_000_003 + step


def batch_indices(n_items: int, batch_size: int, seed: int, step: int) -> list[int]:
    """The items of step ``step``: drawn with replacement from a generator seeded by
    ``step_seed(seed, step)``, as ``train_gpt.get_batch`` draws its windows."""
    g = torch.Generator().manual_seed(step_seed(seed, step))
    return torch.randint(n_items, (batch_size,), generator=g).tolist()


def new_token_rows(model: GPT, tokenizer: ChatTokenizer) -> dict[torch.Tensor, torch.Tensor]:
    """The embedding and head weights, each with a (vocab, 1) mask: 1 on the markers' rows."""
    instance_of("tokenizer", tokenizer, ChatTokenizer)
    mask = torch.zeros_like(model.wte.weight[:, :1])  # (vocab, 1), on its device, in its dtype
    mask[[tokenizer.stoi[m] for m in MARKERS]] = 1.0
    return {model.wte.weight: mask, model.lm_head.weight: mask}  # a tied head: one entry


def make_sft_optimizer(
    params: list[torch.Tensor], cfg: SFTConfig, no_decay: Sequence[torch.Tensor] = ()
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only, as ``train_gpt.make_optimizer``; ``no_decay``
    are never decayed (decoupled decay would shrink the frozen rows of a masked embedding)."""
    skip = {id(p) for p in no_decay}
    decay = [p for p in params if p.dim() >= 2 and id(p) not in skip]
    rest = [p for p in params if not (p.dim() >= 2 and id(p) not in skip)]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def trained_parameters(model: nn.Module, params) -> list[torch.Tensor]:
    """``params`` (each once), checked to be the model's; None: those that require grad."""
    if params is None:
        return [p for p in model.parameters() if p.requires_grad]
    own = {id(p) for p in model.parameters()}
    params = non_empty("params", list(params))
    unique = list({id(p): p for p in params}.values())  # a tied tensor once
    for i, p in enumerate(unique):
        if id(instance_of(f"params[{i}]", p, nn.Parameter)) not in own:
            raise ValueError(f"params[{i}] (shape {tuple(p.shape)}) is not a parameter of model")
    return unique


def train_sft(
    model: GPT,
    tokenizer: ChatTokenizer,
    examples,
    cfg: SFTConfig,
    params=None,
    progress=None,
    *,
    train_new_token_rows: bool = False,
) -> dict:
    """Fine-tune ``model`` in place on ``examples`` (``Example``s or conversations); return
    {"losses": one per step, "cpu_s", "wall_s"}. The model is left in eval mode.

    ``params``: train only these (default: every parameter that requires grad); the others are
    frozen during training and get their ``requires_grad`` back afterwards. With
    ``train_new_token_rows``, the token table and the head are trained too, through a gradient
    hook that zeroes every row but the markers' (and without weight decay on them), so a
    frozen base learns what its new tokens mean. ``progress``: a tqdm-like bar, one
    ``update(1)`` per step.
    """
    instance_of("cfg", cfg, SFTConfig)
    instance_of("train_new_token_rows", train_new_token_rows, bool)
    data = encode_conversations(tokenizer, examples, model.config.block_size)
    trained = trained_parameters(model, params)
    rows = new_token_rows(model, tokenizer) if train_new_token_rows else {}
    if {id(p) for p in rows} & {id(p) for p in trained}:
        raise ValueError(
            "train_new_token_rows trains the markers' rows of a frozen token table, but wte "
            "or lm_head is already among the trained parameters (all its rows are trained)"
        )
    non_empty("the trained parameters (none requires grad)", trained)
    trained += list(rows)
    optimizer = make_sft_optimizer(trained, cfg, no_decay=list(rows))
    flags = {p: p.requires_grad for p in model.parameters()}
    model.requires_grad_(False)
    for p in trained:
        p.requires_grad_(True)
    hooks = [p.register_hook(lambda g, m=m: g * m) for p, m in rows.items()]  # g: (vocab, d)
    try:
        return _train_loop(model, data, cfg, optimizer, trained, progress)
    finally:
        for h in hooks:
            h.remove()
        for p, flag in flags.items():
            p.requires_grad_(flag)
        model.eval()


def _train_loop(model, data, cfg: SFTConfig, optimizer, trained, progress) -> dict:
    dropout, device = model.config.dropout > 0, model.wte.weight.device
    model.train()
    losses = []
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr_at(step)
        chosen = batch_indices(len(data), cfg.batch_size, cfg.seed, step)  # (batch,)
        x, y = pad_sft_batch([data[i] for i in chosen])  # (batch, seq) each
        if dropout:  # dropout masks from (seed, step) too, as in train_gpt
            torch.manual_seed(step_seed(cfg.seed, step))
        loss = masked_lm_loss(model, x.to(device), y.to(device))  # x, y: (batch, seq)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(trained, cfg.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        if progress is not None:
            progress.update(1)
    return {"losses": losses, "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0}


# ------------------------------------------------------------------ generation


def few_shot_prompt(shots: Sequence[Example], instruction: str, max_len: int | None = None) -> str:
    """A plain-text prompt for the base model, which never saw a role marker::

        问:<shot instruction>\\n答:<shot answer>\\n ... 问:<instruction>\\n答:

    With ``max_len`` (characters, the tokens of a character tokenizer), the earliest shots are
    dropped until the prompt fits; it is an error if the question alone does not.
    """
    for i, e in enumerate(shots):
        instance_of(f"shots[{i}]", e, Example)
    non_empty("instruction", instance_of("instruction", instruction, str))
    query = f"问:{instruction}\n答:"
    kept = [f"问:{e.instruction}\n答:{e.answer}\n" for e in shots]
    if max_len is not None:
        if len(query) > positive_int("max_len", max_len):
            raise ValueError(
                f"the question alone is {len(query)} characters, over max_len {max_len}"
            )
        while len("".join(kept)) + len(query) > max_len:
            kept.pop(0)
    return "".join(kept) + query


def chat_prompt_ids(tokenizer: ChatTokenizer, prompt) -> list[int]:
    """An instruction (one user message) or a conversation, rendered with the generation
    prompt ``<|assistant|>`` at the end, as ids."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return tokenizer.encode(apply_chat_template(messages, add_generation_prompt=True))


def answer_example(
    tokenizer: ChatTokenizer, instruction: str, answer: str, block_size: int
) -> tuple[list[int], list[int]]:
    """(inputs, targets) of one instruction and one answer, as ``sft_example`` makes them, for
    an answer the model sampled: it may be empty (the model ended at once; its ``<|end|>`` is
    still a token with a probability). Targets are on the answer and its ``<|end|>`` only."""
    instance_of("answer", answer, str)
    prompt = chat_prompt_ids(tokenizer, instruction)  # ... <|assistant|>
    body = tokenizer.encode(answer) + [tokenizer.stoi[END]]
    ids = prompt + body
    if len(ids) > positive_int("block_size", block_size) + 1:
        raise ValueError(
            f"the prompt and answer are {len(ids)} tokens; a model with block_size "
            f"{block_size} scores at most {block_size + 1}"
        )
    return ids[:-1], [IGNORE_INDEX] * (len(prompt) - 1) + body


def stop_ids(tokenizer, chat: bool) -> list[int]:
    """Chat: every marker (``<|end|>``, or a role marker that would start a new turn);
    plain text: the newline."""
    if chat:
        return [tokenizer.stoi[m] for m in MARKERS]
    if "\n" not in tokenizer.stoi:
        raise ValueError("the tokenizer has no newline token to stop a plain answer at")
    return [tokenizer.stoi["\n"]]


def continuations(
    model: GPT,
    prompts: list[list[int]],
    max_new_tokens: int,
    stop: list[int],
    batch_size: int,
    *,
    temperature: float = 0.0,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """The continuation of each prompt (ids), cut before its first stop id: greedy at
    ``temperature=0``, else sampled (seeded by ``generator``).

    GPT has learned absolute positions and no padding mask, so prompts are batched only with
    prompts of the same length (a bucket): no padding at all, and each row computes what it
    would alone. A row never runs past the context: at most block_size - len(prompt) tokens.
    """
    buckets: dict[int, list[int]] = {}
    for i, ids in enumerate(prompts):
        buckets.setdefault(len(ids), []).append(i)
    device = model.wte.weight.device
    out: list[list[int]] = [[] for _ in prompts]
    for length, members in sorted(buckets.items()):
        room = model.config.block_size - length
        if room < 1:
            raise ValueError(
                f"a prompt of {length} tokens leaves no room for an answer in the context of "
                f"{model.config.block_size}; shorten it (fewer shots, a shorter instruction)"
            )
        for s in range(0, len(members), batch_size):
            chunk = members[s : s + batch_size]
            idx = torch.tensor([prompts[i] for i in chunk], device=device)  # (batch, length)
            new = generate(
                model,
                idx,
                min(max_new_tokens, room),
                temperature=temperature,
                top_p=top_p,
                eos_token_id=stop,
                generator=generator,
            )[:, length:]  # (batch, <= max_new)
            for i, row in zip(chunk, new.tolist()):
                out[i] = _cut(row, stop)
    return out


def _cut(ids: list[int], stop: list[int]) -> list[int]:
    """``ids`` up to (not including) the first stop id."""
    ends = [k for k, t in enumerate(ids) if t in stop]
    return ids[: ends[0]] if ends else ids


def generate_answers(
    model: GPT,
    tokenizer,
    instructions,
    max_new_tokens: int,
    batch_size: int = 64,
    *,
    chat: bool = True,
) -> list[str]:
    """Greedy answers, batched: one string per instruction, in order.

    ``chat=True``: each instruction (a string, or a list of messages) goes through the chat
    template with the generation prompt, and its answer ends before the first marker.
    ``chat=False``: each is a plain prompt (``few_shot_prompt``) and its answer ends at the
    end of the line. Texts are used as given: give them in the normalised form (NFKC) that
    the training text has, as ``instruction_data`` writes them.
    """
    instance_of("model", model, GPT)
    non_empty("instructions", instructions)
    positive_int("max_new_tokens", max_new_tokens)
    positive_int("batch_size", batch_size)
    instance_of("chat", chat, bool)
    if chat:
        encode = lambda p: chat_prompt_ids(tokenizer, p)
    else:
        encode = lambda p: tokenizer.encode(instance_of("a plain prompt", p, str))
    prompts = [encode(p) for p in instructions]
    stop = stop_ids(tokenizer, chat)
    new = continuations(model, prompts, max_new_tokens, stop, batch_size)
    return [tokenizer.decode(ids) for ids in new]


def sample_answers(
    model: GPT,
    tokenizer: ChatTokenizer,
    instructions: Sequence[str],
    n: int,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_p: float | None = None,
    seed: int = 0,
    batch_size: int = 64,
) -> list[list[str]]:
    """``n`` sampled answers to each instruction (chat template), as a list per instruction.

    The draws come from one generator seeded with ``seed``, so the same call gives the same
    answers. DPO takes its rejected answers from these; GRPO its groups.
    """
    instance_of("model", model, GPT)
    non_empty("instructions", instructions)
    positive_int("n", n)
    positive_int("max_new_tokens", max_new_tokens)
    positive_int("batch_size", batch_size)
    finite_number(
        "temperature (0 would give n copies of the greedy answer)",
        temperature,
        low=0,
        low_inclusive=False,
    )
    prompts = [chat_prompt_ids(tokenizer, p) for p in instructions for _ in range(n)]
    g = torch.Generator().manual_seed(non_negative_int("seed", seed))
    new = continuations(
        model,
        prompts,
        max_new_tokens,
        stop_ids(tokenizer, chat=True),
        batch_size,
        temperature=temperature,
        top_p=top_p,
        generator=g,
    )
    texts = [tokenizer.decode(ids) for ids in new]
    return [texts[i : i + n] for i in range(0, len(texts), n)]


# ------------------------------------------------------------------ accuracy


@dataclass(frozen=True)
class TaskScore:
    """Exact-match accuracy on one task: k right out of n, with the 95% Wilson interval, and
    per example (in the order given) the answer and whether it was right."""

    task: str
    k: int
    n: int
    low: float
    high: float
    correct: tuple[bool, ...]
    answers: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        return self.k / self.n


def task_accuracy(
    model: GPT,
    tokenizer,
    examples: Sequence[Example],
    max_new_tokens: int,
    batch_size: int = 64,
    *,
    shots: dict[str, Sequence[Example]] | None = None,
) -> dict[str, TaskScore]:
    """task -> TaskScore of greedy answers to ``examples``, checked by ``is_correct``.

    Without ``shots`` the model answers in the chat template (a tuned model). With ``shots``
    (task -> a few solved Examples), it is the base model's baseline: a plain few-shot prompt
    per example (``few_shot_prompt``), fitted to the context.
    """
    non_empty("examples", examples)
    for i, e in enumerate(examples):
        instance_of(f"examples[{i}]", e, Example)
    if shots is None:
        answers = generate_answers(
            model, tokenizer, [e.instruction for e in examples], max_new_tokens, batch_size
        )
    else:
        missing = sorted({e.task for e in examples} - set(shots))
        if missing:
            raise ValueError(f"shots has no examples for the tasks {missing}")
        fit = model.config.block_size - max_new_tokens  # the prompt leaves room for the answer
        if fit < 1:
            raise ValueError(
                f"max_new_tokens {max_new_tokens} leaves no room for a prompt in the context "
                f"of {model.config.block_size}"
            )
        prompts = [few_shot_prompt(shots[e.task], e.instruction, fit) for e in examples]
        answers = generate_answers(
            model, tokenizer, prompts, max_new_tokens, batch_size, chat=False
        )
    return {
        task: _score(task, examples, answers) for task in dict.fromkeys(e.task for e in examples)
    }


def _score(task: str, examples: Sequence[Example], answers: list[str]) -> TaskScore:
    pairs = [(e, a) for e, a in zip(examples, answers) if e.task == task]
    correct = tuple(is_correct(e, a) for e, a in pairs)
    k, n = sum(correct), len(correct)
    low, high = wilson_interval(k, n)
    return TaskScore(task, k, n, low, high, correct, tuple(a for _, a in pairs))
