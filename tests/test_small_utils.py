"""progress, benchmark, cache, selfcheck and report."""

import io

import pytest

from course_utils.tools import benchmark, cache
from course_utils.tools.progress import progress
from course_utils.tools.report import report
from course_utils.tools.selfcheck import CheckFailed, exercise, expect, expect_close, expect_equal


def test_progress_writes_to_stderr_not_stdout(capsys):
    assert sum(progress(range(5), desc="x", disable=False)) == 10
    out, err = capsys.readouterr()
    assert out == "" and "x" in err


def test_benchmark_ratio_direction():
    def slow():
        return sum(range(20000))

    def fast():
        return 1

    ratio, cand, ref = benchmark.compare(fast, slow, repeat=3)
    assert ratio > 1 and cand.median_s < ref.median_s
    with pytest.raises(ValueError, match="repeat >= 1"):
        benchmark.time_call(fast, repeat=0)


def test_cache_roundtrip_and_key_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_NO_CACHE", raising=False)
    calls = []

    def build():
        calls.append(1)
        return {"a": 1}

    k1, k2 = cache.content_key("x", 1), cache.content_key("x", 2)
    assert k1 != k2
    assert cache.cached("t", k1, build) == {"a": 1}
    assert cache.cached("t", k1, build) == {"a": 1}
    assert len(calls) == 1
    cache.cached("t", k2, build)
    assert len(calls) == 2
    (tmp_path / f"t-{k1}.pkl").write_bytes(b"garbage")
    assert cache.cached("t", k1, build) == {"a": 1} and len(calls) == 3


@exercise("Exercise 0: double it")
def check_double(fn):
    expect_close(fn(2.0), 4.0, "fn(2.0)", hint="multiply by two")
    expect_equal(fn(0), 0, "fn(0)")
    return "well done"


def test_cache_dir_is_the_repositorys_unless_set(tmp_path, monkeypatch):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)
    assert cache.cache_dir() == repo / ".cache"  # beside pyproject.toml, ignored by git
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    assert cache.cache_dir() == tmp_path


def test_selfcheck_accepts_rejects_and_skips(capsys):
    assert check_double(lambda x: 2 * x).passed
    assert "[passed] Exercise 0: double it: well done" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"fn\(2.0\): expected 4, got 3. Hint: multiply by two"):
        check_double(lambda x: x + 1)

    def stub(x):
        raise NotImplementedError

    res = check_double(stub)
    assert not res.attempted and "not attempted yet" in capsys.readouterr().out
    assert not check_double(None).attempted
    with pytest.raises(CheckFailed, match="shape"):
        expect_close([1, 2], [1, 2, 3], "vector")
    with pytest.raises(CheckFailed, match="boom"):
        expect(False, "boom")


def test_report_lists_everything_and_no_problems_here():
    buf = io.StringIO()
    problems = report(file=buf)
    text = buf.getvalue()
    for needle in (
        "Python",
        "PyTorch",
        "CUDA build",
        "CPU threads",
        "CJK font",
        "corpus:",
        "gensim",
    ):
        assert needle in text
    assert problems == [], problems


def test_check_result_is_not_displayed_twice_in_notebooks():
    """IPython shows nothing for a CheckResult: the check already printed its message."""
    res = check_double(lambda x: 2 * x)
    assert res._ipython_display_() is None
    assert repr(res).startswith("[passed]")
