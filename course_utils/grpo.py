"""Group relative policy optimisation (GRPO, Shao et al. 2024, DeepSeekMath) with a verifiable
reward: no reward model and no value function.

For each prompt, sample a group of G answers and score each with an exact checker. An
answer's advantage is its reward normalised within its group,

    A_i = (r_i - mean(r)) / (std(r) + eps),

so the group itself is the baseline that PPO's value function would learn. A group whose
rewards are all equal (all right or all wrong) has A = 0: it teaches nothing, which is why
the prompts should be ones the model solves sometimes.

The policy maximises PPO's clipped surrogate per token, minus beta times the k3 estimate of
KL(pi || pi_ref), averaged over each answer's tokens and then over the answers:

    ratio = pi / pi_old,  min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) - beta * k3,
    k3 = pi_ref / pi - log(pi_ref / pi) - 1  (>= 0, unbiased for KL).

The clip only acts when one batch of samples is used for more than one update: on the first
update pi = pi_old and ratio = 1.

``pass_rates`` estimates each prompt's pass@1 from a group of samples, to keep the prompts that
carry a signal; ``train_grpo`` runs the loop: sample a group per prompt with the current policy
(which becomes pi_old), score it, then ``inner_steps`` clipped updates on that batch.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from .chat_template import IGNORE_INDEX, pad_sft_batch
from .dpo import token_logprobs
from .instruction_data import Example, is_correct
from .sft import answer_example, make_sft_optimizer, sample_answers
from .tools.checks import (
    finite_number,
    instance_of,
    non_empty,
    non_negative_int,
    positive_int,
    tensor_shape,
)


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """(n_prompts, group) rewards -> (n_prompts, group) advantages, normalised in each group.

    The std is the sample std (Bessel's n - 1, as trl computes it). A group whose rewards are
    all equal gets exactly 0: it teaches nothing.
    """
    dims = tensor_shape("rewards", rewards, "n_prompts group", dtype="floating")
    if dims["group"] < 2:
        raise ValueError(f"a group needs at least 2 answers to compare, got {dims['group']}")
    finite_number("eps", eps, low=0, low_inclusive=False)
    mean = rewards.mean(dim=1, keepdim=True)  # (n_prompts, 1)
    std = rewards.std(dim=1, keepdim=True)  # (n_prompts, 1)
    advantages = (rewards - mean) / (std + eps)  # (n_prompts, group)
    equal = (rewards == rewards[:, :1]).all(dim=1, keepdim=True)  # (n_prompts, 1)
    return torch.where(equal, 0.0, advantages)  # exactly 0, even where the mean rounds


class GRPOOutput(NamedTuple):
    loss: torch.Tensor  # scalar, to minimise: -(surrogate - beta * KL)
    clip_fraction: float  # share of answer tokens where the clip binds (no gradient there)
    kl: float  # mean k3 estimate of KL(pi || pi_ref), averaged as the loss is
    zero_advantage_groups: float  # share of groups whose advantages are all 0


def grpo_objective(
    logp_new: torch.Tensor,
    logp_old: torch.Tensor,
    logp_ref: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float,
    beta: float,
) -> GRPOOutput:
    """The GRPO loss and its diagnostics.

    ``logp_*`` and ``mask`` are (n_prompts * group, seq): per-token log-probs of the sampled
    answers under the policy being trained, the policy that sampled them and the reference,
    rows in ``advantages.flatten()`` order (a prompt's group together); ``mask`` is 1 on answer
    tokens (bool or 0/1), and the other positions must hold finite numbers (``token_logprobs``
    puts 0 there). ``advantages`` is (n_prompts, group), from ``group_advantages``.
    """
    adv_dims = tensor_shape("advantages", advantages, "n_prompts group", dtype="floating")
    dims = tensor_shape("logp_new", logp_new, "answers seq", dtype="floating")
    tensor_shape("logp_old", logp_old, "answers seq", dims, dtype="floating")
    tensor_shape("logp_ref", logp_ref, "answers seq", dims, dtype="floating")
    tensor_shape("mask", mask, "answers seq", dims)
    if dims["answers"] != adv_dims["n_prompts"] * adv_dims["group"]:
        raise ValueError(
            f"logp_new has {dims['answers']} rows; advantages {tuple(advantages.shape)} needs "
            f"n_prompts * group = {advantages.numel()}, one row per sampled answer"
        )
    finite_number("clip_eps", clip_eps, low=0, high=1, low_inclusive=False, high_inclusive=False)
    finite_number("beta", beta, low=0)
    n_tokens = mask.sum(-1)  # (answers,)
    if (n_tokens == 0).any():
        raise ValueError("every answer needs at least one token in mask (a row of mask is 0)")
    A = advantages.reshape(-1, 1)  # (answers, 1)
    ratio = torch.exp(logp_new - logp_old.detach())  # (answers, seq)
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps)  # (answers, seq)
    surrogate = torch.minimum(ratio * A, clipped * A)  # (answers, seq)
    d = logp_ref.detach() - logp_new  # (answers, seq), log(pi_ref / pi)
    k3 = torch.exp(d) - d - 1  # (answers, seq), >= 0
    per_answer = ((surrogate - beta * k3) * mask).sum(-1) / n_tokens  # (answers,)
    with torch.no_grad():
        binds = ((ratio < 1 - clip_eps) & (A < 0)) | ((ratio > 1 + clip_eps) & (A > 0))
        clip_fraction = (binds * mask).sum() / mask.sum()
        kl = ((k3 * mask).sum(-1) / n_tokens).mean()
        zero_groups = (advantages == 0).all(dim=1).float().mean()
    return GRPOOutput(-per_answer.mean(), clip_fraction.item(), kl.item(), zero_groups.item())


# ------------------------------------------------------------------ sampling and training


@dataclass
class GRPOConfig:
    """How GRPO trains: each iteration samples a group per prompt with the current policy
    (which becomes pi_old), then takes ``inner_steps`` updates on that batch."""

    iterations: int = 30
    prompts_per_iteration: int = 8
    group_size: int = 8
    inner_steps: int = 2  # >= 2: the clip acts from the second update on
    lr: float = 2e-5
    clip_eps: float = 0.2
    beta: float = 0.04  # the weight of the KL penalty to the reference
    temperature: float = 1.0
    max_new_tokens: int = 16
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # 0: no clipping
    seed: int = 0

    def __post_init__(self):
        for name in ("iterations", "prompts_per_iteration", "inner_steps", "max_new_tokens"):
            positive_int(f"GRPOConfig.{name}", getattr(self, name))
        if positive_int("GRPOConfig.group_size", self.group_size) < 2:
            raise ValueError("GRPOConfig.group_size must be at least 2: a group compares answers")
        non_negative_int("GRPOConfig.seed", self.seed)
        finite_number("GRPOConfig.lr", self.lr, low=0, low_inclusive=False)
        finite_number("GRPOConfig.beta", self.beta, low=0)
        finite_number("GRPOConfig.weight_decay", self.weight_decay, low=0)
        finite_number("GRPOConfig.grad_clip (0: no clipping)", self.grad_clip, low=0)
        finite_number("GRPOConfig.temperature", self.temperature, low=0, low_inclusive=False)


def rewards_of(examples: Sequence[Example], groups: Sequence[Sequence[str]]) -> torch.Tensor:
    """(n_prompts, group) rewards: 1.0 where the checker (``is_correct``) accepts the answer."""
    non_empty("examples", examples)
    if len(groups) != len(examples):
        raise ValueError(f"{len(groups)} groups of answers for {len(examples)} examples")
    return torch.tensor(
        [[float(is_correct(e, a)) for a in answers] for e, answers in zip(examples, groups)]
    )  # (n_prompts, group)


def sample_groups(
    model, tokenizer, examples: Sequence[Example], cfg: GRPOConfig, seed: int
) -> list[list[str]]:
    """A group of ``cfg.group_size`` sampled answers per example (``sft.sample_answers``)."""
    return sample_answers(
        model,
        tokenizer,
        [e.instruction for e in examples],
        cfg.group_size,
        cfg.max_new_tokens,
        temperature=cfg.temperature,
        seed=seed,
    )


def pass_rates(
    model, tokenizer, examples: Sequence[Example], cfg: GRPOConfig, seed: int = 0
) -> torch.Tensor:
    """(n_prompts,) each prompt's pass@1, estimated from ``cfg.group_size`` samples."""
    groups = sample_groups(model, tokenizer, examples, cfg, seed)
    return rewards_of(examples, groups).mean(dim=1)  # (n_prompts,)


def encode_groups(tokenizer, examples, groups, block_size: int):
    """x, y (n_prompts * group, seq): each sampled answer as a training exchange, in group
    order, targets on the answer and its ``<|end|>`` only (``sft.answer_example``)."""
    return pad_sft_batch(
        [
            answer_example(tokenizer, e.instruction, a, block_size)
            for e, answers in zip(examples, groups)
            for a in answers
        ]
    )


def train_grpo(
    policy, reference, tokenizer, examples: Sequence[Example], cfg: GRPOConfig, progress=None
) -> dict:
    """Train ``policy`` in place with GRPO on ``examples`` (prompts with a checker); return per
    iteration "reward" (mean over the sampled answers, before the update), "kl",
    "clip_fraction" (of the last inner step) and "zero_advantage_groups", and "wall_s"."""
    instance_of("cfg", cfg, GRPOConfig)
    examples = non_empty("examples", list(examples))
    if any(p.requires_grad for p in reference.parameters()):
        raise ValueError("the reference must be frozen: make it with dpo.frozen_reference(policy)")
    params = [p for p in policy.parameters() if p.requires_grad]
    non_empty("the policy's trainable parameters", params)
    optimizer = make_sft_optimizer(params, cfg)
    device = next(policy.parameters()).device
    order = list(range(len(examples)))
    random.Random(cfg.seed).shuffle(order)
    keys = ("reward", "kl", "clip_fraction", "zero_advantage_groups")
    history: dict[str, list] = {k: [] for k in keys}
    t0 = time.perf_counter()
    for it in range(cfg.iterations):
        start = it * cfg.prompts_per_iteration
        chosen = [
            examples[order[(start + j) % len(order)]] for j in range(cfg.prompts_per_iteration)
        ]
        groups = sample_groups(policy, tokenizer, chosen, cfg, seed=cfg.seed * 1_000_003 + it)
        rewards = rewards_of(chosen, groups)  # (prompts, group)
        advantages = group_advantages(rewards).to(device)  # (prompts, group)
        x, y = encode_groups(tokenizer, chosen, groups, policy.config.block_size)
        x, y = x.to(device), y.to(device)  # (prompts * group, seq) each
        mask = y != IGNORE_INDEX  # (prompts * group, seq)
        with torch.no_grad():
            logp_old = token_logprobs(policy.eval(), x, y)  # (prompts * group, seq)
            logp_ref = token_logprobs(reference, x, y)
        policy.train()
        for _ in range(cfg.inner_steps):
            logp_new = token_logprobs(policy, x, y)  # (prompts * group, seq)
            out = grpo_objective(
                logp_new, logp_old, logp_ref, advantages, mask, cfg.clip_eps, cfg.beta
            )
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
        history["reward"].append(rewards.mean().item())
        history["kl"].append(out.kl)
        history["clip_fraction"].append(out.clip_fraction)
        history["zero_advantage_groups"].append(out.zero_advantage_groups)
        if progress is not None:
            progress.update(1)
    policy.eval()
    history["wall_s"] = time.perf_counter() - t0
    return history
