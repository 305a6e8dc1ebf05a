"""Committed notebooks are clean: run top to bottom, no errors, portable, listed in the README."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
# Absolute paths of an author's machine (AutoDL's /root/autodl-tmp is documentation, not a leak).
LOCAL_PATH = re.compile(r"/(?:home|Users|work|tmp)/[^\s\"'<>]+|/root/(?!autodl-)[^\s\"'<>]+|[A-Z]:\\\\Users")


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "00_environment.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_executed_top_to_bottom_without_gaps(path):
    cells = [c for c in _code_cells(_load(path)) if "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cell(s) never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_errors_and_portable_kernel(path):
    nb = _load(path)
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(_code_cells(nb)):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} code cell {i}: {out.get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_local_absolute_paths_in_outputs(path):
    for i, cell in enumerate(_code_cells(_load(path))):
        text = json.dumps(cell.get("outputs", []), ensure_ascii=False)
        text = re.sub(r'"image/[a-z+]+": "[^"]*"', "", text)  # base64 images are not paths
        m = LOCAL_PATH.search(text)
        assert m is None, f"{path.name} code cell {i} prints a local path: {m.group(0)!r}"


def test_every_notebook_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if p.parent.name == "notebooks" and p.name not in readme]
    assert not missing, f"README.md does not list {missing}"


def test_every_chapter_has_matching_solutions_listed():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for sol in (ROOT / "solutions").glob("*.ipynb"):
        assert (ROOT / "notebooks" / sol.name).exists(), f"solutions/{sol.name} has no chapter notebook"
        assert f"solutions/{sol.name}" in readme, f"README.md does not list solutions/{sol.name}"
