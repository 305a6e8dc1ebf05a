"""course_utils.tools.benchmark: ratios from torch.utils.benchmark.Timer, thread count explicit."""

import os
import time

import pytest
import torch

from course_utils.tools.benchmark import Timing, compare, quiet_profiler, round_ratios, time_call


def test_ratio_is_reference_over_candidate():
    def fast():
        time.sleep(0.001)

    def slow():
        time.sleep(0.02)

    ratio, cand, ref = compare(fast, slow, repeat=3, warmup=0)
    assert isinstance(cand, Timing) and isinstance(ref, Timing)
    assert ratio == pytest.approx(ref.median_s / cand.median_s)
    assert 2 < ratio < 40  # 20x in sleep time; a busy machine oversleeps both
    assert cand.runs == 3 and cand.repeat == 3 and cand.number == 1


def test_number_divides_and_runs_counts_calls():
    calls = []
    t = time_call(lambda: calls.append(1), repeat=4, warmup=1, number=10)
    assert t.runs == 40 and t.number == 10 and t.repeat == 4
    # timed calls + our warm-up + the Timer's own warm-up (>= 2 per sample)
    assert len(calls) >= 40 + 1 + 2 * 4
    assert t.median_s < 0.01 and t.iqr_s >= 0


def test_thread_count_is_set_during_the_call_and_restored():
    before = torch.get_num_threads()
    seen = []
    t = time_call(lambda: seen.append(torch.get_num_threads()), repeat=2, warmup=0, num_threads=1)
    assert set(seen) == {1} and t.num_threads == 1
    assert torch.get_num_threads() == before
    # default: the caller's current thread count, not the Timer's default of one
    assert time_call(lambda: None, repeat=1, warmup=0).num_threads == before


@pytest.mark.parametrize(
    "kwargs", [dict(repeat=0), dict(number=0), dict(warmup=-1), dict(repeat=1.5)]
)
def test_bad_counts_are_clear_errors(kwargs):
    with pytest.raises(ValueError, match="repeat >= 1"):
        time_call(lambda: None, **kwargs)
    with pytest.raises(ValueError, match="repeat >= 1"):
        compare(lambda: None, lambda: None, **kwargs)


def test_bad_threads_and_callables():
    with pytest.raises(ValueError, match="num_threads"):
        time_call(lambda: None, num_threads=0)
    with pytest.raises(TypeError, match="callable"):
        time_call(3)


def test_round_ratios_pair_the_interleaved_samples():
    ratio, cand, ref = compare(lambda: None, lambda: time.sleep(0.002), repeat=4, warmup=0)
    assert len(cand.samples_s) == len(ref.samples_s) == 4
    assert min(cand.samples_s) <= cand.median_s <= max(cand.samples_s)
    rounds = round_ratios(cand, ref)
    assert rounds == [r / c for c, r in zip(cand.samples_s, ref.samples_s)]
    assert min(rounds) <= ratio <= max(rounds)
    with pytest.raises(ValueError, match="same number of samples"):
        round_ratios(cand, Timing(1.0, 1))


def test_quiet_profiler_sets_the_kineto_level_once(monkeypatch):
    monkeypatch.delenv("KINETO_LOG_LEVEL", raising=False)
    quiet_profiler()
    assert os.environ["KINETO_LOG_LEVEL"] == "6"
    monkeypatch.setenv("KINETO_LOG_LEVEL", "2")
    quiet_profiler()
    assert os.environ["KINETO_LOG_LEVEL"] == "2"  # a level already set is kept
