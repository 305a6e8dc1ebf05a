"""Re-run notebooks in place, top to bottom, from a fresh kernel, and time them.

    python -m course_utils.tools.execute notebooks/03_word2vec.ipynb [--profile default]
                                         [--timing .cache/timing.md]

Used by ``make execute`` to refresh the committed outputs. For the kernel it sets
``PYTHONHASHSEED=0``, ``COURSE_PROFILE`` (default: ``default``) and the quiet settings
below; it runs each notebook in its own folder, saves it with the ``python3``
kernelspec so that it tests on any machine, and prints a timing table (also written
to ``--timing``; see ``course_utils.tools.timing``).

What a learner sees live but a saved notebook should not hold:

- progress bars: the course's bars write one summary line each (``COURSE_PROGRESS=summary``),
  and other libraries' tqdm bars are off (``TQDM_DISABLE=1``);
- the PyTorch profiler's stage markers (``KINETO_LOG_LEVEL``), and tqdm's warning that
  ipywidgets is missing;
- terminal control characters: each stream output is saved as a screen shows it (text
  overwritten by a carriage return is dropped), consecutive outputs of one stream are
  joined, and blank stderr outputs are dropped.

Each code cell keeps its start and end times in its metadata (nbclient's
``record_timing``); tests/test_notebook_timing.py reads them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from .timing import write_report

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# The kernel's environment while notebooks are executed for commit.
KERNEL_ENV = {
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "COURSE_PROGRESS": "summary",
    "TQDM_DISABLE": "1",
    "KINETO_LOG_LEVEL": "6",  # above every level: no "USDT ... profiler_start" lines
    # tqdm.auto warns on import when ipywidgets is missing: a fact of this machine, not the lesson.
    "PYTHONWARNINGS": "ignore:IProgress not found",
}
_BACKSPACE = re.compile("[^\n]\x08")  # a character, then a backspace that erases it


def screen_text(text: str) -> str:
    """``text`` as a terminal shows it: a carriage return rewinds to the start of the line."""
    while _BACKSPACE.search(text):
        text = _BACKSPACE.sub("", text)
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines)


def tidy_outputs(outputs: list) -> list:
    """Consecutive outputs of a stream joined, saved as a screen shows them; blank stderr gone."""
    joined: list = []
    for out in outputs:
        prev = joined[-1] if joined else None
        is_stream = out.get("output_type") == "stream"
        if is_stream and prev is not None and prev.get("output_type") == "stream":
            if prev["name"] == out["name"]:
                prev["text"] = _text(prev["text"]) + _text(out["text"])
                continue
        joined.append(out)
    for out in joined:
        if out.get("output_type") == "stream":
            out["text"] = screen_text(_text(out["text"]))
    return [
        o
        for o in joined
        if o.get("output_type") != "stream" or o["name"] != "stderr" or o["text"].strip()
    ]


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _set_env(env: dict[str, str | None]) -> None:
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class _KernelEnv:
    """Set (or, with None, unset) environment variables for a ``with`` block, then restore."""

    def __init__(self, env: dict[str, str | None]) -> None:
        self.env = env
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in self.env}
        _set_env(self.env)

    def __exit__(self, *exc: object) -> None:
        _set_env(self.saved)


def execute_notebook(
    path: str | Path, profile: str = "default", timeout: int = 1800, out: str | Path | None = None
) -> float:
    """Execute one notebook (saved in place, or to ``out``); return the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    # COURSE_NO_PROGRESS would turn the summary lines off: unset it for the kernel.
    env: dict[str, str | None] = {"COURSE_PROFILE": profile, "COURSE_NO_PROGRESS": None}
    env.update(KERNEL_ENV)
    t0 = time.perf_counter()
    with _KernelEnv(env):
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=True,
            resources={"metadata": {"path": str(path.parent.resolve())}},
        )
        client.execute()
    elapsed = time.perf_counter() - t0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = tidy_outputs(cell.outputs)
    nb.metadata.pop("widgets", None)
    nb.metadata["course"] = {"profile": profile}
    nbformat.write(nb, Path(out) if out else path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="+", help="notebook files to execute in place")
    parser.add_argument("--profile", default="default", choices=("quick", "default", "gpu"))
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    parser.add_argument("--timing", default=".cache/timing.md", help="where to write the table")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks if Path(p).suffix == ".ipynb" and Path(p).exists()]
    if not paths:
        print("no notebooks found among: " + " ".join(args.notebooks), file=sys.stderr)
        return 2
    for p in paths:
        print(f"executing {p} (profile {args.profile}) ...", flush=True)
        secs = execute_notebook(p, args.profile, args.timeout)
        print(f"  done in {secs:.1f} s", flush=True)
    print()
    write_report(paths, args.timing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
