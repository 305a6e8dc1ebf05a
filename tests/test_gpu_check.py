"""course_utils.tools.gpu_check: executed copies, time limit, key figures, never in place."""

import json
import os
from pathlib import Path

import nbformat
import pytest

from course_utils.tools import gpu_check


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_runs_a_copy_and_collects_asserted_figures(tmp_path):
    src = _notebook(
        tmp_path / "a.ipynb",
        "import os\nprint(os.environ['COURSE_PROFILE'], os.environ['COURSE_SMOKE'])",
        "acc = 0.97\nprint(f'held-out accuracy {acc:.2f}')",
        "assert acc > 0.9",
        "print('not asserted')",
    )
    before = src.read_text()
    r = gpu_check.run_notebook(src, tmp_path / "out", profile="quick", smoke=True, limit_s=120)
    assert r.status == "ok", r.error
    assert src.read_text() == before  # the committed notebook is untouched
    copy = nbformat.read(tmp_path / "out" / "a.ipynb", as_version=4)
    assert len(copy.cells) == 4  # the memory probe is not left in the copy
    assert copy.cells[0].outputs[0]["text"].strip() == "quick 1"
    assert r.key_figures == [
        {"cell": f"2 ({copy.cells[2].id})", "lines": ["held-out accuracy 0.97"]}
    ]
    assert r.max_allocated_gb is None  # no CUDA in this kernel


def test_errors_and_time_limit_name_the_cell(tmp_path):
    bad = _notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('shape mismatch')")
    r = gpu_check.run_notebook(bad, tmp_path / "out", profile="quick", limit_s=120)
    assert r.status == "error" and r.failed_cell.startswith("1 ")
    assert "ValueError: shape mismatch" in r.error
    slow = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    r = gpu_check.run_notebook(slow, tmp_path / "out", profile="quick", limit_s=3)
    assert r.status == "time limit" and r.failed_cell.startswith("0 ")
    assert r.seconds < 40


def test_never_writes_into_the_notebooks_folder(tmp_path):
    nb = _notebook(tmp_path / "a.ipynb", "x = 1")
    with pytest.raises(ValueError, match="overwrite"):
        gpu_check.run_notebook(nb, tmp_path)


def test_main_writes_the_report_and_refuses_cpu_for_the_full_profile(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    nb = _notebook(tmp_path / "a.ipynb", "x = 2", "assert x == 2")
    assert gpu_check.main([str(nb), "--out-dir", str(tmp_path / "o")]) == 2
    assert gpu_check.main([str(nb), "--smoke", "--out-dir", str(tmp_path / "o")]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["smoke"] is True and report["notebooks"][0]["status"] == "ok"
    assert "| a | ok |" in (tmp_path / "o" / "report.md").read_text()


def test_asserts_are_found_by_syntax():
    assert gpu_check._asserts("%matplotlib inline\nassert 1 == 1")
    assert gpu_check._asserts("for i in range(2):\n    assert i < 2")
    assert not gpu_check._asserts("print('assert nothing')")


def test_smoke_mode_lists_failed_asserts_and_goes_on(tmp_path):
    nb = _notebook(
        tmp_path / "s.ipynb",
        "loss = 5.0",
        "assert loss < 1.0, 'did not learn'",
        "print('after')",
    )
    r = gpu_check.run_notebook(nb, tmp_path / "out", profile="quick", smoke=True, limit_s=120)
    assert r.status == "ok"
    assert r.failed_asserts == [
        {
            "cell": r.failed_asserts[0]["cell"],
            "assert": "assert loss < 1.0, 'did not learn'",
            "message": "did not learn",
        }
    ]
    assert r.failed_asserts[0]["cell"].startswith("1 ")
    # outside smoke mode the same assert fails the notebook
    r = gpu_check.run_notebook(nb, tmp_path / "out", profile="quick", smoke=False, limit_s=120)
    assert r.status == "error" and "AssertionError" in r.error


def test_a_notebook_over_20_gb_fails(tmp_path, monkeypatch):
    def fake_run(path, out_dir, profile, smoke, limit, threads=None):
        return gpu_check.NotebookReport(
            Path(path).stem, "ok", 1.0, max_allocated_gb=19.0, max_reserved_gb=21.5
        )

    monkeypatch.setattr(gpu_check, "run_notebook", fake_run)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr(gpu_check, "device_summary", lambda: "a 24 GB GPU")
    nb = _notebook(tmp_path / "big.ipynb", "x = 1")
    assert gpu_check.main([str(nb), "--out-dir", str(tmp_path / "o")]) == 1
    assert (
        "| big | over 20 GB | 1.0 | 19.00 / 21.50 |" in (tmp_path / "o" / "report.md").read_text()
    )


def test_notebooks_side_by_side_keep_their_order_and_share_the_cores(tmp_path):
    a = _notebook(tmp_path / "a.ipynb", "import os\nprint(os.environ['OMP_NUM_THREADS'])")
    b = _notebook(tmp_path / "b.ipynb", "raise KeyError('b')")
    out = tmp_path / "o"
    assert gpu_check.main([str(a), str(b), "--smoke", "--jobs", "2", "--out-dir", str(out)]) == 1
    report = json.loads((out / "report.json").read_text())
    assert [n["notebook"] for n in report["notebooks"]] == ["a", "b"]
    assert [n["status"] for n in report["notebooks"]] == ["ok", "error"]
    copy = nbformat.read(out / "a.ipynb", as_version=4)
    assert copy.cells[0].outputs[0]["text"].strip() == str(max(1, (os.cpu_count() or 1) // 2))
    with pytest.raises(SystemExit):
        gpu_check.main([str(a), "--smoke", "--jobs", "0"])


def test_printed_lines_join_stream_outputs_split_mid_line():
    """print("TAG", data) is two writes; the kernel may send them as two outputs."""
    from course_utils.tools.gpu_check import PROBE_TAG, _printed, _probe

    cell = {
        "cell_type": "code",
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "first line\n" + PROBE_TAG},
            {"output_type": "stream", "name": "stderr", "text": "noise\n"},
            {"output_type": "stream", "name": "stdout", "text": ' {"peak": 1.5}\n'},
        ],
    }
    assert _printed(cell) == ["first line", PROBE_TAG + ' {"peak": 1.5}']

    class NB:
        cells = [cell]

    assert _probe(NB()) == {"peak": 1.5}
