"""Training an encoder-decoder Transformer: batches with masks, label smoothing,
the Noam learning-rate schedule and a small training loop.

Names follow The Annotated Transformer (``Batch``, ``LabelSmoothing``, ``rate``,
``SimpleLossCompute``, ``run_epoch``), rewritten for current PyTorch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from .tools.checks import positive_int, probability, tensor_shape
from .tools.progress import progress
from .transformer import subsequent_mask


class Batch:
    """A batch of (src, tgt) id tensors with their masks.

    ``src_mask`` (batch, 1, src_len): True on real source tokens (False on padding).
    ``tgt`` is the decoder input (target without its last token), ``tgt_y`` the
    expected output (target without its first token, <bos>), and ``tgt_mask``
    (batch, tgt_len, tgt_len) combines padding with the subsequent mask.
    """

    def __init__(self, src: torch.Tensor, tgt: torch.Tensor | None = None, pad: int = 0):
        dims = tensor_shape("src", src, "batch seq")  # token ids
        self.src = src
        self.src_mask = (src != pad).unsqueeze(-2)  # (batch, 1, src_len)
        if tgt is not None:
            tensor_shape("tgt", tgt, "batch tgt_seq", dims)  # src's batch size
            self.tgt = tgt[:, :-1]  # (batch, tgt_len)
            self.tgt_y = tgt[:, 1:]  # (batch, tgt_len)
            self.tgt_mask = self.make_std_mask(self.tgt, pad)
            self.ntokens = int((self.tgt_y != pad).sum())

    @staticmethod
    def make_std_mask(tgt: torch.Tensor, pad: int) -> torch.Tensor:
        """Hide padding and future words: (batch, tgt_len, tgt_len)."""
        tgt_mask = (tgt != pad).unsqueeze(-2)  # (batch, 1, tgt_len)
        return tgt_mask & subsequent_mask(tgt.size(-1)).to(tgt.device)

    def to(self, device):
        for name in ("src", "src_mask", "tgt", "tgt_y", "tgt_mask"):
            if hasattr(self, name):
                setattr(self, name, getattr(self, name).to(device))
        return self


def check_label_smoothing(size: int, smoothing: float) -> None:
    """``smoothing`` in [0, 1), and a vocabulary with a word to spread it on besides the
    true word and padding (size >= 3)."""
    probability("smoothing", smoothing, allow_one=False)
    if size < 3:
        raise ValueError(f"size (vocabulary) must be >= 3 to spread smoothing mass, got {size}")


class LabelSmoothing(nn.Module):
    """KL divergence to a smoothed target: 1 - smoothing on the true word, the rest
    spread over the other words (never on padding). Expects log-probabilities."""

    def __init__(self, size: int, padding_idx: int, smoothing: float = 0.0):
        super().__init__()
        check_label_smoothing(size, smoothing)  # smoothing in [0, 1), size >= 3
        self.criterion = nn.KLDivLoss(reduction="sum")
        self.padding_idx = padding_idx
        self.confidence = 1.0 - smoothing
        self.smoothing = smoothing
        self.size = size
        self.true_dist: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tensor_shape("x", x, f"n {self.size}")  # (n, vocab) log-probabilities
        true_dist = torch.full_like(x, self.smoothing / (self.size - 2))  # (n, vocab)
        true_dist.scatter_(1, target.unsqueeze(1), self.confidence)
        true_dist[:, self.padding_idx] = 0
        true_dist[target == self.padding_idx] = 0
        self.true_dist = true_dist
        return self.criterion(x, true_dist)


def rate(step: int, model_size: int, factor: float, warmup: int) -> float:
    """Noam schedule: factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5).

    ``step`` counts from 0 here (LambdaLR's convention); it is treated as 1.
    """
    positive_int("warmup", warmup)
    step = max(step, 1)
    return factor * (model_size ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))


def noam_optimizer(
    model: nn.Module,
    d_model: int,
    factor: float = 1.0,
    warmup: int = 400,
    betas=(0.9, 0.98),
    eps: float = 1e-9,
):
    """Adam with the paper's betas and a LambdaLR running ``rate``: (optimizer, scheduler)."""
    opt = torch.optim.Adam(model.parameters(), lr=1.0, betas=betas, eps=eps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: rate(s, d_model, factor, warmup))
    return opt, sched


class SimpleLossCompute:
    """Generator + criterion; returns (loss summed over tokens, loss to backprop, per token)."""

    def __init__(self, generator: nn.Module, criterion: nn.Module):
        self.generator = generator
        self.criterion = criterion

    def __call__(self, x: torch.Tensor, y: torch.Tensor, norm: int):
        x = self.generator(x)  # (batch, tgt_len, vocab) log-probabilities
        loss = self.criterion(x.reshape(-1, x.size(-1)), y.reshape(-1)) / norm
        return loss.detach() * norm, loss


@dataclass
class TrainState:
    """What the training loop did: steps, tokens and a loss per step."""

    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def run_epoch(
    batches: Iterable[Batch],
    model: nn.Module,
    loss_compute: Callable,
    optimizer=None,
    scheduler=None,
    state: TrainState | None = None,
    desc: str = "train",
    total: int | None = None,
) -> tuple[float, TrainState]:
    """One pass over ``batches``; trains when an optimizer is given.

    Returns (loss per token, state)."""
    state = TrainState() if state is None else state
    total_loss, total_tokens = 0.0, 0
    t0 = time.perf_counter()
    for batch in progress(batches, desc=desc, total=total):
        out = model(
            batch.src, batch.tgt, batch.src_mask, batch.tgt_mask
        )  # (batch, tgt_len, d_model)
        loss, loss_node = loss_compute(out, batch.tgt_y, batch.ntokens)
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
            loss_node.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            state.step += 1
            state.losses.append(float(loss) / batch.ntokens)
        total_loss += float(loss)
        total_tokens += batch.ntokens
        state.tokens += batch.ntokens
    state.seconds += time.perf_counter() - t0
    return total_loss / max(total_tokens, 1), state


def copy_task_batches(
    vocab: int,
    seq_len: int,
    batch_size: int,
    n_batches: int,
    generator: torch.Generator | None = None,
):
    """Random copy-task batches: source = target = [1, x_1 .. x_{seq_len-1}], x in 2..vocab-1.

    Id 0 is padding and 1 is the start symbol.
    """
    if vocab < 3 or seq_len < 2:
        raise ValueError(f"need vocab >= 3 and seq_len >= 2, got {vocab} and {seq_len}")
    for _ in range(n_batches):
        data = torch.randint(2, vocab, (batch_size, seq_len), generator=generator)  # (batch, seq)
        data[:, 0] = 1
        yield Batch(data, data.clone(), pad=0)
