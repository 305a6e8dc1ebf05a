"""Self-checks for exercises: tell the learner *what* is wrong, not only pass/fail.

A chapter's checks live in ``course_utils/exercises/<concept>.py``. Each is a
function decorated with ``@exercise("title")`` whose body uses ``expect*``::

    @exercise("Exercise 1: subsampling probability")
    def check_subsampling(fn):
        expect_close(fn(0.01, 1e-5), 0.0316, "keep probability for f=0.01, t=1e-5",
                     hint="Mikolov's formula is sqrt(t / f)")

Calling a check:
  * with a stub that raises ``NotImplementedError`` (or with ``None``/``...``)
    prints "not attempted yet" and returns a result: the notebook still runs;
  * with a wrong answer raises ``CheckFailed`` whose message says what was
    expected, what came back, and a hint;
  * with a right answer prints a one-line confirmation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class CheckFailed(AssertionError):
    """An exercise answer is wrong; the message explains how."""


@dataclass(frozen=True)
class CheckResult:
    title: str
    attempted: bool
    passed: bool
    message: str

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the check already printed its message."""


def exercise(title: str) -> Callable[[Callable[..., str | None]], Callable[..., CheckResult]]:
    """Decorate a check function ``check(answer, ...) -> optional success note``."""

    def wrap(check):
        @functools.wraps(check)
        def run(answer=None, *args, **kwargs) -> CheckResult:
            if answer is None or answer is Ellipsis:
                return _not_attempted(title)
            try:
                note = check(answer, *args, **kwargs)
            except NotImplementedError:
                return _not_attempted(title)
            except CheckFailed as exc:
                raise CheckFailed(f"{title}: {exc}") from None
            msg = f"[passed] {title}" + (f": {note}" if note else "")
            print(msg)
            return CheckResult(title, True, True, msg)

        run.title = title
        return run

    return wrap


def _not_attempted(title: str) -> CheckResult:
    msg = (
        f"[not attempted yet] {title}: replace the NotImplementedError with your code, then re-run."
    )
    print(msg)
    return CheckResult(title, False, False, msg)


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def _fmt(x) -> str:
    arr = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    if arr.ndim == 0:
        v = arr.item()
        return f"{v:.6g}" if isinstance(v, float) else repr(v)
    return np.array2string(arr, precision=4, threshold=12, separator=", ")


def expect_close(
    actual, expected, what: str, rtol: float = 1e-4, atol: float = 1e-6, hint: str | None = None
) -> None:
    """Fail unless ``actual`` is numerically close to ``expected`` (scalars or arrays)."""
    a = np.asarray(actual.detach().cpu() if hasattr(actual, "detach") else actual)
    e = np.asarray(expected.detach().cpu() if hasattr(expected, "detach") else expected)
    if a.shape != e.shape:
        raise CheckFailed(
            f"{what}: expected shape {e.shape}, got {a.shape}" + (f". Hint: {hint}" if hint else "")
        )
    try:
        ok = np.allclose(a.astype(float), e.astype(float), rtol=rtol, atol=atol)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"{what}: expected numbers, got {a.dtype} ({exc})") from None
    if not ok:
        raise CheckFailed(
            f"{what}: expected {_fmt(e)}, got {_fmt(a)}" + (f". Hint: {hint}" if hint else "")
        )


def expect_equal(actual, expected, what: str, hint: str | None = None) -> None:
    if actual != expected:
        raise CheckFailed(
            f"{what}: expected {expected!r}, got {actual!r}" + (f". Hint: {hint}" if hint else "")
        )


def expect_type(value, types, what: str) -> None:
    if not isinstance(value, types):
        names = (
            types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        )
        raise CheckFailed(f"{what}: expected {names}, got {type(value).__name__}")


def expect_finite(value, what: str) -> None:
    arr = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise CheckFailed(f"{what}: contains NaN or inf")


def isclose(a: float, b: float, rel: float = 1e-4) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
