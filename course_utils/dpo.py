"""Direct preference optimisation (DPO, Rafailov et al. 2023), against a frozen reference.

For a prompt x with a chosen answer y_w and a rejected one y_l, DPO's implicit reward of an
answer is how much more likely the policy makes it than the reference does,

    r(y) = beta * (log pi(y | x) - log pi_ref(y | x)),

and the loss is a logistic loss on the reward margin, -log sigmoid(r(y_w) - r(y_l)). The
reward model and the PPO loop of RLHF are gone; the reference model stays (beta pulls the
policy towards it, as RLHF's KL penalty does).

When the two answers differ by a character or two, DPO can lower the chosen answer's
likelihood too (Pal et al. 2024). RPO (Pang et al. 2024) adds the chosen answer's
negative log-likelihood per token, ``nll_weight * nll``, to keep it up.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .chat_template import IGNORE_INDEX
from .tools.checks import finite_number, instance_of, tensor_shape


def frozen_reference(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` (eval mode, no gradients): the reference pi_ref."""
    ref = copy.deepcopy(instance_of("model", model, nn.Module)).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def token_logprobs(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(batch, seq) log pi(y_t | x_<=t) of each target token; 0 where y is IGNORE_INDEX."""
    dims = tensor_shape("x", x, "batch seq", dtype=torch.long)
    tensor_shape("y", y, "batch seq", dims, dtype=torch.long)
    logp = F.log_softmax(model(x)[0].float(), dim=-1)  # (batch, seq, vocab)
    keep = y != IGNORE_INDEX  # (batch, seq)
    picked = logp.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (batch, seq)
    return torch.where(keep, picked, 0.0)  # (batch, seq)


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
