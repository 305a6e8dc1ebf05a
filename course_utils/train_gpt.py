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
a generator seeded by (seed, step), and so are the dropout masks, so a resumed
run is bit-exact with an uninterrupted one.

The recipe, step by step (each a function that chapter 09 can reuse):
``setup_run`` (device, data, model, optimiser, and the checkpoint with
``--resume``), ``train_step`` (one optimisation step: warm-up then cosine
learning rate, AdamW with decay on matrices only, gradient clipping),
``log_row`` (losses, with an evaluation every ``eval_interval`` steps) and
``save_checkpoint``.

Every run writes ``<out_dir>/ckpt.pt`` (model, optimiser, step, configs,
vocabulary) atomically and ``<out_dir>/log.csv``; ``--resume`` continues from
the checkpoint. A checkpoint or log that is corrupt, incomplete or made for
another model gets a ``CheckpointError`` that names the file and says what is
wrong. A config field of the wrong type or range is an error naming the field.

``--export PATH`` then writes the model alone (``export_weights``: fp16 weights,
configs, vocabulary, no optimizer state), the compact file that chapter 09 loads
with ``load_weights``. Its base model is made so::

    python -m course_utils.train_gpt --config configs/gpt_base_zh.json \\
        --export checkpoints/gpt_base_zh.pt
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist

from .corpora import split_texts
from .corpus_cleaning import normalize
from .gpt import GPT, GPTConfig
from .tools.checks import (
    finite_number,
    non_negative_int,
    one_of,
    positive_int,
    probability,
)
from .tools.device import get_device, set_seed
from .tools.progress import progress
from .vocab import CharTokenizer

CHECKPOINT_FORMAT = "course-gpt-checkpoint-v1"
WEIGHTS_FORMAT = "course-gpt-weights-v1"  # export_weights: no optimizer state, fp16 weights
CHECKPOINT_KEYS = ("step", "train_config", "model_config", "itos", "model", "optimizer")
CSV_FIELDS = ("step", "train_loss", "val_loss", "lr", "tokens", "elapsed_s")
DEVICES = ("auto", "cpu", "cuda", "mps")


class CheckpointError(ValueError):
    """A checkpoint cannot be used: corrupt, not a checkpoint, or made for another model."""


# JSON and Python types that each field annotation accepts (an int is a valid float)
_FIELD_TYPES = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "int | None": (int, type(None)),
}


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
    # data: "people_daily", "people_daily_train", "reviews" or a UTF-8 text file (a line per text)
    data: str = "people_daily"
    limit: int | None = None  # use only the first `limit` lines
    normalize: bool = False  # NFKC each line (full-width digits and letters -> ASCII), drop empty
    valid_fraction: float = 0.1
    # optimisation
    steps: int = 300
    batch_size: int = 32  # global batch, split across processes
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0  # 0: no clipping
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
        for f in fields(self):
            _check_type(f"TrainConfig.{f.name}", getattr(self, f.name), f.type)
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
        for name in ("warmup", "eval_tokens", "seed"):
            non_negative_int(f"TrainConfig.{name}", getattr(self, name))
        for name in ("limit", "stop_after"):
            if getattr(self, name) is not None:
                positive_int(f"TrainConfig.{name}", getattr(self, name))
        probability("TrainConfig.dropout", self.dropout, allow_one=False)
        probability(
            "TrainConfig.valid_fraction", self.valid_fraction, allow_zero=False, allow_one=False
        )
        finite_number("TrainConfig.lr", self.lr, low=0, low_inclusive=False)
        finite_number("TrainConfig.min_lr (at most lr)", self.min_lr, low=0, high=self.lr)
        finite_number("TrainConfig.weight_decay", self.weight_decay, low=0)
        finite_number("TrainConfig.grad_clip (0: no clipping)", self.grad_clip, low=0)
        if 0 < self.eval_tokens < self.block_size:
            raise ValueError(
                f"TrainConfig.eval_tokens must be 0 (the whole validation split) or "
                f">= block_size = {self.block_size}, got {self.eval_tokens}"
            )
        one_of("TrainConfig.device", self.device, DEVICES)
        self.model_config(vocab_size=2)  # the model's own checks (d_model % n_head, ...)

    @classmethod
    def from_json(cls, path: str | os.PathLike, **overrides) -> TrainConfig:
        """Read a JSON object of fields; ``overrides`` (e.g. command-line flags) win."""
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {path} not found") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"config file {path} is not valid JSON: {exc}") from None
        if not isinstance(values, dict):
            raise TypeError(
                f"config file {path} must hold a JSON object of fields "
                f'({{"steps": 500, ...}}), got a JSON {type(values).__name__}'
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in values if k not in known and not k.startswith("_"))
        if unknown:
            raise ValueError(
                f"config file {path} has unknown fields {unknown}; known: {sorted(known)}"
            )
        values = {k: v for k, v in values.items() if not k.startswith("_")}
        try:
            return cls(**{**values, **overrides})
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"config file {path}: {exc}") from None

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


def _check_type(name: str, value, annotation: str) -> None:
    """``value`` must have the type of its field (a JSON "false" or "0.1" is not one)."""
    allowed = _FIELD_TYPES[annotation]
    if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
        raise TypeError(
            f"{name} must be {annotation.replace(' | ', ' or ')}, "
            f"got {type(value).__name__} {value!r}"
        )


# ------------------------------------------------------------------ data


def load_texts(data: str, limit: int | None = None) -> list[str]:
    """Lines of text: a named corpus ("people_daily", "reviews"), "people_daily_train" (the
    normalised, deduplicated lines that ``corpus_cleaning.hash_split`` keeps: the lines that
    chapters 07b and 09 hold out for testing are left out) or a UTF-8 file."""
    from . import corpora, corpus_cleaning

    if data == "people_daily":
        texts = corpora.people_daily_text(limit=limit)
    elif data == "people_daily_train":
        texts = corpus_cleaning.hash_split(corpus_cleaning.people_daily_clean())[0][:limit]
    elif data == "reviews":
        texts = [t for t, _ in corpora.reviews()][:limit]
    elif Path(data).is_file():
        texts = [t for t in Path(data).read_text(encoding="utf-8").splitlines() if t.strip()][
            :limit
        ]
    else:
        raise ValueError(
            "data must be 'people_daily', 'people_daily_train', 'reviews' or an existing "
            f"text file, got {data!r}"
        )
    if len(texts) < 2:
        raise ValueError(f"data {data!r} has fewer than 2 non-empty lines")
    return texts


def prepare_data(
    cfg: TrainConfig, texts: list[str] | None = None
) -> tuple[CharTokenizer, torch.Tensor, torch.Tensor]:
    """(tokenizer, training ids, validation ids): the lines split by ``corpora.split_texts``
    (the bigram baseline's split), and a character tokenizer over all of them."""
    texts = load_texts(cfg.data, cfg.limit) if texts is None else texts
    if cfg.normalize:
        texts = [t for t in map(normalize, texts) if t]
    train_texts, valid_texts = split_texts(texts, cfg.valid_fraction, seed=0)
    tok = CharTokenizer.from_texts(texts)
    train_data, valid_data = tok.encode_lines(train_texts), tok.encode_lines(valid_texts)
    # a training window needs block_size + 1 characters after its start; evaluation one window
    for name, data, need in (
        ("training", train_data, cfg.block_size + 2),
        ("validation", valid_data, cfg.block_size + 1),
    ):
        if len(data) < need:
            raise ValueError(
                f"the {name} split has {len(data):,} characters, fewer than the {need} that "
                f"block_size = {cfg.block_size} needs: give more data, or a smaller block_size"
            )
    return tok, train_data, valid_data


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
    non_negative_int("max_tokens", max_tokens)
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
    state = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "train_config": asdict(cfg),
        "model_config": model.config.to_dict(),
        "itos": tokenizer.itos,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
    }
    save_state(state, path)


def save_state(state: dict, path: Path) -> None:
    """``torch.save`` through a temporary file and a rename: a crash (even SIGKILL) never leaves
    half a file under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def read_state(path: Path, what: str, remedy: str):
    """``torch.load`` of a course file (tensors and plain data only), or a ``CheckpointError``
    that says the file is ``what`` and cannot be read, followed by ``remedy``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path} cannot be read as {what} (corrupt or truncated?): "
            f"{type(exc).__name__}: {str(exc)[:200]}{remedy}"
        ) from None


def load_checkpoint(
    path: str | os.PathLike, model_config: GPTConfig | None = None, itos: list[str] | None = None
) -> dict:
    """Read a checkpoint and check that it fits ``model_config`` and the vocabulary ``itos``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; run without --resume to start a new run")
    state = read_state(path, "a checkpoint", ". Delete it, or resume from another --out-dir.")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a course GPT checkpoint (expected format {CHECKPOINT_FORMAT!r})"
        )
    _check_checkpoint_fields(path, state)
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


def _check_checkpoint_fields(path: Path, state: dict) -> None:
    """Every field present, with its type: a step, the configs, the vocabulary, the states."""
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        what = " (the vocabulary)" if "itos" in missing else ""
        raise CheckpointError(
            f"{path} is incomplete: it has no {missing}{what}. Delete it, "
            "or resume from another --out-dir."
        )
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path}: 'step' must be a non-negative int, got {step!r}")
    itos = state["itos"]
    if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
        raise CheckpointError(f"{path}: 'itos' (the vocabulary) must be a list of str")
    for key in ("train_config", "model_config", "model", "optimizer"):
        if not isinstance(state[key], dict):
            kind = type(state[key]).__name__
            raise CheckpointError(f"{path}: {key!r} must be a dict, got {kind}")


def export_weights(
    path: str | os.PathLike,
    model: GPT,
    tokenizer: CharTokenizer,
    cfg: TrainConfig,
    *,
    step: int,
    val_loss: float,
    dtype: torch.dtype = torch.float16,
) -> int:
    """Write a trained model to share or commit: its configs, vocabulary, validation loss and
    weights in ``dtype``, without the optimizer's state (a third of a checkpoint's size in
    fp32, a sixth in fp16). Returns the file's size in bytes."""
    path = Path(path)
    state = {
        "format": WEIGHTS_FORMAT,
        "step": non_negative_int("step", step),
        "val_loss": float(val_loss),
        "train_config": asdict(cfg),
        "model_config": model.config.to_dict(),
        "itos": list(tokenizer.itos),
        "model": {k: v.detach().to("cpu", dtype) for k, v in model.state_dict().items()},
    }
    save_state(state, path)
    return path.stat().st_size


def load_weights(path: str | os.PathLike) -> tuple[GPT, CharTokenizer, dict]:
    """(model in fp32 and eval mode, tokenizer, the file's other fields) from ``export_weights``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported model at {path}")
    state = read_state(path, "an exported model", "; export it again (--export)")
    if not isinstance(state, dict) or state.get("format") != WEIGHTS_FORMAT:
        raise CheckpointError(
            f"{path} is not an exported course GPT (expected format {WEIGHTS_FORMAT!r}); "
            "a training checkpoint (ckpt.pt) is read with load_checkpoint"
        )
    model = GPTConfig(**state["model_config"]).build()
    model.load_state_dict({k: v.float() for k, v in state["model"].items()})
    model.eval()
    meta = {k: v for k, v in state.items() if k != "model"}
    return model, CharTokenizer(state["itos"]), meta


def read_log(path: str | os.PathLike) -> list[dict]:
    """The rows of a run's ``log.csv`` (none if there is no file, or an empty one)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != CSV_FIELDS:
            raise CheckpointError(
                f"{path} is not a training log: its header is "
                f"{reader.fieldnames}, expected {list(CSV_FIELDS)}"
            )
        return [_log_row(path, line, row) for line, row in enumerate(reader, start=2)]


def _log_row(path: Path, line: int, row: dict) -> dict:
    try:
        if None in row or any(row[k] is None for k in CSV_FIELDS):
            raise ValueError("wrong number of columns")
        return {k: (int(row[k]) if k in ("step", "tokens") else float(row[k])) for k in CSV_FIELDS}
    except ValueError:
        text = ",".join(str(v) for v in row.values())
        raise CheckpointError(
            f"{path}, line {line} is torn or malformed ({text!r}), as when a run is killed "
            "while writing it: delete that line (or the file) and resume again"
        ) from None


def _write_log(path: Path, rows: list[dict]) -> None:
    """Rewrite the whole log atomically (temporary file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def _append_log(path: Path, row: dict) -> None:
    with open(path, "a", newline="", encoding="utf-8") as f:
        csv.DictWriter(f, fieldnames=CSV_FIELDS).writerow(row)


# ----------------------------------------------------------------- training


@dataclass
class Run:
    """One training run, as ``setup_run`` builds it and ``train_step`` advances it."""

    cfg: TrainConfig
    device: torch.device
    rank: int  # this process, 0..world-1
    world: int  # the number of processes
    tokenizer: CharTokenizer
    train_data: torch.Tensor  # (n_train_chars,) ids
    valid_data: torch.Tensor  # (n_valid_chars,) ids
    model: GPT
    ddp_model: torch.nn.Module  # the model itself, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    start: int = 0  # the first step to run (the checkpoint's step after a resume)
    history: list[dict] = field(default_factory=list)  # one row per logged step

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def ckpt_path(self) -> Path:
        return Path(self.cfg.out_dir) / "ckpt.pt"

    @property
    def log_path(self) -> Path:
        return Path(self.cfg.out_dir) / "log.csv"


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


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The device of ``TrainConfig.device``; one that this machine lacks is an error."""
    one_of("device", name, DEVICES)
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else get_device()
    if name == "cuda" and not torch.cuda.is_available():
        why = (
            "this torch is a CPU-only build"
            if torch.version.cuda is None
            else "torch sees no CUDA GPU"
        )
        raise ValueError(f"device 'cuda' was asked for, but {why}; use --device auto or cpu")
    if name == "mps":
        return get_device("mps")  # an error where Apple's MPS backend is missing
    return torch.device(f"cuda:{local_rank}" if name == "cuda" else name)


def setup_run(cfg: TrainConfig, texts: list[str] | None = None) -> Run:
    """Device (and the process group under torchrun), data, model, optimiser, and the
    checkpoint's state when ``cfg.resume``."""
    rank, local_rank, world = _dist_info()
    device = resolve_device(cfg.device, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    tok, train_data, valid_data = prepare_data(cfg, texts)
    set_seed(cfg.seed, deterministic=False)
    model = cfg.model_config(len(tok)).build().to(device)
    optimizer = make_optimizer(model, cfg)
    run = Run(cfg, device, rank, world, tok, train_data, valid_data, model, model, optimizer)
    if cfg.resume:
        resume_run(run)
    if world > 1:
        run.ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    return run


def resume_run(run: Run) -> None:
    """Load the model and optimiser from the run's checkpoint; keep the log rows up to it."""
    path = run.ckpt_path
    state = load_checkpoint(path, run.model.config, run.tokenizer.itos)
    try:
        run.model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: the model weights do not fit this model: {str(exc)[:300]}"
        ) from None
    try:
        run.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"{path}: the optimiser state does not fit this model: "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from None
    run.start = state["step"]
    run.history = [r for r in read_log(run.log_path) if r["step"] <= run.start]


def train_step(run: Run, step: int) -> tuple[torch.Tensor, float]:
    """One optimisation step: learning rate, batch, forward, backward, clipping, AdamW.

    Returns (this process's loss, the learning rate). Dropout draws from a generator seeded
    by (seed, step, rank), like the batch, so that a resumed run is bit-exact.
    """
    cfg = run.cfg
    lr = lr_at(step, cfg)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    x, y = get_batch(
        run.train_data, cfg.block_size, cfg.batch_size, cfg.seed, step, run.rank, run.world
    )  # (batch / N, block) each
    if cfg.dropout > 0:
        torch.manual_seed((cfg.seed * 1_000_003 + step) * 1024 + run.rank)
    _, loss = run.ddp_model(x.to(run.device), y.to(run.device))
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.optimizer.step()
    return loss, lr


def log_row(
    run: Run, done: int, loss: torch.Tensor, lr: float, elapsed: float, evaluate_now: bool
) -> dict:
    """The log row after ``done`` steps: the training loss averaged over the processes, and
    the validation loss when ``evaluate_now`` (NaN otherwise)."""
    cfg = run.cfg
    train_loss = loss.detach().clone()
    if run.world > 1:
        dist.all_reduce(train_loss)
        train_loss /= run.world
    row = {
        "step": done,
        "train_loss": train_loss.item(),
        "val_loss": float("nan"),
        "lr": lr,
        "tokens": done * cfg.batch_size * cfg.block_size,
        "elapsed_s": elapsed,
    }
    if evaluate_now:
        row["val_loss"] = evaluate(run.model, run.valid_data, cfg.block_size, cfg.eval_tokens)
    return row


def _announce(run: Run, say) -> None:
    cfg = run.cfg
    if cfg.resume:
        say(f"resumed from {run.ckpt_path} at step {run.start}")
    if run.start >= cfg.steps:
        say(f"nothing to do: the checkpoint is at step {run.start} >= steps {cfg.steps}")
    n_params = sum(p.numel() for p in run.model.parameters())
    say(
        f"{n_params:,} parameters | vocab {len(run.tokenizer)} | train {len(run.train_data):,} "
        f"chars | valid {len(run.valid_data):,} chars | {run.world} process(es) on "
        f"{run.device.type} | global batch {cfg.batch_size} x {cfg.block_size}"
    )


def _record(run: Run, row: dict, tokens: int, say) -> None:
    """Keep a log row: in the history, in log.csv (main process), and printed."""
    run.history.append(row)
    if run.is_main:
        _append_log(run.log_path, row)
    say(
        f"step {row['step']:>6} | loss {row['train_loss']:.4f} | val {row['val_loss']:.4f} | "
        f"lr {row['lr']:.2e} | {tokens / row['elapsed_s']:,.0f} tokens/s"
    )


def _progress_bar(run: Run, show_progress: bool):
    hidden = not (show_progress and run.is_main) or bool(os.environ.get("COURSE_NO_PROGRESS"))
    return progress(range(run.start, run.cfg.steps), desc="train", disable=hidden)


def train(
    cfg: TrainConfig,
    texts: list[str] | None = None,
    *,
    show_progress: bool = True,
    verbose: bool = True,
) -> TrainResult:
    """Train as ``cfg`` says; under torchrun, with DDP across the processes.

    ``texts`` overrides ``cfg.data`` (a list of lines). The split into train and
    validation lines is ``course_utils.corpora.split_texts``, the same as the
    bigram baseline's. The steps: ``setup_run``, then ``train_step`` per step,
    ``log_row`` every ``log_interval`` steps and ``save_checkpoint`` every
    ``save_interval`` steps (and at the end).
    """
    run = setup_run(cfg, texts)
    say = print if (verbose and run.is_main) else (lambda *a, **k: None)
    _announce(run, say)
    if run.is_main:
        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        _write_log(run.log_path, run.history)
    run.model.train()
    t0, tokens, val_loss = time.perf_counter(), 0, float("nan")
    for step in _progress_bar(run, show_progress):
        if cfg.stop_after is not None and step >= cfg.stop_after:
            break
        loss, lr = train_step(run, step)
        tokens += cfg.batch_size * cfg.block_size
        done = step + 1
        last = done in (cfg.steps, cfg.stop_after)
        evaluate_now = done % cfg.eval_interval == 0 or last
        if done % cfg.log_interval == 0 or evaluate_now:
            row = log_row(run, done, loss, lr, time.perf_counter() - t0, evaluate_now)
            val_loss = row["val_loss"] if evaluate_now else val_loss
            _record(run, row, tokens, say)
        if run.is_main and (done % cfg.save_interval == 0 or last):
            save_checkpoint(run.ckpt_path, run.model, run.optimizer, done, cfg, run.tokenizer)
    elapsed = time.perf_counter() - t0
    if math.isnan(val_loss):
        val_loss = evaluate(run.model, run.valid_data, cfg.block_size, cfg.eval_tokens)
    if run.world > 1:
        dist.barrier()
    return TrainResult(
        run.model, run.tokenizer, run.history, val_loss, tokens / elapsed if elapsed > 0 else 0.0
    )


# ---------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course_utils.train_gpt",
        description="Train a character-level GPT (one process or torchrun/DDP).",
    )
    p.add_argument("--config", help="JSON file with TrainConfig fields (flags override it)")
    p.add_argument(
        "--export",
        metavar="PATH",
        help="after training, write the model (fp16 weights, no optimizer state) to PATH",
    )
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
            # f.type is the annotation as a string (from __future__ import annotations)
            kind = {"int": int, "float": float, "str": str, "int | None": int}[str(f.type)]
            p.add_argument(flag, type=kind, default=None, help=f"default {f.default!r}")
    return p


def _config(args: argparse.Namespace) -> TrainConfig:
    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(TrainConfig)
        if getattr(args, f.name) is not None
    }
    if args.config:
        return TrainConfig.from_json(args.config, **overrides)
    return TrainConfig(**overrides)


def _print_sample(result: TrainResult, n_chars: int) -> None:
    device = next(result.model.parameters()).device
    idx = torch.tensor([result.tokenizer.encode("\n")], device=device)  # (1, 1)
    out = result.model.generate(idx, n_chars, temperature=0.8, top_k=50, generator=None)
    print(result.tokenizer.decode(out[0, 1:].tolist()))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        non_negative_int("--sample", args.sample)
        cfg = _config(args)
    except (FileNotFoundError, TypeError, ValueError) as exc:  # a bad flag or config file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
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
        if args.export:
            n_bytes = export_weights(
                args.export,
                result.model,
                result.tokenizer,
                cfg,
                step=result.history[-1]["step"] if result.history else 0,
                val_loss=result.val_loss,
            )
            print(f"exported {args.export} ({n_bytes / 1e6:.2f} MB)")
        if args.sample:
            _print_sample(result, args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
