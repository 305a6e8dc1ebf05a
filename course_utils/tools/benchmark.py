"""Speed ratios measured side by side, on PyTorch's own timer.

Absolute timings depend on the machine; a ratio of two timings measured in one
run, interleaved, depends much less. ``compare`` times a candidate and a
reference in alternating rounds and returns ``reference_time / candidate_time``
(> 1 means the candidate is faster), with the median of each. ``round_ratios``
gives the ratio of every round, so that a caller can show how much it moves:
when the rounds fall on both sides of 1, the two run at the same speed within
the machine's noise.

Every sample comes from ``torch.utils.benchmark.Timer.timeit``, which

* synchronises the accelerator before reading the clock, so that a GPU sample
  measures the work and not only the kernel launches;
* runs ``max(2, number // 100)`` warm-up calls before each sample;
* sets the thread count for the duration of the sample. The Timer's own default
  is one thread; here it is the caller's current ``torch.get_num_threads()``
  unless ``num_threads`` says otherwise, and each ``Timing`` records it.

Peak memory is a different measurement and is not taken here (see
``course_utils.tools.bench.peak_memory``). Code that is not PyTorch, such as
gensim's C loops, is timed on the wall clock by its caller.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.benchmark import Timer


@dataclass(frozen=True)
class Timing:
    """Median seconds per call over ``repeat`` samples of ``number`` calls each."""

    median_s: float
    runs: int  # calls timed: repeat x number (warm-up calls not counted)
    repeat: int = 1
    number: int = 1
    iqr_s: float = 0.0  # interquartile range of the samples (0 with fewer than 2)
    num_threads: int = 1
    samples_s: tuple[float, ...] = ()  # seconds per call of each sample, in the order taken


def _check_counts(repeat: int, warmup: int, number: int) -> None:
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (repeat, warmup, number))
    if not ok or repeat < 1 or number < 1 or warmup < 0:
        raise ValueError(
            f"need repeat >= 1, number >= 1, warmup >= 0 (ints); "
            f"got repeat={repeat!r}, number={number!r}, warmup={warmup!r}"
        )


def _threads(num_threads: int | None) -> int:
    if num_threads is None:
        return torch.get_num_threads()
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive int or None, got {num_threads!r}")
    return num_threads


def _timer(fn: Callable[[], object], num_threads: int) -> Timer:
    if not callable(fn):
        raise TypeError(f"expected a callable with no arguments, got {type(fn).__name__}")
    return Timer(stmt="fn()", globals={"fn": fn}, num_threads=num_threads)


def _summary(samples: list[float], repeat: int, number: int, num_threads: int) -> Timing:
    if len(samples) >= 2:
        q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        iqr = q3 - q1
    else:
        iqr = 0.0
    return Timing(
        statistics.median(samples),
        repeat * number,
        repeat,
        number,
        iqr,
        num_threads,
        tuple(samples),
    )


def time_call(
    fn: Callable[[], object],
    repeat: int = 5,
    warmup: int = 1,
    number: int = 1,
    num_threads: int | None = None,
) -> Timing:
    """Median time of one ``fn()`` over ``repeat`` samples of ``number`` calls each."""
    _check_counts(repeat, warmup, number)
    threads = _threads(num_threads)
    timer = _timer(fn, threads)
    if warmup:
        timer.timeit(warmup)
    samples = [timer.timeit(number).median for _ in range(repeat)]
    return _summary(samples, repeat, number, threads)


def compare(
    candidate: Callable[[], object],
    reference: Callable[[], object],
    repeat: int = 5,
    warmup: int = 1,
    number: int = 1,
    num_threads: int | None = None,
) -> tuple[float, Timing, Timing]:
    """Time ``candidate`` and ``reference`` in alternating rounds; return (ratio, cand, ref).

    The ratio is reference time / candidate time: 1.0 means equal speed,
    0.5 means the candidate takes twice as long.
    """
    _check_counts(repeat, warmup, number)
    threads = _threads(num_threads)
    timers = (_timer(candidate, threads), _timer(reference, threads))
    if warmup:
        for t in timers:
            t.timeit(warmup)
    cand: list[float] = []
    ref: list[float] = []
    for _ in range(repeat):
        cand.append(timers[0].timeit(number).median)
        ref.append(timers[1].timeit(number).median)
    c = _summary(cand, repeat, number, threads)
    r = _summary(ref, repeat, number, threads)
    return r.median_s / c.median_s, c, r


def round_ratios(candidate: Timing, reference: Timing) -> list[float]:
    """The ratio reference / candidate of every round of a ``compare`` (> 1: candidate faster).

    ``compare`` times the two in alternating rounds, so the i-th samples of both were
    taken at nearly the same moment; their ratio shows how much the median ratio moves.
    """
    if not candidate.samples_s or len(candidate.samples_s) != len(reference.samples_s):
        raise ValueError(
            f"need two timings with the same number of samples, got "
            f"{len(candidate.samples_s)} and {len(reference.samples_s)}"
        )
    return [r / c for c, r in zip(candidate.samples_s, reference.samples_s)]


def quiet_profiler() -> None:
    """Silence the PyTorch profiler's own log lines (Kineto's "USDT ... profiler_start").

    Call it before the first ``torch.profiler.profile``; a level already set is kept.
    """
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # above every level: no log lines
