"""Train a character-level GPT: in a notebook, from the command line, or on several GPUs.

One process (CPU, one GPU or Apple MPS)::

    python -m course_utils.train_gpt --config configs/gpt_tiny.json
    python -m course_utils.train_gpt --steps 500 --d-model 128 --out-dir runs/mine

Several processes with DistributedDataParallel (one per GPU; gloo on CPU)::

    torchrun --standalone --nproc_per_node=4 -m course_utils.train_gpt \\
        --config configs/gpt_autodl_4gpu.json

``batch_size`` is the *global* batch: each of the N processes takes its own
1/N slice of the same sampled batch, so N processes compute the same loss and
update as one process does (DDP averages the gradients). Batches are drawn from
a generator seeded by (seed, step), so a resumed run sees exactly the batches
that an uninterrupted run would.

Every run writes ``<out_dir>/ckpt.pt`` (model, optimiser, step, configs,
vocabulary) and ``<out_dir>/log.csv``; ``--resume`` continues from the
checkpoint. A checkpoint that is corrupt or was made for another model gets a
``CheckpointError`` that says what is wrong.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.distributed as dist

from .gpt import GPT, GPTConfig
from .tools.checks import positive_int
from .tools.device import get_device, set_seed
from .tools.progress import progress

CHECKPOINT_FORMAT = "course-gpt-checkpoint-v1"
CSV_FIELDS = ("step", "train_loss", "val_loss", "lr", "tokens", "elapsed_s")


class CheckpointError(ValueError):
    """A checkpoint cannot be used: corrupt, not a checkpoint, or made for another model."""


@dataclass
class TrainConfig:
    """Everything a run needs; a JSON file in configs/ sets any subset of these fields."""

    # model
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    block_size: int = 64
    dropout: float = 0.0
    tie_weights: bool = False  # untied learns a large character vocabulary faster
    # data: "people_daily", "reviews" or the path of a UTF-8 text file (one document per line)
    data: str = "people_daily"
    limit: int | None = None  # use only the first `limit` lines
    valid_fraction: float = 0.1
    # optimisation
    steps: int = 300
    batch_size: int = 32  # global batch, split across processes
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    # bookkeeping
    eval_interval: int = 100
    eval_tokens: int = 20_000  # validation tokens per evaluation (0: the whole split)
    log_interval: int = 10
    save_interval: int = 100
    seed: int = 0
    out_dir: str = "runs/gpt"
    device: str = "auto"  # auto, cpu, cuda, mps
    resume: bool = False
    stop_after: int | None = None  # end this run after this step; continue later with --resume

    def __post_init__(self):
        for name in (
            "n_layer",
            "n_head",
            "d_model",
            "block_size",
            "steps",
            "batch_size",
            "log_interval",
            "eval_interval",
            "save_interval",
        ):
            positive_int(f"TrainConfig.{name}", getattr(self, name))
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ValueError(
                f"need 0 <= min_lr <= lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}"
            )

    @classmethod
    def from_json(cls, path: str | os.PathLike, **overrides) -> TrainConfig:
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {path} not found") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"config file {path} is not valid JSON: {exc}") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in values if k not in known and not k.startswith("_"))
        if unknown:
            raise ValueError(
                f"config file {path} has unknown fields {unknown}; known: {sorted(known)}"
            )
        values = {k: v for k, v in values.items() if not k.startswith("_")}
        return cls(**{**values, **overrides})

    def model_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(
            vocab_size=vocab_size,
            block_size=self.block_size,
            n_layer=self.n_layer,
            n_head=self.n_head,
            d_model=self.d_model,
            dropout=self.dropout,
            tie_weights=self.tie_weights,
        )


# ------------------------------------------------------------------ data


class CharTokenizer:
    """Characters <-> ids; id 0 is <unk> for characters never seen, lines end with "\\n"."""

    UNK = "<unk>"

    def __init__(self, itos: list[str]):
        if not itos or itos[0] != self.UNK:
            raise ValueError("itos must start with '<unk>'")
        self.itos = list(itos)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: list[str]) -> CharTokenizer:
        return cls([cls.UNK, *sorted({c for t in texts for c in t} | {"\n"})])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, 0) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.itos[int(i)] if int(i) else "?" for i in ids)

    def encode_lines(self, texts: list[str]) -> torch.Tensor:
        """The lines joined with newlines, as one (n_chars,) LongTensor."""
        return torch.tensor(self.encode("\n".join(texts) + "\n"), dtype=torch.long)


def load_texts(data: str, limit: int | None = None) -> list[str]:
    """Lines of text: a named corpus ("people_daily", "reviews") or a UTF-8 file."""
    from . import corpora

    if data == "people_daily":
        texts = corpora.people_daily_text(limit=limit)
    elif data == "reviews":
        texts = [t for t, _ in corpora.reviews()][:limit]
    elif Path(data).is_file():
        texts = [t for t in Path(data).read_text(encoding="utf-8").splitlines() if t.strip()][
            :limit
        ]
    else:
        raise ValueError(
            f"data must be 'people_daily', 'reviews' or an existing text file, got {data!r}"
        )
    if len(texts) < 2:
        raise ValueError(f"data {data!r} has fewer than 2 non-empty lines")
    return texts


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    seed: int,
    step: int,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's slice of the global batch of step ``step``: (x, y), each (batch/N, block)."""
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} must be divisible by the {world_size} processes")
    if len(data) <= block_size + 1:
        raise ValueError(
            f"the data has {len(data)} tokens, fewer than block_size + 2 = {block_size + 2}"
        )
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    starts = torch.randint(
        len(data) - block_size - 1, (batch_size,), generator=g
    )  # (global batch,)
    per = batch_size // world_size
    starts = starts[rank * per : (rank + 1) * per]  # (batch / N,)
    offsets = torch.arange(block_size)  # (block,)
    x = data[starts[:, None] + offsets]  # (batch / N, block)
    y = data[starts[:, None] + offsets + 1]  # (batch / N, block): the next characters
    return x, y


@torch.no_grad()
def evaluate(
    model: GPT, data: torch.Tensor, block_size: int, max_tokens: int = 0, batch_size: int = 64
) -> float:
    """Mean loss in nats per token over consecutive windows of the data (max_tokens: 0 = all)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(data) - 1 if not max_tokens else min(len(data) - 1, max_tokens)
    n_win = n // block_size
    if n_win == 0:
        raise ValueError(f"need more than block_size = {block_size} validation tokens, got {n}")
    x = data[: n_win * block_size].view(n_win, block_size)  # (windows, block)
    y = data[1 : n_win * block_size + 1].view(n_win, block_size)
    total = 0.0
    for i in range(0, n_win, batch_size):
        xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
        _, loss = model(xb, yb)
        total += loss.item() * xb.numel()
    model.train(was_training)
    return total / (n_win * block_size)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to min_lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and LayerNorm gains)."""
    params = list(model.parameters())  # a tied tensor appears once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


# ------------------------------------------------------------ checkpoints


def save_checkpoint(
    path: str | os.PathLike,
    model: GPT,
    optimizer,
    step: int,
    cfg: TrainConfig,
    tokenizer: CharTokenizer,
) -> None:
    """Write atomically (temporary file, then rename), so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "train_config": asdict(cfg),
        "model_config": model.config.to_dict(),
        "itos": tokenizer.itos,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(
    path: str | os.PathLike, model_config: GPTConfig | None = None, itos: list[str] | None = None
) -> dict:
    """Read a checkpoint and check that it fits ``model_config`` and the vocabulary ``itos``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; run without --resume to start a new run")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path} cannot be read as a checkpoint (corrupt or truncated?): "
            f"{type(exc).__name__}: {str(exc)[:200]}. Delete it, or resume from "
            "another --out-dir."
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a course GPT checkpoint (expected format {CHECKPOINT_FORMAT!r})"
        )
    if model_config is not None:
        want = model_config.to_dict()
        diff = [
            f"{k}: checkpoint {state['model_config'].get(k)!r}, this run {v!r}"
            for k, v in want.items()
            if state["model_config"].get(k) != v
        ]
        if diff:
            raise CheckpointError(
                f"{path} was saved for another model ({'; '.join(diff)}). Use the "
                "checkpoint's settings, or a new --out-dir for a new model."
            )
    if itos is not None and state["itos"] != list(itos):
        raise CheckpointError(
            f"{path} was saved with another vocabulary ({len(state['itos'])} "
            f"symbols, this run has {len(itos)}): was --data or --limit changed?"
        )
    return state


# ----------------------------------------------------------------- training


@dataclass
class TrainResult:
    model: GPT
    tokenizer: CharTokenizer
    history: list[dict]  # one row per logged step (the CSV's rows)
    val_loss: float  # final validation loss, nats per character
    tokens_per_s: float


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def train(
    cfg: TrainConfig,
    texts: list[str] | None = None,
    *,
    show_progress: bool = True,
    verbose: bool = True,
) -> TrainResult:
    """Train as ``cfg`` says; under torchrun, with DDP across the processes.

    ``texts`` overrides ``cfg.data`` (a list of lines). The split into train and
    validation lines is ``course_utils.ngram.split_texts``, the same as the
    bigram baseline's.
    """
    from .ngram import split_texts

    rank, local_rank, world = _dist_info()
    distributed = world > 1
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else get_device()
    else:
        device = torch.device(f"cuda:{local_rank}" if cfg.device == "cuda" else cfg.device)
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    is_main = rank == 0
    say = print if (verbose and is_main) else (lambda *a, **k: None)

    texts = load_texts(cfg.data, cfg.limit) if texts is None else texts
    train_texts, valid_texts = split_texts(texts, cfg.valid_fraction, seed=0)
    tok = CharTokenizer.from_texts(texts)
    train_data, valid_data = tok.encode_lines(train_texts), tok.encode_lines(valid_texts)

    set_seed(cfg.seed, deterministic=False)
    model = cfg.model_config(len(tok)).build().to(device)
    optimizer = make_optimizer(model, cfg)
    out = Path(cfg.out_dir)
    ckpt_path, csv_path = out / "ckpt.pt", out / "log.csv"
    start, history = 0, []
    if cfg.resume:
        state = load_checkpoint(ckpt_path, model.config, tok.itos)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["step"])
        history = [r for r in _read_csv(csv_path) if r["step"] <= start]
        say(f"resumed from {ckpt_path} at step {start}")
    if start >= cfg.steps:
        say(f"nothing to do: the checkpoint is at step {start} >= steps {cfg.steps}")
    ddp_model = (
        torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        if distributed
        else model
    )

    n_params = sum(p.numel() for p in model.parameters())
    say(
        f"{n_params:,} parameters | vocab {len(tok)} | train {len(train_data):,} chars | "
        f"valid {len(valid_data):,} chars | {world} process(es) on {device.type} | "
        f"global batch {cfg.batch_size} x {cfg.block_size}"
    )
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_csv(csv_path, history)
    model.train()
    t0, tokens, val_loss = time.perf_counter(), 0, float("nan")
    bar = progress(
        range(start, cfg.steps),
        desc="train",
        disable=not (show_progress and is_main) or bool(os.environ.get("COURSE_NO_PROGRESS")),
    )
    for step in bar:
        if cfg.stop_after is not None and step >= cfg.stop_after:
            break
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, cfg.block_size, cfg.batch_size, cfg.seed, step, rank, world)
        _, loss = ddp_model(x.to(device), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        tokens += cfg.batch_size * cfg.block_size
        done = step + 1
        last = done in (cfg.steps, cfg.stop_after)
        if done % cfg.log_interval == 0 or done % cfg.eval_interval == 0 or last:
            train_loss = loss.detach().clone()
            if distributed:
                dist.all_reduce(train_loss)
                train_loss /= world
            row = {
                "step": done,
                "train_loss": train_loss.item(),
                "val_loss": float("nan"),
                "lr": lr,
                "tokens": done * cfg.batch_size * cfg.block_size,
                "elapsed_s": time.perf_counter() - t0,
            }
            if done % cfg.eval_interval == 0 or last:
                val_loss = evaluate(model, valid_data, cfg.block_size, cfg.eval_tokens)
                row["val_loss"] = val_loss
            history.append(row)
            if is_main:
                _append_csv(csv_path, row)
                say(
                    f"step {done:>6} | loss {row['train_loss']:.4f} | val {row['val_loss']:.4f} | "
                    f"lr {lr:.2e} | {tokens / row['elapsed_s']:,.0f} tokens/s"
                )
        if is_main and (done % cfg.save_interval == 0 or done in (cfg.steps, cfg.stop_after)):
            save_checkpoint(ckpt_path, model, optimizer, done, cfg, tok)
    elapsed = time.perf_counter() - t0
    if math.isnan(val_loss):
        val_loss = evaluate(model, valid_data, cfg.block_size, cfg.eval_tokens)
    if distributed:
        dist.barrier()
    return TrainResult(model, tok, history, val_loss, tokens / elapsed if elapsed > 0 else 0.0)


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [
            {k: (int(v) if k in ("step", "tokens") else float(v)) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)


def _append_csv(path: Path, row: dict) -> None:
    with open(path, "a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=CSV_FIELDS).writerow(row)


# ---------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course_utils.train_gpt",
        description="Train a character-level GPT (one process or torchrun/DDP).",
    )
    p.add_argument("--config", help="JSON file with TrainConfig fields (flags override it)")
    p.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="after training, print N sampled characters",
    )
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = {"int": int, "float": float, "str": str, "int | None": int}[f.type]
            p.add_argument(flag, type=kind, default=None, help=f"default {f.default!r}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(TrainConfig)
        if getattr(args, f.name) is not None
    }
    try:
        cfg = (
            TrainConfig.from_json(args.config, **overrides)
            if args.config
            else TrainConfig(**overrides)
        )
        result = train(cfg)
    except (CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if _dist_info()[0] == 0:
        print(
            f"final validation loss {result.val_loss:.4f} nats/char; "
            f"checkpoint {Path(cfg.out_dir) / 'ckpt.pt'}"
        )
        if args.sample:
            idx = torch.tensor(
                [result.tokenizer.encode("\n")], device=next(result.model.parameters()).device
            )
            out = result.model.generate(idx, args.sample, temperature=0.8, top_k=50, generator=None)
            print(result.tokenizer.decode(out[0, 1:].tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
