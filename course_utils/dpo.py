"""Direct preference optimisation (DPO, Rafailov et al. 2023), against a frozen reference.

For a prompt x with a chosen answer y_w and a rejected one y_l, DPO's implicit reward of an
answer is how much more likely the policy makes it than the reference does,

    r(y) = beta * (log pi(y | x) - log pi_ref(y | x)),

and the loss is a logistic loss on the reward margin, -log sigmoid(r(y_w) - r(y_l)). The
reward model and the PPO loop of RLHF are gone; the reference model stays (beta pulls the
policy towards it, as RLHF's KL penalty does).

When the two answers differ by a character or two, DPO can lower the chosen answer's
likelihood too (Pal et al. 2024). Iterative RPO (Pang et al. 2024) adds the chosen answer's
negative log-likelihood per token, ``nll_weight * nll``, to keep it up.

The pairs come from the model itself: ``sample_preference_pairs`` samples answers and pairs the
gold answer with a wrong sample (``preference_pairs``); ``train_dpo`` trains on them and
``evaluate_pairs`` measures held-out pairs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .chat_template import IGNORE_INDEX, kept_logits, pad_sft_batch
from .instruction_data import Example, is_correct
from .sft import answer_example, batch_indices, make_sft_optimizer, sample_answers
from .tools.checks import (
    finite_number,
    instance_of,
    non_empty,
    non_negative_int,
    positive_int,
    tensor_shape,
)


def copy_model(model: nn.Module) -> nn.Module:
    """An independent copy of ``model``. Attention layers keep their last weights for plotting
    (``attn``); after a forward pass with gradients those are part of a graph, which
    ``copy.deepcopy`` refuses, so they are dropped first."""
    for m in instance_of("model", model, nn.Module).modules():
        if isinstance(getattr(m, "attn", None), torch.Tensor):
            m.attn = None
    return copy.deepcopy(model)


def frozen_reference(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` (eval mode, no gradients): the reference pi_ref."""
    ref = copy_model(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def token_logprobs(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(batch, seq) log pi(y_t | x_<=t) of each target token; 0 where y is IGNORE_INDEX."""
    dims = tensor_shape("x", x, "batch seq", dtype=torch.long)
    tensor_shape("y", y, "batch seq", dims, dtype=torch.long)
    keep = y != IGNORE_INDEX  # (batch, seq)
    logp = F.log_softmax(kept_logits(model, x, keep).float(), dim=-1)  # (n_kept, vocab)
    picked = logp.gather(-1, y[keep].unsqueeze(-1)).squeeze(-1)  # (n_kept,)
    return torch.zeros(y.shape, dtype=picked.dtype, device=y.device).masked_scatter(keep, picked)


def sequence_logprob(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(batch,) log pi(answer | prompt): the sum over the targets that are not IGNORE_INDEX."""
    return token_logprobs(model, x, y).sum(-1)  # (batch,)


class DPOOutput(NamedTuple):
    loss: torch.Tensor  # (batch,) per pair; take .mean() to train
    chosen_rewards: torch.Tensor  # (batch,) beta * (log pi - log pi_ref), detached
    rejected_rewards: torch.Tensor  # (batch,)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    nll: torch.Tensor | None = None,
    nll_weight: float = 0.0,
) -> DPOOutput:
    """Per-pair DPO loss -log sigmoid(r_w - r_l), plus ``nll_weight * nll`` (RPO).

    The four log-probabilities are (batch,) sums over each answer's tokens
    (``sequence_logprob``); ``nll`` is the chosen answer's negative log-likelihood per
    token under the policy, (batch,), needed when ``nll_weight > 0``.
    """
    dims = tensor_shape("policy_chosen", policy_chosen, "batch", dtype="floating")
    for name, t in [
        ("policy_rejected", policy_rejected),
        ("ref_chosen", ref_chosen),
        ("ref_rejected", ref_rejected),
    ]:
        tensor_shape(name, t, "batch", dims, dtype="floating")
    finite_number("beta", beta, low=0, low_inclusive=False)
    finite_number("nll_weight", nll_weight, low=0)
    chosen_rewards = beta * (policy_chosen - ref_chosen.detach())  # (batch,)
    rejected_rewards = beta * (policy_rejected - ref_rejected.detach())  # (batch,)
    loss = -F.logsigmoid(chosen_rewards - rejected_rewards)  # (batch,)
    if nll_weight > 0:
        if nll is None:
            raise ValueError("nll_weight > 0 needs nll, the chosen answers' NLL per token")
        tensor_shape("nll", nll, "batch", dims, dtype="floating")
        loss = loss + nll_weight * nll  # (batch,)
    return DPOOutput(loss, chosen_rewards.detach(), rejected_rewards.detach())


def preference_metrics(
    chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor, policy_chosen: torch.Tensor
) -> dict[str, float]:
    """Preference accuracy (the share of pairs whose chosen reward is strictly above the
    rejected one: at the start, policy = reference, every margin is 0 and accuracy is 0), the
    mean reward margin, and the chosen answers' mean log-probability under the policy."""
    dims = tensor_shape("chosen_rewards", chosen_rewards, "batch", dtype="floating")
    tensor_shape("rejected_rewards", rejected_rewards, "batch", dims, dtype="floating")
    tensor_shape("policy_chosen", policy_chosen, "batch", dims, dtype="floating")
    margin = (chosen_rewards - rejected_rewards).detach()  # (batch,)
    return {
        "accuracy": (margin > 0).float().mean().item(),
        "margin": margin.mean().item(),
        "chosen_logp": policy_chosen.detach().mean().item(),
    }


# ------------------------------------------------------------------ pairs and training


@dataclass(frozen=True)
class PreferencePair:
    """One preference: for ``instruction``, the gold answer ``chosen`` over ``rejected``, a
    wrong answer that the model itself sampled."""

    task: str
    instruction: str
    chosen: str
    rejected: str

    def conversations(self) -> tuple[list[dict], list[dict]]:
        """The chosen and the rejected exchange, as lists of messages."""
        user = {"role": "user", "content": self.instruction}
        return (
            [user, {"role": "assistant", "content": self.chosen}],
            [user, {"role": "assistant", "content": self.rejected}],
        )


def preference_pairs(
    examples: Sequence[Example], sampled: Sequence[Sequence[str]]
) -> list[PreferencePair]:
    """A pair for each example among whose sampled answers one is wrong (``is_correct``):
    chosen = the gold answer, rejected = the first wrong sample. Examples the model always
    answers right give no pair (there is nothing to prefer against)."""
    non_empty("examples", examples)
    if len(sampled) != len(examples):
        raise ValueError(
            f"sampled has {len(sampled)} lists of answers for {len(examples)} examples; "
            "give one list per example (sft.sample_answers)"
        )
    pairs = []
    for i, (e, answers) in enumerate(zip(examples, sampled)):
        instance_of(f"examples[{i}]", e, Example)
        wrong = [a for a in answers if not is_correct(e, a)]
        if wrong:
            pairs.append(PreferencePair(e.task, e.instruction, e.answer, wrong[0]))
    return pairs


def sample_preference_pairs(
    model,
    tokenizer,
    examples: Sequence[Example],
    n_samples: int,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[PreferencePair]:
    """Sample ``n_samples`` answers per example from ``model`` (``sft.sample_answers``) and
    pair the gold answer with the first wrong one (``preference_pairs``)."""
    sampled = sample_answers(
        model,
        tokenizer,
        [e.instruction for e in examples],
        n_samples,
        max_new_tokens,
        temperature=temperature,
        seed=seed,
    )
    return preference_pairs(examples, sampled)


def encode_pairs(tokenizer, pairs: Sequence[PreferencePair], block_size: int) -> list[tuple]:
    """Per pair, the (inputs, targets) of its chosen and its rejected answer
    (``sft.answer_example``: targets only on the answer and its ``<|end|>``)."""
    non_empty("pairs", pairs)
    out = []
    for i, pair in enumerate(pairs):
        instance_of(f"pairs[{i}]", pair, PreferencePair)
        out.append(
            tuple(
                answer_example(tokenizer, pair.instruction, answer, block_size)
                for answer in (pair.chosen, pair.rejected)
            )
        )
    return out


def pair_logprobs(model, batch: Sequence[tuple]) -> tuple[torch.Tensor, ...]:
    """For encoded pairs: (batch,) log pi(chosen), (batch,) log pi(rejected), and (batch,) the
    chosen answers' NLL per token."""
    device = next(model.parameters()).device
    xc, yc = pad_sft_batch([c for c, _ in batch])  # (batch, seq_c) each
    xr, yr = pad_sft_batch([r for _, r in batch])  # (batch, seq_r) each
    yc = yc.to(device)
    chosen_tokens = token_logprobs(model, xc.to(device), yc)  # (batch, seq_c)
    n_chosen = (yc != IGNORE_INDEX).sum(-1)  # (batch,)
    chosen = chosen_tokens.sum(-1)  # (batch,)
    rejected = sequence_logprob(model, xr.to(device), yr.to(device))  # (batch,)
    return chosen, rejected, -chosen / n_chosen


@dataclass
class DPOConfig:
    """How DPO trains: AdamW on every weight, linear warm-up then a constant rate."""

    steps: int = 100
    batch_size: int = 32  # pairs per step, drawn with replacement
    lr: float = 1e-4
    warmup: int = 10
    beta: float = 0.1
    weight_decay: float = 0.0
    nll_weight: float = 0.0  # > 0: RPO's NLL term on the chosen answer
    grad_clip: float = 1.0  # 0: no clipping
    seed: int = 0

    def __post_init__(self):
        positive_int("DPOConfig.steps", self.steps)
        positive_int("DPOConfig.batch_size", self.batch_size)
        non_negative_int("DPOConfig.warmup", self.warmup)
        non_negative_int("DPOConfig.seed", self.seed)
        finite_number("DPOConfig.lr", self.lr, low=0, low_inclusive=False)
        finite_number("DPOConfig.beta", self.beta, low=0, low_inclusive=False)
        finite_number("DPOConfig.weight_decay", self.weight_decay, low=0)
        finite_number("DPOConfig.nll_weight", self.nll_weight, low=0)
        finite_number("DPOConfig.grad_clip (0: no clipping)", self.grad_clip, low=0)

    def lr_at(self, step: int) -> float:
        return self.lr * min(1.0, (step + 1) / (self.warmup + 1))


@torch.no_grad()
def score_pairs(model, tokenizer, pairs: Sequence[PreferencePair], batch_size: int = 64):
    """(n,) log pi(chosen) and (n,) log pi(rejected) of every pair under ``model``."""
    encoded = encode_pairs(tokenizer, pairs, model.config.block_size)
    positive_int("batch_size", batch_size)
    model.eval()
    parts = [
        pair_logprobs(model, encoded[s : s + batch_size])[:2]
        for s in range(0, len(encoded), batch_size)
    ]
    chosen, rejected = (torch.cat(t) for t in zip(*parts))
    return chosen, rejected  # (n,) each


def evaluate_pairs(
    policy, reference, tokenizer, pairs: Sequence[PreferencePair], beta: float, batch_size=64
) -> dict[str, float]:
    """``preference_metrics`` over all of ``pairs`` (held out); "ranking_accuracy", the share of
    pairs where the policy itself gives the chosen answer the higher log-probability (for the
    SFT model, the baseline that DPO starts from); and "rejected_logp", the rejected answers'
    mean log-probability under the policy."""
    finite_number("beta", beta, low=0, low_inclusive=False)
    pc, pr = score_pairs(policy, tokenizer, pairs, batch_size)  # (n,) each
    rc, rr = score_pairs(reference, tokenizer, pairs, batch_size)
    out = dpo_loss(pc, pr, rc, rr, beta)
    metrics = preference_metrics(out.chosen_rewards, out.rejected_rewards, pc)
    metrics["ranking_accuracy"] = (pc > pr).float().mean().item()
    metrics["rejected_logp"] = pr.mean().item()
    return metrics


def train_dpo(
    policy, reference, tokenizer, pairs: Sequence[PreferencePair], cfg: DPOConfig, progress=None
) -> dict:
    """Train ``policy`` in place with the DPO loss (plus RPO's NLL term if ``cfg.nll_weight``)
    against the frozen ``reference``; return per step "loss", "accuracy", "margin" and
    "chosen_logp" (on that step's batch), and "wall_s". The policy is left in eval mode."""
    instance_of("cfg", cfg, DPOConfig)
    if any(p.requires_grad for p in reference.parameters()):
        raise ValueError("the reference must be frozen: make it with frozen_reference(policy)")
    encoded = encode_pairs(tokenizer, pairs, policy.config.block_size)
    params = [p for p in policy.parameters() if p.requires_grad]
    non_empty("the policy's trainable parameters", params)
    optimizer = make_sft_optimizer(params, cfg)
    history: dict[str, list] = {"loss": [], "accuracy": [], "margin": [], "chosen_logp": []}
    t0 = time.perf_counter()
    policy.train()
    for step in range(cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr_at(step)
        batch = [encoded[i] for i in batch_indices(len(encoded), cfg.batch_size, cfg.seed, step)]
        pc, pr, nll = pair_logprobs(policy, batch)  # (batch,) each
        with torch.no_grad():
            rc, rr, _ = pair_logprobs(reference, batch)
        out = dpo_loss(pc, pr, rc, rr, cfg.beta, nll=nll, nll_weight=cfg.nll_weight)
        loss = out.loss.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        metrics = preference_metrics(out.chosen_rewards, out.rejected_rewards, pc)
        history["loss"].append(loss.item())
        for key in ("accuracy", "margin", "chosen_logp"):
            history[key].append(metrics[key])
        if progress is not None:
            progress.update(1)
    policy.eval()
    history["wall_s"] = time.perf_counter() - t0
    return history
