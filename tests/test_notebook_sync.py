"""Cells that teach package code (marked `#| same-as: course_utils.x`) equal the package's code."""

import json
from pathlib import Path

import pytest

from course_utils.tools.notebook_sync import check_notebook, marked_cells

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "solutions").glob("*.ipynb")
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_marked_cells_match_the_package(path):
    bad = [r for r in check_notebook(path) if not r.same]
    assert not bad, "\n".join(f"cell {r.cell_index}: {r.module}.{r.name}: {r.reason}" for r in bad)


def test_the_course_has_marked_cells():
    assert sum(len(marked_cells(p)) for p in NOTEBOOKS) >= 1


def _write_nb(tmp_path, source):
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "outputs": [],
                "source": source,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "t.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_checker_detects_drift_and_accepts_comments(tmp_path):
    import inspect

    from course_utils.tools import device

    src = inspect.getsource(device.get_device)
    same = _write_nb(tmp_path, "#| same-as: course_utils.tools.device\n" + src + "\nget_device()\n")
    assert [r.same for r in check_notebook(same)] == [True]
    commented = _write_nb(tmp_path, "#| same-as: course_utils.tools.device\n# a comment\n" + src)
    assert [r.same for r in check_notebook(commented)] == [True]
    drifted = _write_nb(
        tmp_path, "#| same-as: course_utils.tools.device\n" + src.replace('"cpu"', '"cpu0"', 1)
    )
    assert [r.same for r in check_notebook(drifted)] == [False]
    unknown = _write_nb(tmp_path, "#| same-as: course_utils.tools.device\ndef nope():\n    pass\n")
    assert "has no top-level nope" in check_notebook(unknown)[0].reason
    empty = _write_nb(tmp_path, "#| same-as: course_utils.tools.device\nx = 1\n")
    assert "defines no function" in check_notebook(empty)[0].reason
