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
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .tools.checks import finite_number, tensor_shape


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
