"""Committed notebooks are clean: run top to bottom, no errors, portable, listed in the README,
and their outputs short and free of progress debris and tool noise (course_utils.tools.hygiene).

Every notebook under notebooks/ and solutions/ is checked, and so is every Chinese edition
(``*.zh.ipynb``) wherever it lives in the repository.
"""

import json
import os
import re
from pathlib import Path

import pytest

from course_utils.tools import hygiene

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {
    ".git",
    ".cache",
    ".ipynb_checkpoints",
    "_build",
    "build",
    "node_modules",
    "runs",
    "checkpoints",
    "site-packages",
}


def _find_notebooks(root):
    """notebooks/ and solutions/ (any depth), and every *.zh.ipynb under ``root``."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if d not in SKIP_DIRS and not d.startswith((".", "venv"))
        ]
        top = Path(dirpath).relative_to(root).parts[:1]
        for name in filenames:
            course = top in (("notebooks",), ("solutions",))
            if name.endswith(".ipynb") and (course or name.endswith(".zh.ipynb")):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).parts)


NOTEBOOKS = _find_notebooks(ROOT)


def _id(path):
    return str(path.relative_to(ROOT))


# Absolute paths of an author's machine (AutoDL's /root/autodl-tmp is documentation, not a leak).
LOCAL_PATH = re.compile(
    r"/(?:home|Users|work|tmp)/[^\s\"'<>]+|/root/(?!autodl-)[^\s\"'<>]+|[A-Z]:\\\\Users"
)


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "00_environment.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_executed_top_to_bottom_without_gaps(path):
    cells = [c for c in _code_cells(_load(path)) if "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cell(s) never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_errors_and_portable_kernel(path):
    nb = _load(path)
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(_code_cells(nb)):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} code cell {i}: {out.get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_local_absolute_paths_in_outputs(path):
    for i, cell in enumerate(_code_cells(_load(path))):
        text = json.dumps(cell.get("outputs", []), ensure_ascii=False)
        text = re.sub(r'"image/[a-z+]+": "[^"]*"', "", text)  # base64 images are not paths
        m = LOCAL_PATH.search(text)
        assert m is None, f"{path.name} code cell {i} prints a local path: {m.group(0)!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_sources_have_no_control_characters(path):
    """A backslash escape written through a non-raw Python string (\\frac -> form feed + "rac")
    breaks the maths silently; only newlines belong in a cell's source."""
    for i, cell in enumerate(_load(path)["cells"]):
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        bad = sorted({hex(ord(c)) for c in src if ord(c) < 32 and c != "\n"})
        assert not bad, f"{path.name} cell {i} ({cell['cell_type']}) has control characters {bad}"


def test_every_notebook_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    english = [p for p in NOTEBOOKS if p.parent.name == "notebooks" and ".zh." not in p.name]
    missing = [p.name for p in english if p.name not in readme]
    assert not missing, f"README.md does not list {missing}"


def test_every_chapter_has_matching_solutions_listed():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for sol in (ROOT / "solutions").glob("*.ipynb"):
        assert (ROOT / "notebooks" / sol.name).exists(), (
            f"solutions/{sol.name} has no chapter notebook"
        )
        assert f"solutions/{sol.name}" in readme, f"README.md does not list solutions/{sol.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_outputs_are_short_and_free_of_debris(path):
    """No progress frames, at most a few stream outputs and ~60 lines per cell, no tool noise.

    Re-execute a failing notebook with ``make execute NB=...``: its bars then write one summary
    line each; `python -m course_utils.tools.hygiene NB` lists what is left.
    """
    found = hygiene.problems(hygiene.notebook_stats(path))
    assert not found, f"{_id(path)}:\n  " + "\n  ".join(found)


# The rules themselves, on made-up cells: each must catch its kind of debris.
def _stream(text, name="stderr"):
    return {"output_type": "stream", "name": name, "text": text}


def _problems(*outputs):
    return hygiene.problems(
        [hygiene.cell_stats(0, {"cell_type": "code", "outputs": list(outputs)})]
    )


def test_rules_pass_a_clean_cell():
    table = {"output_type": "execute_result", "data": {"text/plain": "x\n" * 10}, "metadata": {}}
    assert (
        _problems(
            _stream("loss 1.2\nloss 0.9\n", "stdout"),
            _stream("train: 300/300 it in 00:12 (25 it/s)\n"),
            table,
        )
        == []
    )


def test_rules_catch_progress_frames():
    assert "progress frame" in " ".join(
        _problems(_stream("\rtrain:  10%|#  | 1/10\rtrain: 100%|##| 10/10\n"))
    )


def test_rules_catch_many_stream_outputs():
    outs = [
        _stream(f"step {i}\n", "stdout" if i % 2 else "stderr")
        for i in range(hygiene.MAX_STREAMS + 1)
    ]
    assert "stream outputs" in " ".join(_problems(*outs))
    assert _problems(*outs[: hygiene.MAX_STREAMS]) == []


def test_rules_catch_long_outputs():
    long = _stream("".join(f"line {i}\n" for i in range(hygiene.MAX_LINES + 1)), "stdout")
    assert "lines of output" in " ".join(_problems(long))
    html = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "text/html": "<table>" + "<tr><td>1</td></tr>" * 80 + "</table>",
            "text/plain": "df",
        },
    }
    assert "lines of output" in " ".join(_problems(html))


@pytest.mark.parametrize(
    "text",
    [
        "USDT:2026-11-28 22:39:53 3918:3918 SyncActivityProfilerHandler.cpp:52] profiler_start\n",
        "[cache] using enwiki-sentences-0ecd53aabece101d.pkl (delete .cache/ to rebuild)\n",
        "/x/site.py:3: UserWarning: something\n  warnings.warn(\n",
    ],
)
def test_rules_catch_tool_noise(text):
    assert "tool noise" in " ".join(_problems(_stream(text)))


def test_rules_catch_widgets():
    widget = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
            "text/plain": "w",
        },
    }
    assert "widget output" in " ".join(_problems(widget))


def test_chinese_editions_are_collected(tmp_path):
    for p in (
        "notebooks/01_a.ipynb",
        "notebooks/01_a.zh.ipynb",
        "book/zh/02_b.zh.ipynb",
        "book/x.ipynb",
        "notebooks/.ipynb_checkpoints/01_a-checkpoint.ipynb",
    ):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("{}")
    found = [str(p.relative_to(tmp_path)) for p in _find_notebooks(tmp_path)]
    assert found == ["book/zh/02_b.zh.ipynb", "notebooks/01_a.ipynb", "notebooks/01_a.zh.ipynb"]
