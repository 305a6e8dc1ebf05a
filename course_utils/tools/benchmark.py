"""Benchmarks that report ratios against a reference run in the same process.

Absolute timings depend on the machine; a ratio measured in one run does much
less. ``compare`` times both callables interleaved, takes medians, and returns
``reference_time / candidate_time`` (> 1 means the candidate is faster).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median_s: float
    runs: int


def time_call(
    fn: Callable[[], object], repeat: int = 5, warmup: int = 1, number: int = 1
) -> Timing:
    """Median wall time of ``fn()`` over ``repeat`` measurements of ``number`` calls each."""
    if repeat < 1 or number < 1 or warmup < 0:
        raise ValueError(
            f"need repeat >= 1, number >= 1, warmup >= 0; got {repeat}, {number}, {warmup}"
        )
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return Timing(statistics.median(samples), repeat * number)


def compare(
    candidate: Callable[[], object],
    reference: Callable[[], object],
    repeat: int = 5,
    warmup: int = 1,
    number: int = 1,
) -> tuple[float, Timing, Timing]:
    """Time ``candidate`` and ``reference`` interleaved; return (speed ratio, cand, ref).

    The ratio is reference time / candidate time: 1.0 means equal speed,
    0.5 means the candidate takes twice as long.
    """
    for _ in range(warmup):
        candidate()
        reference()
    cand, ref = [], []
    for _ in range(repeat):
        for fn, out in ((candidate, cand), (reference, ref)):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            out.append((time.perf_counter() - t0) / number)
    c = Timing(statistics.median(cand), repeat * number)
    r = Timing(statistics.median(ref), repeat * number)
    return r.median_s / c.median_s, c, r
