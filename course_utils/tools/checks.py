"""Argument checks in one line, so that a ``forward`` reads like its equation.

Each function returns the value it checked (so it can sit in an assignment) or
raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong
value) with a message that names the argument, what was expected and what was
received::

    n = positive_int("n_head", n_head)
    p = probability("dropout", dropout, allow_one=False)
    dims = tensor_shape("query", q, "batch seq d_model")
    tensor_shape("key", k, "batch seq_k d_model", dims)  # batch and d_model must match

``tensor_shape`` binds the names of a shape pattern to sizes; passing the same
``dims`` to the next call makes a size that differs from an earlier argument's
an error instead of a silent broadcast.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any

import torch

__all__ = [
    "finite_number",
    "instance_of",
    "non_empty",
    "non_negative_int",
    "one_of",
    "positive_int",
    "probability",
    "tensor_shape",
]


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def instance_of(name: str, value: Any, types: type | tuple[type, ...]) -> Any:
    """``value`` if it is an instance of ``types``, else a TypeError naming both."""
    if not isinstance(value, types):
        wanted = (
            " or ".join(t.__name__ for t in types) if isinstance(types, tuple) else types.__name__
        )
        raise TypeError(f"{name} must be a {wanted}, got {type(value).__name__} {_describe(value)}")
    return value


def positive_int(name: str, value: Any) -> int:
    """``value`` if it is an int >= 1 (a bool is not an int here)."""
    if not _is_int(value):
        raise TypeError(f"{name} must be a positive int, got {_describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def non_negative_int(name: str, value: Any) -> int:
    """``value`` if it is an int >= 0."""
    if not _is_int(value):
        raise TypeError(f"{name} must be a non-negative int, got {_describe(value)}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def finite_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """``value`` if it is a finite real number inside the given bounds (NaN never is)."""
    interval = _interval(low, high, low_inclusive, high_inclusive)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number{interval}, got {_describe(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number{interval}, got {value!r}")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        raise ValueError(f"{name} must be a number{interval}, got {value!r}")
    return value


def _interval(low, high, low_inclusive, high_inclusive) -> str:
    if low is None and high is None:
        return ""
    left = ("[" if low_inclusive else "(") + ("-inf" if low is None else f"{low:g}")
    right = ("inf" if high is None else f"{high:g}") + ("]" if high_inclusive else ")")
    return f" in {left}, {right}"


def probability(name: str, value: Any, *, allow_zero: bool = True, allow_one: bool = True) -> float:
    """``value`` if it is a probability: in [0, 1], or (0, 1] / [0, 1) / (0, 1) as asked."""
    return finite_number(
        name, value, low=0.0, high=1.0, low_inclusive=allow_zero, high_inclusive=allow_one
    )


def one_of(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value asked of a set
        ok = False
    if not ok:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {_describe(value)}")
    return value


def non_empty(name: str, value: Any) -> Any:
    """``value`` if it has at least one element (a sequence, a string, a tensor)."""
    try:
        size = value.numel() if isinstance(value, torch.Tensor) else len(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence, got {type(value).__name__}") from None
    if size == 0:
        raise ValueError(f"{name} must not be empty, got {_describe(value)}")
    return value


def tensor_shape(
    name: str,
    t: Any,
    pattern: str | Iterable[str | int],
    dims: dict[str, int] | None = None,
    *,
    dtype: torch.dtype | tuple[torch.dtype, ...] | str | None = None,
) -> dict[str, int]:
    """Check ``t`` against a shape pattern; return the sizes bound to the pattern's names.

    ``pattern`` is a string such as ``"batch seq d_model"`` (or a list of names
    and ints). A name binds to a size; an int must match exactly; ``_`` matches
    any size; a leading ``...`` allows any number of leading dimensions. Names
    already in ``dims`` (from an earlier argument) must match their size there,
    and the new names are added to ``dims``. ``dtype`` is a dtype, a tuple of
    them, or ``"integer"`` / ``"floating"``.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    parts = pattern.split() if isinstance(pattern, str) else list(pattern)
    text = "(" + ", ".join(str(p) for p in parts) + ")"
    leading = bool(parts) and parts[0] == "..."
    parts = parts[1:] if leading else parts
    shape = tuple(t.shape)
    if len(shape) < len(parts) or (not leading and len(shape) != len(parts)):
        raise ValueError(f"{name} must have shape {text}, got shape {shape}")
    bound = {} if dims is None else dims
    for part, size in zip(parts, shape[len(shape) - len(parts) :]):
        if part == "_":
            continue
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            if size != int(part):
                raise ValueError(f"{name} must have shape {text}, got shape {shape}")
            continue
        if part in bound and bound[part] != size:
            raise ValueError(
                f"{name} must have shape {text} with {part} = {bound[part]} (as in the "
                f"arguments before it), got shape {shape} with {part} = {size}"
            )
        bound[part] = size
    if dtype is not None:
        _check_dtype(name, t, dtype)
    return bound


def _check_dtype(name: str, t: torch.Tensor, dtype) -> None:
    if dtype == "integer":
        ok = not t.dtype.is_floating_point and not t.dtype.is_complex and t.dtype != torch.bool
    elif dtype == "floating":
        ok = t.dtype.is_floating_point
    elif isinstance(dtype, tuple):
        ok = t.dtype in dtype
    else:
        ok = t.dtype == dtype
    if not ok:
        raise TypeError(f"{name} must have dtype {dtype}, got {t.dtype}")
