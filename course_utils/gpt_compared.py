"""Controlled experiments on small GPTs (chapter 07b): the data they are compared on, and the
one training recipe every comparison uses.

``build_comparison_data`` cleans both corpora (``corpus_cleaning``), splits each by hash, builds
one character vocabulary over both training sets, and draws two balanced review samples: a
small labelled set (for fine-tuning, logistic regression and few-shot examples) from the
training reviews, and a test set from the held-out reviews, never seen by any model.

``train_lm`` is the recipe of ``course_utils.train_gpt`` (AdamW with decay on matrices only,
linear warm-up then cosine decay, gradient clipping, batches drawn by ``get_batch``) on
pre-encoded ids, without checkpoints or log files, so that several models can share one
vocabulary and one budget.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch

from .corpus_cleaning import (
    check_disjoint,
    hash_split,
    people_daily_clean,
    reviews_clean,
    shared_char_vocab,
)
from .gpt import GPT, GPTConfig
from .tools.checks import non_negative_int, positive_int
from .train_gpt import TrainConfig, evaluate, get_batch, lr_at, make_optimizer
from .vocab import CharTokenizer


@dataclass
class ComparisonData:
    tok: CharTokenizer
    news_train: list[str]
    news_held: list[str]
    reviews_train: list[tuple[str, int]]
    reviews_held: list[tuple[str, int]]
    labelled: list[tuple[str, int]]  # from the training reviews, balanced
    test: list[tuple[str, int]]  # from the held-out reviews, balanced

    def ids(self, texts) -> torch.Tensor:
        """The texts as one (n_chars,) id tensor, lines joined by newlines."""
        return self.tok.encode_lines(texts)


def balanced_sample(items, per_class: int, max_len: int, seed: int) -> list[tuple[str, int]]:
    """``per_class`` (text, label) pairs of each label 0 and 1, texts of at most ``max_len``
    characters, shuffled."""
    positive_int("per_class", per_class)
    rng = random.Random(seed)
    out = []
    for label in (0, 1):
        pool = [it for it in items if it[1] == label and len(it[0]) <= max_len]
        if len(pool) < per_class:
            raise ValueError(
                f"asked for {per_class} reviews of label {label} with at most {max_len} "
                f"characters, but only {len(pool)} exist"
            )
        out += rng.sample(pool, per_class)
    rng.shuffle(out)
    return out


def build_comparison_data(
    min_count: int = 5, n_labelled: int = 500, n_test: int = 1000, max_len: int = 50, seed: int = 0
) -> ComparisonData:
    """Clean, split, one vocabulary, the labelled set and the test set (see the module doc)."""
    news_train, news_held = hash_split(people_daily_clean())
    rev_train, rev_held = hash_split(reviews_clean(), key=lambda x: x[0])
    tok = shared_char_vocab(news_train, [t for t, _ in rev_train], min_count=min_count)
    labelled = balanced_sample(rev_train, n_labelled // 2, max_len, seed)
    test = balanced_sample(rev_held, n_test // 2, max_len, seed)
    check_disjoint(news_train=news_train, news_held=news_held)
    check_disjoint(reviews_train=[t for t, _ in rev_train], reviews_held=[t for t, _ in rev_held])
    check_disjoint(labelled=[t for t, _ in labelled], test=[t for t, _ in test])
    return ComparisonData(tok, news_train, news_held, rev_train, rev_held, labelled, test)


@dataclass
class LMBudget:
    """How long and on what shapes a language model trains."""

    steps: int
    batch_size: int = 16
    block_size: int = 128
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 20
    seed: int = 0

    @property
    def tokens(self) -> int:
        """Training tokens seen: steps x batch x block."""
        return self.steps * self.batch_size * self.block_size

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            block_size=self.block_size,
            lr=self.lr,
            min_lr=self.min_lr,
            warmup=min(self.warmup, self.steps),
            seed=self.seed,
        )


def new_gpt(
    vocab_size: int,
    d_model: int,
    n_layer: int,
    block_size: int,
    n_head: int | None = None,
    seed: int = 0,
) -> GPT:
    """A freshly initialised GPT (untied head; heads of width 16 unless ``n_head`` is given)."""
    positive_int("d_model", d_model)
    torch.manual_seed(seed)
    n_head = n_head or max(1, d_model // 16)
    return GPTConfig(
        vocab_size=vocab_size,
        block_size=block_size,
        n_layer=n_layer,
        n_head=n_head,
        d_model=d_model,
        tie_weights=False,
    ).build()


def train_lm(model: GPT, train_ids: torch.Tensor, budget: LMBudget, progress=None) -> dict:
    """Train in place with the course's recipe; returns {'losses', 'cpu_s', 'wall_s'}.

    ``progress``: an optional tqdm-like bar, advanced once per step."""
    cfg = budget.train_config()
    opt = make_optimizer(model, cfg)
    model.train()
    losses = []
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(budget.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        x, y = get_batch(train_ids, cfg.block_size, cfg.batch_size, cfg.seed, step)  # (B, T)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(loss.item())
        if progress is not None:
            progress.update(1)
    model.eval()
    return {"losses": losses, "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0}


def lm_loss(model: GPT, ids: torch.Tensor, max_tokens: int = 0) -> float:
    """Mean nats per character over consecutive windows (``train_gpt.evaluate``)."""
    non_negative_int("max_tokens", max_tokens)
    return evaluate(model, ids, model.config.block_size, max_tokens)
