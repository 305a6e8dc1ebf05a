"""course_utils.tools.checks: each check accepts what it should and names the argument otherwise."""

import math

import pytest
import torch

from course_utils.tools import checks


@pytest.mark.parametrize("value", [1, 7, 10**9])
def test_positive_int_accepts(value):
    assert checks.positive_int("n", value) == value


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-3, ValueError), (True, TypeError), (2.0, TypeError), ("3", TypeError)],
)
def test_positive_int_rejects_with_the_name_and_the_value(value, error):
    with pytest.raises(error, match=r"n_head must be a positive int, got") as info:
        checks.positive_int("n_head", value)
    assert repr(value) in str(info.value)


def test_non_negative_int():
    assert checks.non_negative_int("k", 0) == 0
    with pytest.raises(ValueError, match="k must be a non-negative int, got -1"):
        checks.non_negative_int("k", -1)
    with pytest.raises(TypeError, match="non-negative int"):
        checks.non_negative_int("k", None)


def test_finite_number_bounds_and_nan():
    assert checks.finite_number("lr", 0.1, low=0, low_inclusive=False) == 0.1
    with pytest.raises(ValueError, match=r"lr must be a number in \(0, inf\], got 0"):
        checks.finite_number("lr", 0, low=0, low_inclusive=False)
    with pytest.raises(ValueError, match="finite"):
        checks.finite_number("temperature", math.nan, low=0)
    with pytest.raises(ValueError, match="finite"):
        checks.finite_number("x", math.inf)
    with pytest.raises(TypeError, match=r"lr must be a number.*'0.1'"):
        checks.finite_number("lr", "0.1", low=0)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        checks.finite_number("c", 1.5, low=-1, high=1)


def test_probability_open_and_closed_ends():
    assert checks.probability("p", 0.0) == 0.0
    assert checks.probability("p", 1.0) == 1.0
    with pytest.raises(ValueError, match=r"top_p must be a number in \(0, 1\], got 0"):
        checks.probability("top_p", 0, allow_zero=False)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        checks.probability("dropout", 1.0, allow_one=False)
    with pytest.raises(ValueError):
        checks.probability("p", -0.1)


def test_one_of():
    assert checks.one_of("norm", "pre", ("pre", "post")) == "pre"
    with pytest.raises(ValueError, match=r"norm must be one of 'pre', 'post'; got 'mid'"):
        checks.one_of("norm", "mid", ("pre", "post"))
    with pytest.raises(ValueError, match="one of"):
        checks.one_of("norm", ["pre"], {"pre"})  # unhashable


def test_non_empty():
    assert checks.non_empty("texts", ["a"]) == ["a"]
    with pytest.raises(ValueError, match="texts must not be empty"):
        checks.non_empty("texts", [])
    with pytest.raises(ValueError, match="prompt must not be empty"):
        checks.non_empty("prompt", torch.zeros(1, 0))
    with pytest.raises(TypeError, match="sequence"):
        checks.non_empty("texts", 3)


def test_instance_of():
    assert checks.instance_of("x", 3, (int, float)) == 3
    with pytest.raises(TypeError, match="config must be a dict, got list"):
        checks.instance_of("config", [], dict)


def test_tensor_shape_binds_names_across_arguments():
    q, k = torch.zeros(2, 5, 8), torch.zeros(4, 5, 8)
    dims = checks.tensor_shape("query", q, "batch seq d_model")
    assert dims == {"batch": 2, "seq": 5, "d_model": 8}
    with pytest.raises(ValueError, match=r"key must have shape .* batch = 2 .* batch = 4"):
        checks.tensor_shape("key", k, "batch seq_k d_model", dims)


def test_tensor_shape_rank_literals_wildcards_and_leading_dims():
    t = torch.zeros(3, 4, 5)
    with pytest.raises(
        ValueError, match=r"idx must have shape \(batch, seq\), got shape \(3, 4, 5\)"
    ):
        checks.tensor_shape("idx", t, "batch seq")
    assert checks.tensor_shape("x", t, "... seq 5") == {"seq": 4}
    assert checks.tensor_shape("x", t, "_ _ d") == {"d": 5}
    with pytest.raises(ValueError):
        checks.tensor_shape("x", t, "... 6")
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        checks.tensor_shape("x", [1], "n")


def test_tensor_shape_dtype():
    ids = torch.zeros(2, 3, dtype=torch.long)
    checks.tensor_shape("idx", ids, "batch seq", dtype="integer")
    with pytest.raises(TypeError, match="idx must have dtype integer, got torch.float32"):
        checks.tensor_shape("idx", ids.float(), "batch seq", dtype="integer")
    with pytest.raises(TypeError, match="floating"):
        checks.tensor_shape("x", ids, "batch seq", dtype="floating")
    checks.tensor_shape("x", ids, "batch seq", dtype=(torch.int32, torch.int64))
    with pytest.raises(TypeError):
        checks.tensor_shape("x", ids, "batch seq", dtype=torch.int32)
