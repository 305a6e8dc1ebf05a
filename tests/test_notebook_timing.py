"""The committed notebooks run within their time limits (default profile, 2-core CPU).

The limits live in course_utils.tools.timing: 300 s per chapter notebook, 360 s for the two
long ones (07b_*, 09_*), 1800 s for all chapter notebooks together (solutions not counted).
The times are the cell timings that ``make execute`` saves in each code cell's metadata.
"""

import json
from pathlib import Path

import pytest

from course_utils.tools import timing

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _id(path):
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", CHAPTERS, ids=_id)
def test_notebook_within_its_time_limit(path):
    t = timing.notebook_timing(path)
    english = ".zh." not in path.name
    if english:  # a translation may be saved without re-running; its English edition is timed
        assert t.untimed_cells == 0, (
            f"{_id(path)}: {t.untimed_cells} code cell(s) have no recorded timing; "
            "re-execute it with `make execute NB=...`"
        )
    profile = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("course", {})
    assert profile.get("profile", "default") == "default", f"{_id(path)} was executed in {profile}"
    limit = timing.limit_seconds(path)
    assert t.seconds <= limit, (
        f"{_id(path)} takes {t.seconds:.0f} s (limit {limit} s); slowest: cell "
        f"#{t.slowest_index} {t.slowest_seconds:.0f} s `{t.slowest_source}`"
    )


def test_all_chapter_notebooks_within_the_total_limit():
    timings = [timing.notebook_timing(p) for p in CHAPTERS if timing.counts_in_total(p)]
    total = sum(t.seconds for t in timings)
    assert total <= timing.TOTAL_LIMIT_S, (
        f"all chapter notebooks take {total:.0f} s (limit {timing.TOTAL_LIMIT_S} s):\n"
        + timing.timing_table(timings)
    )


# The timing reader and the limits, on made-up notebooks.
def _cell(start, end, source="x = 1"):
    meta = {"execution": {"iopub.execute_input": start, "shell.execute_reply": end}}
    return {"cell_type": "code", "source": source, "metadata": meta, "outputs": []}


def _write(path, cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": {}}), encoding="utf-8")
    return path


def test_timing_sums_cells_and_finds_the_slowest(tmp_path):
    nb = _write(
        tmp_path / "notebooks" / "03_x.ipynb",
        [
            _cell("2026-01-01T10:00:00.000Z", "2026-01-01T10:00:02.500Z"),
            {"cell_type": "markdown", "source": "# title", "metadata": {}},
            _cell("2026-01-01T10:00:03Z", "2026-01-01T10:04:13Z", "\nmodel = train(corpus)\n"),
            {"cell_type": "code", "source": "y = 2", "metadata": {}, "outputs": []},  # untimed
            {"cell_type": "code", "source": "  ", "metadata": {}, "outputs": []},  # empty: ignored
        ],
    )
    t = timing.notebook_timing(nb)
    assert t.seconds == pytest.approx(252.5)
    assert (t.slowest_index, t.slowest_seconds, t.slowest_source) == (
        2,
        250.0,
        "model = train(corpus)",
    )
    assert t.untimed_cells == 1
    assert "| 252.5 | 300 | #2 250.0 s `model = train(corpus)` (1 cell(s) untimed) |" in (
        timing.timing_table([t])
    )


def test_limits_by_notebook_name(tmp_path):
    def limit(rel):
        return timing.limit_seconds(tmp_path / rel)

    assert limit("notebooks/03_word2vec.ipynb") == 300
    assert limit("notebooks/03_word2vec.zh.ipynb") == 300
    assert limit("notebooks/07b_gpt_compare.ipynb") == 360
    assert limit("notebooks/09_finetune.zh.ipynb") == 360
    assert limit("notebooks/07_gpt.ipynb") == 300
    assert limit("solutions/03_word2vec.ipynb") is None
    assert timing.counts_in_total(tmp_path / "notebooks/03_word2vec.ipynb")
    assert not timing.counts_in_total(tmp_path / "notebooks/03_word2vec.zh.ipynb")
    assert not timing.counts_in_total(tmp_path / "solutions/03_word2vec.ipynb")


def test_table_flags_a_notebook_and_a_total_over_the_limit(tmp_path):
    slow = _write(
        tmp_path / "notebooks" / "04_x.ipynb",
        [_cell("2026-01-01T10:00:00Z", "2026-01-01T10:31:00Z")],
    )
    sol = _write(
        tmp_path / "solutions" / "04_x.ipynb",
        [_cell("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z")],
    )
    table = timing.timing_table([timing.notebook_timing(slow), timing.notebook_timing(sol)])
    assert "| 1860.0 **over** | 300 |" in table
    assert "| 3600.0 | - |" in table  # solutions have no limit ...
    assert "| all chapter notebooks | 1860.0 **over** (31:00.0) | 1800 |" in table  # ... nor count
