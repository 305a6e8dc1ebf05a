"""course_utils.dpo: the DPO loss against a hand computation, sequence log-probs against a direct
log_softmax gather, and the frozen reference."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.chat_template import IGNORE_INDEX
from course_utils.dpo import (
    dpo_loss,
    frozen_reference,
    preference_metrics,
    sequence_logprob,
    token_logprobs,
)
from course_utils.gpt_compared import new_gpt

# four pairs: log pi(y_w), log pi(y_l), log pi_ref(y_w), log pi_ref(y_l)
PC = [-1.0, -4.0, -2.5, -3.0]
PR = [-3.0, -2.0, -2.5, -6.0]
RC = [-1.5, -3.0, -2.0, -3.0]
RR = [-2.0, -2.5, -3.0, -5.0]
BETA = 0.5


def by_hand(pc, pr, rc, rr, beta):
    """DPO (Rafailov et al. 2023, eq. 7) for one pair, written with math only."""
    r_w, r_l = beta * (pc - rc), beta * (pr - rr)
    return math.log(1 + math.exp(-(r_w - r_l))), r_w, r_l


def t(values, grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def test_dpo_loss_equals_a_hand_computation():
    out = dpo_loss(t(PC), t(PR), t(RC), t(RR), BETA)
    want = [by_hand(*row, BETA) for row in zip(PC, PR, RC, RR)]
    assert out.loss.shape == (4,)
    torch.testing.assert_close(out.loss, t([w[0] for w in want]))
    torch.testing.assert_close(out.chosen_rewards, t([w[1] for w in want]))
    torch.testing.assert_close(out.rejected_rewards, t([w[2] for w in want]))
    # pair 0: r_w = 0.25, r_l = -0.5, margin 0.75, loss log(1 + e^-0.75) = 0.38687...
    assert out.loss[0].item() == pytest.approx(0.386871, abs=1e-6)
    assert out.loss[1].item() == pytest.approx(math.log(1 + math.exp(0.75)))  # margin -0.75


def test_dpo_loss_is_log2_when_the_policy_is_the_reference():
    out = dpo_loss(t(PC), t(PR), t(PC), t(PR), 0.1)
    torch.testing.assert_close(out.loss, torch.full((4,), math.log(2), dtype=torch.float64))


def test_dpo_gradient():
    """d loss / d log pi(y_w) = -beta * sigmoid(-margin); d / d log pi(y_l) is its negative;
    the reference gets none."""
    pc, pr, rc, rr = t(PC, True), t(PR, True), t(RC, True), t(RR, True)
    out = dpo_loss(pc, pr, rc, rr, BETA)
    out.loss.sum().backward()
    margin = BETA * ((t(PC) - t(RC)) - (t(PR) - t(RR)))
    torch.testing.assert_close(pc.grad, -BETA * torch.sigmoid(-margin))
    torch.testing.assert_close(pr.grad, BETA * torch.sigmoid(-margin))
    assert rc.grad is None and rr.grad is None
    assert not out.chosen_rewards.requires_grad and not out.rejected_rewards.requires_grad


def test_dpo_loss_with_the_nll_term():
    nll = t([0.5, 2.0, 1.0, 0.25])
    plain = dpo_loss(t(PC), t(PR), t(RC), t(RR), BETA).loss
    out = dpo_loss(t(PC), t(PR), t(RC), t(RR), BETA, nll=nll, nll_weight=0.3)
    torch.testing.assert_close(out.loss, plain + 0.3 * nll)
    same = dpo_loss(t(PC), t(PR), t(RC), t(RR), BETA, nll=nll, nll_weight=0.0)
    torch.testing.assert_close(same.loss, plain)  # weight 0: plain DPO


def test_dpo_loss_bad_inputs():
    with pytest.raises(ValueError, match="nll_weight > 0 needs nll"):
        dpo_loss(t(PC), t(PR), t(RC), t(RR), BETA, nll_weight=1.0)
    with pytest.raises(ValueError, match=r"beta must be a number in \(0, inf\]"):
        dpo_loss(t(PC), t(PR), t(RC), t(RR), 0.0)
    with pytest.raises(ValueError, match="nll_weight must be a number"):
        dpo_loss(t(PC), t(PR), t(RC), t(RR), BETA, nll_weight=-1.0)
    with pytest.raises(ValueError, match="ref_rejected must have shape"):
        dpo_loss(t(PC), t(PR), t(RC), t(RR[:3]), BETA)
    with pytest.raises(ValueError, match="nll must have shape"):
        dpo_loss(t(PC), t(PR), t(RC), t(RR), BETA, nll=t([1.0]), nll_weight=1.0)


def test_preference_metrics():
    chosen, rejected = t([0.3, -0.1, 0.0, 0.5]), t([0.1, 0.2, 0.0, -0.5])
    m = preference_metrics(chosen, rejected, t([-1.0, -2.0, -3.0, -6.0]))
    assert m["accuracy"] == 0.5  # pairs 0 and 3; the tie (pair 2) is not a win
    assert m["margin"] == pytest.approx((0.2 - 0.3 + 0.0 + 1.0) / 4)
    assert m["chosen_logp"] == pytest.approx(-3.0)
    with pytest.raises(ValueError, match="rejected_rewards must have shape"):
        preference_metrics(chosen, rejected[:2], chosen)


@pytest.fixture(scope="module")
def model():
    m = new_gpt(12, 16, 1, 16, seed=1)
    with torch.no_grad():
        m.lm_head.weight.mul_(20)  # peaked distributions: a wrong index differs by nats
    return m.eval()


def batch():
    x = torch.tensor([[1, 5, 2, 7, 3, 3], [4, 9, 8, 0, 0, 0]])
    y = torch.tensor([[-100, -100, 7, 3, 3, 11], [-100, 8, 6, -100, -100, -100]])
    return x, y


@torch.no_grad()
def test_sequence_logprob_equals_a_direct_gather(model):
    x, y = batch()
    got = sequence_logprob(model, x, y)
    logp = F.log_softmax(model(x)[0], dim=-1)  # (batch, seq, vocab)
    want = [
        sum(logp[b, i, y[b, i]].item() for i in range(x.size(1)) if y[b, i] != IGNORE_INDEX)
        for b in range(2)
    ]
    assert got.shape == (2,)
    torch.testing.assert_close(got, torch.tensor(want), atol=1e-4, rtol=1e-5)
    # each row alone, without the other row's padding: the same number
    for b, n in [(0, 6), (1, 3)]:
        alone = sequence_logprob(model, x[b : b + 1, :n], y[b : b + 1, :n])
        torch.testing.assert_close(alone, got[b : b + 1], atol=1e-4, rtol=1e-5)
    tok = token_logprobs(model, x, y)
    assert (tok[y == IGNORE_INDEX] == 0).all() and (tok[y != IGNORE_INDEX] < 0).all()
    assert abs(float(got[0] - got[1])) > 1.0  # the rows really are scored differently


def test_frozen_reference(model):
    ref = frozen_reference(model)
    assert ref is not model and not ref.training
    assert all(not p.requires_grad for p in ref.parameters())
    assert all(p.requires_grad for p in model.parameters())  # the policy is untouched
    x, y = batch()
    torch.testing.assert_close(sequence_logprob(ref, x, y), sequence_logprob(model, x, y))
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(ref.parameters(), model.parameters()))
    with pytest.raises(TypeError, match="model must be a Module"):
        frozen_reference("gpt")


def test_a_few_dpo_steps_raise_the_margin_and_keep_the_reference():
    torch.manual_seed(0)
    policy = new_gpt(12, 16, 1, 16, seed=2)
    ref = frozen_reference(policy)
    # prompt [1, 2]; answers [3, 4] and [5, 6] chosen, [3, 5] and [5, 7] rejected; 10 ends
    xc, yc = (
        torch.tensor([[1, 2, 3, 4], [1, 2, 5, 6]]),
        torch.tensor([[-100, 3, 4, 10], [-100, 5, 6, 10]]),
    )
    xr, yr = (
        torch.tensor([[1, 2, 3, 5], [1, 2, 5, 7]]),
        torch.tensor([[-100, 3, 5, 10], [-100, 5, 7, 10]]),
    )
    with torch.no_grad():
        rc, rr = sequence_logprob(ref, xc, yc), sequence_logprob(ref, xr, yr)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    for _ in range(5):
        pc, pr = sequence_logprob(policy, xc, yc), sequence_logprob(policy, xr, yr)
        out = dpo_loss(pc, pr, rc, rr, 0.5)
        opt.zero_grad()
        out.loss.mean().backward()
        opt.step()
    m = preference_metrics(out.chosen_rewards, out.rejected_rewards, rc)
    assert m["accuracy"] == 1.0 and m["margin"] > 0
    torch.testing.assert_close(sequence_logprob(ref, xc, yc), rc)  # the reference did not move
