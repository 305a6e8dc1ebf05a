"""course_utils.grpo: the group-normalised advantage and the clipped objective with its KL penalty,
against per-token hand computations."""

import math

import pytest
import torch

from course_utils.grpo import group_advantages, grpo_objective

EPS = 1e-4


def test_group_advantages_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])
    a = group_advantages(rewards)
    s1 = math.sqrt(4 * 0.25 / 3)  # sample std (n - 1) of [1, 0, 0, 1]: 0.577...
    s3 = math.sqrt((3 * 0.25**2 + 0.75**2) / 3)  # of [0, 0, 0, 1]: 0.5
    want = [
        [0.5 / (s1 + EPS), -0.5 / (s1 + EPS), -0.5 / (s1 + EPS), 0.5 / (s1 + EPS)],
        [0.0, 0.0, 0.0, 0.0],  # all right: the group teaches nothing
        [-0.25 / (s3 + EPS)] * 3 + [0.75 / (s3 + EPS)],
    ]
    torch.testing.assert_close(a, torch.tensor(want))
    eps = group_advantages(rewards[2:], eps=0.5)
    torch.testing.assert_close(eps, torch.tensor([[-0.25 / 1.0] * 3 + [0.75 / 1.0]]))


def test_an_all_equal_group_has_exactly_zero_advantage():
    # In float32 the mean of eight 0.1s is not 0.1, and the std of one such row is not 0 (on
    # x86 at least): (r - mean) / (std + eps) alone would give about 1e-4, not 0.
    for rewards in [torch.full((1, 8), 0.1), torch.tensor([[0.1] * 8, [0.3] * 8, [1.0] * 8])]:
        assert (group_advantages(rewards) == 0).all()
    mixed = group_advantages(torch.tensor([[0.1] * 8, [0.0, 1.0] * 4]))  # each group on its own
    assert (mixed[0] == 0).all() and (mixed[1].abs() > 0.9).all()


def test_group_advantages_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 answers"):
        group_advantages(torch.ones(3, 1))
    with pytest.raises(ValueError, match="rewards must have shape"):
        group_advantages(torch.ones(4))
    with pytest.raises(TypeError, match="rewards must have dtype floating"):
        group_advantages(torch.ones(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="eps must be a number"):
        group_advantages(torch.ones(2, 2), eps=0.0)


# Two prompts, groups of 2: four answers of up to 3 tokens. The ratios pi / pi_old are chosen so
# that the clip (eps = 0.2) binds on some tokens and not on others, for both signs of A.
ADV = [[1.0, -1.0], [0.5, -2.0]]
RATIO = [
    [1.5, 0.5, 1.1],  # A > 0: 1.5 is clipped to 1.2 (binds); 0.5 < 0.8 but min keeps 0.5
    [0.5, 1.5, 1.0],  # A < 0: 0.5 is clipped to 0.8 (binds); 1.5 is kept (min picks -1.5)
    [1.0, 1.3, 1.0],  # A > 0: 1.3 binds
    [0.7, 0.9, 1.0],  # A < 0: 0.7 binds
]
MASK = [[1, 1, 1], [1, 1, 0], [1, 1, 0], [1, 1, 1]]
REF_MINUS_NEW = [[0.3, -0.2, 0.0], [0.1, 0.5, 9.0], [-0.4, 0.2, 9.0], [0.0, 0.0, 0.25]]
BINDING_TOKENS = 4


def tensors(requires_grad=False):
    old = torch.full((4, 3), -2.0, dtype=torch.float64)
    new = (old + torch.tensor(RATIO, dtype=torch.float64).log()).requires_grad_(requires_grad)
    ref = new.detach() + torch.tensor(REF_MINUS_NEW, dtype=torch.float64)
    return new, old, ref, torch.tensor(ADV, dtype=torch.float64), torch.tensor(MASK)


def by_hand(clip_eps, beta):
    """DeepSeekMath eq. 3, token by token: the mean over answers of each answer's token mean."""
    total, kl_total = 0.0, 0.0
    for i in range(4):
        A = ADV[i // 2][i % 2]
        terms, kls = [], []
        for j in range(3):
            if not MASK[i][j]:
                continue
            r = RATIO[i][j]
            clipped = min(max(r, 1 - clip_eps), 1 + clip_eps)
            d = REF_MINUS_NEW[i][j]
            kl = math.exp(d) - d - 1
            terms.append(min(r * A, clipped * A) - beta * kl)
            kls.append(kl)
        total += sum(terms) / len(terms)
        kl_total += sum(kls) / len(kls)
    return -total / 4, kl_total / 4


@pytest.mark.parametrize("clip_eps, beta", [(0.2, 0.0), (0.2, 0.04), (0.2, 1.0), (0.35, 0.1)])
@pytest.mark.parametrize("mask_dtype", [torch.long, torch.bool, torch.float32])
def test_grpo_objective_equals_a_hand_computation(clip_eps, beta, mask_dtype):
    new, old, ref, adv, mask = tensors()
    out = grpo_objective(new, old, ref, adv, mask.to(mask_dtype), clip_eps=clip_eps, beta=beta)
    loss, kl = by_hand(clip_eps, beta)
    assert out.loss.item() == pytest.approx(loss, abs=1e-12)
    assert out.kl == pytest.approx(kl, abs=1e-12)
    assert out.zero_advantage_groups == 0.0


def test_the_hand_case_is_not_trivial():
    """Clipping and the KL term both change the loss here, so neither can slip unseen."""
    loss, kl = by_hand(0.2, 0.0)
    assert abs(loss - by_hand(10.0, 0.0)[0]) > 0.05  # no clipping at all: another loss
    assert kl > 0.03 and by_hand(0.2, 1.0)[0] - loss == pytest.approx(kl)


def test_clip_fraction_counts_the_tokens_where_the_clip_binds():
    out = grpo_objective(*tensors(), clip_eps=0.2, beta=0.0)
    assert out.clip_fraction == pytest.approx(BINDING_TOKENS / sum(map(sum, MASK)))
    wide = grpo_objective(*tensors(), clip_eps=0.6, beta=0.0)
    assert wide.clip_fraction == 0.0


def test_clip_fraction_ignores_answers_with_zero_advantage():
    new, old, ref, _, mask = tensors()
    adv = torch.tensor([[0.0, 0.0], [0.5, -2.0]], dtype=torch.float64)  # rows 0, 1: A = 0
    out = grpo_objective(new, old, ref, adv, mask, clip_eps=0.2, beta=0.0)
    assert out.clip_fraction == pytest.approx(2 / 10)  # rows 2 and 3 only
    assert out.zero_advantage_groups == 0.5


@pytest.mark.parametrize("A, ratio", [(1.0, 1.25), (-1.0, 0.75)])
def test_at_the_clip_boundary_the_gradient_still_flows(A, ratio):
    """ratio == 1 +- eps exactly: clamp passes the gradient, so the clip does not bind yet."""
    old = torch.tensor([[-1.0]], dtype=torch.float64)
    new = (old + math.log(ratio)).requires_grad_(True)
    r = torch.exp(new - old).item()
    eps = r - 1 if A > 0 else 1 - r  # exact in floating point: 1 + eps (or 1 - eps) == r
    adv = torch.tensor([[A, 0.0]], dtype=torch.float64)
    both = torch.cat([new, old])  # the second answer (A = 0) only completes the group
    out = grpo_objective(
        both, torch.cat([old, old]), both.detach(), adv, torch.ones(2, 1), eps, 0.0
    )
    out.loss.backward()
    assert out.clip_fraction == 0.0
    assert new.grad.item() == pytest.approx(-A * r / 2)


def test_gradient_is_zero_where_the_clip_binds():
    new, old, ref, adv, mask = tensors(requires_grad=True)
    grpo_objective(new, old, ref, adv, mask, clip_eps=0.2, beta=0.0).loss.backward()
    g = new.grad
    for i, j in [(0, 0), (1, 0), (2, 1), (3, 0)]:  # the binding tokens
        assert g[i, j] == 0
    # unclipped: d(-ratio * A / n_i / 4) / d logp_new = -ratio * A / (n_i * 4)
    for i, j in [(0, 1), (0, 2), (1, 1), (2, 0), (3, 1), (3, 2)]:
        n_i = sum(MASK[i])
        want = -RATIO[i][j] * ADV[i // 2][i % 2] / (n_i * 4)
        assert g[i, j].item() == pytest.approx(want, rel=1e-9)
    assert g[1, 2] == 0 and g[2, 2] == 0  # masked tokens
    assert old.grad is None and ref.grad is None


def test_kl_gradient():
    """d(beta * k3) / d logp_new = beta * (1 - exp(ref - new)): the penalty pulls towards ref."""
    new, old, ref, adv, mask = tensors(requires_grad=True)
    zero = torch.zeros_like(adv)
    grpo_objective(new, old, ref, zero, mask, clip_eps=0.2, beta=0.5).loss.backward()
    d = torch.tensor(REF_MINUS_NEW, dtype=torch.float64)
    n = mask.sum(-1, keepdim=True)
    want = 0.5 * (1 - d.exp()) * mask / (n * 4)
    torch.testing.assert_close(new.grad, want)


def test_an_all_equal_group_gives_zero_gradient():
    rewards = torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    adv = group_advantages(rewards)  # (2, 3): the first group is all right
    torch.manual_seed(0)
    new = (-torch.rand(6, 4) * 3).requires_grad_(True)  # this is the policy's first update:
    out = grpo_objective(new, new.detach(), new.detach(), adv, torch.ones(6, 4), 0.2, 0.04)
    out.loss.backward()
    assert (new.grad[:3] == 0).all()  # the all-right group: no gradient at all
    assert (new.grad[3:].abs() > 0).all()
    assert out.zero_advantage_groups == 0.5
    assert out.clip_fraction == 0.0 and out.kl == 0.0  # pi = pi_old = pi_ref: the clip is idle


def test_grpo_objective_bad_inputs():
    new, old, ref, adv, mask = tensors()
    with pytest.raises(
        ValueError, match=r"logp_new has 4 rows; advantages \(1, 2\) needs n_prompts \* group = 2"
    ):
        grpo_objective(new, old, ref, adv[:1], mask, 0.2, 0.0)
    bad = mask.clone()
    bad[2] = 0
    with pytest.raises(ValueError, match="at least one token in mask"):
        grpo_objective(new, old, ref, adv, bad, 0.2, 0.0)
    with pytest.raises(ValueError, match=r"clip_eps must be a number in \(0, 1\)"):
        grpo_objective(new, old, ref, adv, mask, 0.0, 0.0)
    with pytest.raises(ValueError, match="beta must be a number"):
        grpo_objective(new, old, ref, adv, mask, 0.2, -0.1)
    with pytest.raises(ValueError, match="logp_ref must have shape"):
        grpo_objective(new, old, ref[:, :2], adv, mask, 0.2, 0.0)
