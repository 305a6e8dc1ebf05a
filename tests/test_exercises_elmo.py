"""The ELMo chapter's self-checks accept the worked solutions and explain typical mistakes."""

import numpy as np
import pytest
import torch

from course_utils.elmo import IGNORE_INDEX
from course_utils.exercises.elmo import (
    check_lm_targets,
    check_most_confused_pair,
    check_scalar_mix,
)
from course_utils.tools.selfcheck import CheckFailed


def scalar_mix_by_hand(layers, scalars, gamma):
    s = torch.softmax(torch.as_tensor(scalars, dtype=torch.float32), dim=0)
    return gamma * sum(s[j] * h for j, h in enumerate(layers))


def targets_by_hand(ids):
    return [*ids[1:], IGNORE_INDEX], [IGNORE_INDEX, *ids[:-1]]


def most_confused_pair(vectors, senses):
    x = np.asarray(vectors, dtype=float)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = unit @ unit.T
    pairs = [
        (i, j)
        for i in range(len(senses))
        for j in range(i + 1, len(senses))
        if senses[i] != senses[j]
    ]
    return max(pairs, key=lambda p: sim[p])


def test_solutions_pass(capsys):
    assert check_scalar_mix(scalar_mix_by_hand).passed
    assert check_lm_targets(targets_by_hand).passed
    assert check_most_confused_pair(most_confused_pair).passed
    assert capsys.readouterr().out.count("[passed]") == 3


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in (check_scalar_mix, check_lm_targets, check_most_confused_pair):
        assert not check(stub).attempted
    assert "not attempted yet" in capsys.readouterr().out


def test_scalar_mix_without_softmax_is_explained():
    def raw(layers, scalars, gamma):
        return gamma * sum(s * h for s, h in zip(scalars, layers))

    with pytest.raises(CheckFailed, match="softmax"):
        check_scalar_mix(raw)


def test_scalar_mix_without_gamma_is_explained():
    with pytest.raises(CheckFailed, match="gamma"):
        check_scalar_mix(lambda layers, s, gamma: scalar_mix_by_hand(layers, s, 1.0))


def test_swapped_directions_are_explained():
    with pytest.raises(CheckFailed, match="swapped"):
        check_lm_targets(lambda ids: targets_by_hand(ids)[::-1])
    with pytest.raises(CheckFailed, match="own word"):
        check_lm_targets(lambda ids: (list(ids), list(ids)))


def test_same_sense_pair_is_rejected():
    def closest_any(vectors, senses):
        x = np.asarray(vectors, dtype=float)
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        sim = unit @ unit.T - 2 * np.eye(len(x))
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        return int(min(i, j)), int(max(i, j))

    with pytest.raises(CheckFailed, match="same sense"):
        check_most_confused_pair(closest_any)
