"""GPT-1's fine-tuning (Radford et al. 2018, section 3.2): a linear head on the last position.

The text is followed by an end token ("\\n", the line break the language model saw between
reviews): its final hidden state h_l^m goes through a new linear layer W_y,

    P(y | x_1..x_m) = softmax(h_l^m W_y),        L_2 = -sum log P(y | x)

and GPT-1 adds the language-model loss on the same texts, L_3 = L_2 + lambda * L_1
(lambda = 0.5). The same class, given a freshly initialised GPT, is the control that shows
what pre-training buys.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from .attention import causal_mask
from .gpt import GPT
from .tools.checks import finite_number, instance_of, non_empty, one_of, positive_int
from .vocab import CharTokenizer, right_pad


def hidden_states(gpt: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The final block's output (after ln_f), (batch, seq, d_model): GPT.forward minus lm_head."""
    T = idx.size(1)
    pos = torch.arange(T, device=idx.device)  # (seq,)
    x = gpt.drop(gpt.wte(idx) + gpt.wpe(pos))  # (batch, seq, d_model)
    return gpt.blocks(x, causal_mask(T, 0, device=idx.device))  # (batch, seq, d_model)


def pool_states(h: torch.Tensor, lengths: torch.Tensor, pool: str) -> torch.Tensor:
    """One vector per text from the hidden states h (batch, seq, d_model) of right-padded texts:
    the last real position's (GPT-1's h_l^m) or the mean over the real positions."""
    if pool == "last":
        return h[torch.arange(h.size(0)), lengths - 1]  # (batch, d_model)
    real = (torch.arange(h.size(1))[None, :] < lengths[:, None]).float()  # (batch, seq)
    return (h * real[..., None]).sum(1) / lengths[:, None]  # (batch, d_model)


@torch.no_grad()
def frozen_features(gpt: GPT, tok: CharTokenizer, texts, pool: str = "mean", batch_size: int = 200):
    """(n, d_model) pooled hidden states of a GPT that is not trained further: the input of a
    linear probe, which measures what the representations already hold."""
    one_of("pool", pool, ("last", "mean"))
    gpt.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        idx, lengths = encode_batch(tok, texts[i : i + batch_size], gpt.config.block_size)
        out.append(pool_states(hidden_states(gpt, idx), lengths, pool))  # (batch, d_model)
    return torch.cat(out)


class GPTClassifier(nn.Module):
    """A GPT with a classification head W_y on the hidden state of each text's last token."""

    def __init__(self, gpt: GPT, n_classes: int = 2, pool: str = "last"):
        super().__init__()
        instance_of("gpt", gpt, GPT)
        positive_int("n_classes", n_classes)
        one_of("pool ('last' is GPT-1's)", pool, ("last", "mean"))
        self.gpt, self.pool = gpt, pool
        self.head = nn.Linear(gpt.config.d_model, n_classes)  # W_y
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor, with_lm: bool = True):
        """idx (batch, seq) right-padded, lengths (batch,) -> (class logits (batch, n_classes),
        LM logits (batch, seq, vocab), or None when ``with_lm`` is False: the output layer
        over every position is most of the work at small widths)."""
        h = hidden_states(self.gpt, idx)  # (batch, seq, d_model)
        feat = pool_states(h, lengths, self.pool)  # (batch, d_model)
        return self.head(feat), self.gpt.lm_head(h) if with_lm else None


def encode_batch(tok: CharTokenizer, texts, block_size: int, end: str = "\n"):
    """Right-padded ids (batch, seq) and lengths; each text cut to block_size - 1 characters."""
    non_empty("texts", texts)
    return right_pad([tok.encode(t[: block_size - 1] + end) for t in texts])


def classifier_loss(clf: GPTClassifier, idx, lengths, labels, aux_weight: float = 0.5):
    """L_3 = L_2 + aux_weight * L_1 (L_1 on the real characters only, padding ignored)."""
    logits, lm_logits = clf(idx, lengths, with_lm=aux_weight != 0)
    l2 = F.cross_entropy(logits, labels)
    if aux_weight == 0:
        return l2, l2, torch.zeros(())
    T = idx.size(1)
    valid = torch.arange(T - 1)[None, :] < (lengths[:, None] - 1)  # (batch, seq - 1)
    targets = idx[:, 1:].masked_fill(~valid, -100)  # (batch, seq - 1)
    l1 = F.cross_entropy(
        lm_logits[:, :-1].reshape(-1, lm_logits.size(-1)), targets.reshape(-1), ignore_index=-100
    )
    return l2 + aux_weight * l1, l2, l1


def fine_tune(
    clf: GPTClassifier,
    tok,
    texts,
    labels,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    aux_weight: float = 0.5,
    seed: int = 0,
    weight_decay: float = 0.01,
):
    """AdamW with linear warm-up (10%) and linear decay; batches drawn with a seeded generator."""
    positive_int("steps", steps)
    finite_number("aux_weight", aux_weight, low=0)
    non_empty("texts", texts)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=weight_decay)
    y_all = torch.tensor(labels)
    warm = max(1, steps // 10)
    clf.train()
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(steps):
        scale = (step + 1) / warm if step < warm else max(0.0, (steps - step) / (steps - warm))
        for grp in opt.param_groups:
            grp["lr"] = lr * scale
        pick = torch.randint(len(texts), (batch_size,), generator=g)
        idx, lengths = encode_batch(tok, [texts[i] for i in pick], clf.gpt.config.block_size)
        loss, _, _ = classifier_loss(clf, idx, lengths, y_all[pick], aux_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
        opt.step()
    clf.eval()
    return {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0}


@torch.no_grad()
def predict(clf: GPTClassifier, tok, texts, batch_size: int = 128) -> torch.Tensor:
    clf.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        idx, lengths = encode_batch(tok, texts[i : i + batch_size], clf.gpt.config.block_size)
        out.append(clf(idx, lengths, with_lm=False)[0].argmax(-1))
    return torch.cat(out)
