"""The notebook harness itself: strict comparison, stderr skipped, foreign kernel names still test."""

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent


def _nb(path, cells, kernel="python3"):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(nb, path)


def _nbval(*paths):
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "--nbval-sanitize-with",
        str(ROOT / "nbval_sanitize.cfg"),
        "-q",
        "--rootdir",
        str(ROOT),
        "-c",
        str(ROOT / "pyproject.toml"),
        *map(str, paths),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=240)


def test_strict_compare_skips_stderr_and_runs_under_a_foreign_kernel_name():
    # Inside the repo (in the git-ignored .cache/) so that the root conftest.py applies.
    tmp_path = ROOT / ".cache" / "nbval-selftest"
    tmp_path.mkdir(parents=True, exist_ok=True)
    good = new_code_cell(
        "import sys\nprint('2 + 2 =', 2 + 2)\nprint('noise', file=sys.stderr)",
        execution_count=1,
        outputs=[
            new_output("stream", name="stdout", text="2 + 2 = 4\n"),
            new_output("stream", name="stderr", text="other noise\n"),
        ],
    )
    ok = tmp_path / "ok.ipynb"
    _nb(ok, [good], kernel="conda-env-autodl-py310")  # as saved by AutoDL's JupyterLab
    wrong = new_code_cell(
        "print(2 + 3)", execution_count=1, outputs=[new_output("stream", name="stdout", text="4\n")]
    )
    bad = tmp_path / "bad.ipynb"
    _nb(bad, [wrong])
    res = _nbval(ok, bad)
    assert "1 failed, 1 passed" in res.stdout, res.stdout[-2000:]
