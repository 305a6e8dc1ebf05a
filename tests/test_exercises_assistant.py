"""The assistant chapter's checks accept the worked solutions and reject typical mistakes."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.exercises.assistant import (
    BASE_CONFIG,
    check_answer_targets,
    check_dpo_loss,
    check_lora_parameters,
    lora_count,
)
from course_utils.tools.selfcheck import CheckFailed

IGNORE_INDEX = -100


def answer_targets(ids, mask):
    x = ids[:-1]
    y = [t if keep else IGNORE_INDEX for t, keep in zip(ids[1:], mask[1:])]
    return x, y


def my_dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin)


def lora_parameters(config, r):
    d, f = config.d_model, config.d_ff
    per_block = 4 * r * (d + d) + r * (d + f) + r * (f + d)
    return config.n_layer * per_block


def test_solutions_pass():
    assert check_answer_targets(answer_targets).passed
    assert check_dpo_loss(my_dpo_loss).passed
    assert check_lora_parameters(lora_parameters).passed


def test_solutions_with_tensors_pass():
    def tensor_targets(ids, mask):
        ids, mask = torch.tensor(ids), torch.tensor(mask)
        return ids[:-1], ids[1:].masked_fill(mask[1:] == 0, IGNORE_INDEX)

    assert check_answer_targets(tensor_targets).passed


def test_not_attempted():
    def stub(*args):
        raise NotImplementedError

    for check in (check_answer_targets, check_dpo_loss, check_lora_parameters):
        assert not check(stub).attempted


def test_lora_count_of_the_base_model():
    # 4 blocks x (4 x (128 + 128) + 2 x (128 + 512)) x r
    assert [lora_count(BASE_CONFIG, r) for r in (1, 8)] == [9216, 73728]


def test_wrong_targets_explained():
    with pytest.raises(CheckFailed, match=r"input's mask"):
        check_answer_targets(
            lambda ids, mask: (
                ids[:-1],
                [t if m else IGNORE_INDEX for t, m in zip(ids[1:], mask[:-1])],
            )
        )
    with pytest.raises(CheckFailed, match="shifted by one"):
        check_answer_targets(
            lambda ids, mask: (
                ids[:-1],
                [t if m else IGNORE_INDEX for t, m in zip(ids[:-1], mask[:-1])],
            )
        )
    with pytest.raises(CheckFailed, match="nothing after it"):
        check_answer_targets(
            lambda ids, mask: (ids, [t if m else IGNORE_INDEX for t, m in zip(ids, mask)])
        )
    with pytest.raises(CheckFailed, match="not 0"):
        check_answer_targets(
            lambda ids, mask: (ids[:-1], [t if m else 0 for t, m in zip(ids[1:], mask[1:])])
        )
    with pytest.raises(CheckFailed, match="IGNORE_INDEX"):
        check_answer_targets(lambda ids, mask: (ids[:-1], ids[1:]))


def test_wrong_dpo_loss_explained():
    with pytest.raises(CheckFailed, match="sign of the margin"):
        check_dpo_loss(lambda pc, pr, rc, rr, b: -F.logsigmoid(b * ((pr - rr) - (pc - rc))))
    with pytest.raises(CheckFailed, match="MINUS log sigmoid"):
        check_dpo_loss(lambda pc, pr, rc, rr, b: F.logsigmoid(b * ((pc - rc) - (pr - rr))))
    with pytest.raises(CheckFailed, match="by beta"):
        check_dpo_loss(lambda pc, pr, rc, rr, b: -F.logsigmoid((pc - rc) - (pr - rr)))
    with pytest.raises(CheckFailed, match=r"shape \(batch,\)"):
        check_dpo_loss(lambda pc, pr, rc, rr, b: -F.logsigmoid(b * ((pc - rc) - (pr - rr))).mean())


def test_dpo_loss_must_stay_differentiable():
    def detached(pc, pr, rc, rr, b):
        margin = ((pc - rc) - (pr - rr)).tolist()
        return torch.tensor([math.log1p(math.exp(-b * m)) for m in margin])

    with pytest.raises(CheckFailed, match="computation graph"):
        check_dpo_loss(detached)


def test_wrong_lora_counts_explained():
    def full_matrices(c, r):
        return c.n_layer * (4 * c.d_model**2 + 2 * c.d_model * c.d_ff)

    def attention_only(c, r):
        return c.n_layer * 4 * r * 2 * c.d_model

    def four_d(c, r):
        d = c.d_model
        return c.n_layer * r * (8 * d + 2 * (d + 4 * d))

    def one_block(c, r):
        return lora_parameters(c, r) // c.n_layer

    for wrong, message in [
        (full_matrices, "not the d_in x d_out matrix"),
        (attention_only, "w_1"),
        (four_d, "config.d_ff"),
        (one_block, "n_layer blocks"),
    ]:
        with pytest.raises(CheckFailed, match=message):
            check_lora_parameters(wrong)
    with pytest.raises(CheckFailed, match="expected int"):
        check_lora_parameters(lambda c, r: float(lora_parameters(c, r)))
