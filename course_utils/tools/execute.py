"""Re-run notebooks in place, top to bottom, from a fresh kernel.

    python -m course_utils.tools.execute notebooks/03_word2vec.ipynb [--profile default]

Used by ``make execute`` to refresh the committed outputs. It sets
``PYTHONHASHSEED=0`` and ``COURSE_PROFILE`` (default: ``default``) for the
kernel, runs each notebook in its own folder, and saves it with the
``python3`` kernelspec so that it tests on any machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def execute_notebook(path: str | Path, profile: str = "default", timeout: int = 1800) -> float:
    """Execute one notebook in place; return the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    env_backup = {
        k: os.environ.get(k)
        for k in ("COURSE_PROFILE", "PYTHONHASHSEED", "MPLBACKEND", "COURSE_NO_PROGRESS")
    }
    os.environ.update(
        COURSE_PROFILE=profile,
        PYTHONHASHSEED="0",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    t0 = time.perf_counter()
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    elapsed = time.perf_counter() - t0
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="+", help="notebook files to execute in place")
    parser.add_argument("--profile", default="default", choices=("quick", "default", "gpu"))
    parser.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks if Path(p).suffix == ".ipynb" and Path(p).exists()]
    if not paths:
        print("no notebooks found among: " + " ".join(args.notebooks), file=sys.stderr)
        return 2
    for p in paths:
        print(f"executing {p} (profile {args.profile}) ...", flush=True)
        secs = execute_notebook(p, args.profile, args.timeout)
        print(f"  done in {secs:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
