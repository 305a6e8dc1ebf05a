"""Train chapter 04's biLM (ELMo) and ship it: ``python -m course_utils.train_elmo``.

Chapter 04 trains a small biLM in front of the learner, for a few minutes. This command runs
the same recipe, ``train_bilm``, for longer (a few passes over the People's Daily training
sentences instead of half of one) and writes the result to ``checkpoints/elmo_zh.pt``, which
the chapter then loads beside the model it trained itself:

    python -m course_utils.train_elmo --export checkpoints/elmo_zh.pt

* ``split_sentences``: People's Daily paragraphs -> sentences (at 。！？；, at most 40 words);
* ``elmo_corpus``: the sentences, the last ``n_valid`` held out (the chapter holds out the same);
* ``lr_factor`` and ``train_bilm``: Adam on the mean of the two directions' losses, gradients
  clipped at 1, a linear warm-up and an optional cosine decay;
* ``export_elmo`` / ``load_elmo``: fp16 weights, both vocabularies, the config and the
  held-out perplexity the run measured, without optimizer state.

The command never reads the polysemy set: the training length is fixed by the config, and the
chapter evaluates whatever the last step gives.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .elmo import (
    CHAR_SPECIALS,
    CHAR_UNK,
    BiLM,
    ElmoConfig,
    batch_to_ids,
    batch_word_ids,
    build_vocabs,
    init_unigram_bias,
    make_batches,
    perplexity,
    unigram_perplexity,
)
from .tools.checks import non_negative_int, positive_int
from .tools.device import set_seed
from .tools.progress import progress
from .train_gpt import CheckpointError, read_state, save_state
from .vocab import DEFAULT_SPECIALS, Vocab

ELMO_FORMAT = "course-elmo-weights-v1"
SHIPPED_ELMO = Path(__file__).resolve().parent.parent / "checkpoints" / "elmo_zh.pt"
SENTENCE_ENDS = "。！？；"


def split_sentences(lines, max_len: int = 40, min_len: int = 3) -> list[list]:
    """People's Daily paragraphs (lists of words, or of (word, tag) pairs) -> sentences: a
    sentence ends at 。！？； or after ``max_len`` words; shorter ones than ``min_len`` go."""
    out = []
    for line in lines:
        current = []
        for item in line:
            current.append(item)
            word = item[0] if isinstance(item, tuple) else item
            if word in SENTENCE_ENDS or len(current) >= max_len:
                out.append(current)
                current = []
        if current:
            out.append(current)
    return [s for s in out if len(s) >= min_len]


def elmo_corpus(n_valid: int = 1000) -> tuple[list[list[str]], list[list[str]]]:
    """(training sentences, the last ``n_valid`` sentences held out) of People's Daily."""
    from .corpora import people_daily

    positive_int("n_valid", n_valid)
    sentences = [[w for w, _ in s] for s in split_sentences(people_daily(tagged=True))]
    if n_valid >= len(sentences):
        raise ValueError(f"n_valid={n_valid} leaves no training sentences ({len(sentences)})")
    return sentences[:-n_valid], sentences[-n_valid:]


def lr_factor(step: int, warmup_steps: int = 0, decay_steps: int = 0) -> float:
    """The learning rate at ``step`` (from 0) as a fraction of its peak: a linear rise over
    ``warmup_steps`` (none if 0), then, if ``decay_steps`` > 0, a cosine fall to 0 at that step."""
    factor = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    if decay_steps:
        factor *= 0.5 * (1 + math.cos(math.pi * min(step, decay_steps) / decay_steps))
    return factor


def train_bilm(
    model: BiLM,
    sentences: Sequence[Sequence[str]],
    chars: Vocab,
    words: Vocab,
    *,
    steps: int,
    batch_size: int,
    lr: float = 3e-3,
    warmup_steps: int = 0,
    decay: bool = False,
) -> list[float]:
    """Train both language models together; each pass draws the sentences in a new order, so a
    sentence is seen at most once per pass. Returns the loss (nats per word) of every step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    decay_steps = steps if decay else 0
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, warmup_steps, decay_steps)
    )
    losses, step = [], 0
    model.train()
    bar = progress(total=steps, desc="training biLM")
    while step < steps:
        for batch in make_batches(sentences, batch_size, seed=step):  # a new order each pass
            char_ids, mask = batch_to_ids(batch, chars, model.cfg.max_chars, truncate=True)
            fwd_loss, bwd_loss = model.lm_loss(char_ids, mask, batch_word_ids(batch, words))
            loss = (fwd_loss + bwd_loss) / 2  # the two directions' mean log-likelihood
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            schedule.step()
            losses.append(loss.item())
            step += 1
            bar.update()
            if step == steps:
                break
    bar.close()
    model.eval()
    return losses


@dataclass(frozen=True)
class ElmoTrainConfig:
    """The shipped biLM's recipe: the chapter's architecture, trained for several passes."""

    steps: int = 4000  # 4,000 x 64 sentences: five passes over the 50,867 training sentences
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 200
    decay: bool = True  # cosine decay to 0 at the last step
    max_words: int = 6000  # softmax vocabulary, as in the chapter
    hidden_dim: int = 256
    proj_dim: int = 64
    n_valid: int = 1000  # the last sentences, held out (the chapter's own held-out text)
    n_train: int = 0  # 0: every sentence before the held-out ones
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "max_words", "hidden_dim", "proj_dim", "n_valid"):
            positive_int(f"ElmoTrainConfig.{name}", getattr(self, name))
        for name in ("warmup_steps", "n_train", "seed"):
            non_negative_int(f"ElmoTrainConfig.{name}", getattr(self, name))
        if not (isinstance(self.lr, float) and 0 < self.lr < 1):
            raise ValueError(f"ElmoTrainConfig.lr must be a float in (0, 1), got {self.lr!r}")
        if not isinstance(self.decay, bool):
            raise TypeError(f"ElmoTrainConfig.decay must be a bool, got {self.decay!r}")


def train(cfg: ElmoTrainConfig, *, verbose: bool = True) -> tuple[BiLM, Vocab, Vocab, dict]:
    """Run the recipe: (trained model in eval mode, word vocab, char vocab, its record)."""
    train_sents, valid = elmo_corpus(cfg.n_valid)
    if cfg.n_train:
        train_sents = train_sents[: cfg.n_train]
    words, chars = build_vocabs(train_sents, max_words=cfg.max_words)
    set_seed(cfg.seed)
    model_cfg = ElmoConfig(
        vocab_size=len(words),
        n_chars=len(chars),
        hidden_dim=cfg.hidden_dim,
        proj_dim=cfg.proj_dim,
    )
    model = model_cfg.build()
    init_unigram_bias(model, train_sents, words)
    t0 = time.perf_counter()
    losses = train_bilm(
        model,
        train_sents,
        chars,
        words,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        warmup_steps=cfg.warmup_steps,
        decay=cfg.decay,
    )
    ppl = perplexity(model, valid, chars, words)
    record = {
        "train_config": asdict(cfg),
        "model_config": asdict(model_cfg),
        "step": len(losses),
        "train_sentences": len(train_sents),
        "final_loss": float(np.mean(losses[-100:])),
        "valid_perplexity": [round(p, 3) for p in ppl],
        "unigram_perplexity": round(unigram_perplexity(train_sents, valid, words), 3),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    if verbose:
        print(
            f"{len(losses)} steps on {len(train_sents):,} sentences in "
            f"{record['train_seconds']:.0f} s; held-out perplexity forward {ppl[0]:.1f}, "
            f"backward {ppl[1]:.1f} (unigram {record['unigram_perplexity']:.1f})"
        )
    return model, words, chars, record


def export_elmo(
    path: str | os.PathLike,
    model: BiLM,
    words: Vocab,
    chars: Vocab,
    record: dict,
    dtype: torch.dtype = torch.float16,
) -> int:
    """Write a trained biLM with both vocabularies and its record; returns the size in bytes."""
    path = Path(path)
    state = {
        "format": ELMO_FORMAT,
        **record,
        "words": list(words.itos),
        "chars": list(chars.itos),
        "model": {k: v.detach().to("cpu", dtype) for k, v in model.state_dict().items()},
    }
    save_state(state, path)
    return path.stat().st_size


def load_elmo(path: str | os.PathLike = SHIPPED_ELMO) -> tuple[BiLM, Vocab, Vocab, dict]:
    """(model in fp32, eval mode; word vocab; char vocab; the run's record) from export_elmo
    (by default the shipped ``checkpoints/elmo_zh.pt``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no exported biLM at {path}; make it with "
            f"python -m course_utils.train_elmo --export {path}"
        )
    state = read_state(path, "an exported biLM", "; export it again (--export)")
    if not isinstance(state, dict) or state.get("format") != ELMO_FORMAT:
        raise CheckpointError(f"{path} is not an exported course biLM (format {ELMO_FORMAT!r})")
    for key, kind in (("model_config", dict), ("words", list), ("chars", list), ("model", dict)):
        if not isinstance(state.get(key), kind):
            raise CheckpointError(f"{path}: {key!r} must be a {kind.__name__}")
    model_cfg = dict(state["model_config"])
    model_cfg["filters"] = tuple(tuple(f) for f in model_cfg["filters"])
    model = ElmoConfig(**model_cfg).build()
    try:
        model.load_state_dict({k: v.float() for k, v in state["model"].items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: the weights do not fit its model_config: {exc}") from None
    model.eval()
    words = Vocab.from_itos(state["words"], specials=DEFAULT_SPECIALS)
    chars = Vocab.from_itos(state["chars"], specials=CHAR_SPECIALS, unk_token=CHAR_UNK)
    record = {k: v for k, v in state.items() if k not in ("model", "words", "chars")}
    return model, words, chars, record


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course_utils.train_elmo",
        description="Train chapter 04's biLM with the shipped recipe and export it.",
    )
    p.add_argument("--export", metavar="PATH", required=True, help="where to write the model")
    for f in fields(ElmoTrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = {"int": int, "float": float}[str(f.type)]
            p.add_argument(flag, type=kind, default=None, help=f"default {f.default!r}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(ElmoTrainConfig)
        if getattr(args, f.name) is not None
    }
    try:
        cfg = ElmoTrainConfig(**overrides)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model, words, chars, record = train(cfg)
    n_bytes = export_elmo(args.export, model, words, chars, record)
    print(f"exported {args.export} ({n_bytes / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
