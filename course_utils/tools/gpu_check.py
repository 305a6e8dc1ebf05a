"""Run copies of every notebook in one profile; report time, GPU memory and asserted figures.

    python -m course_utils.tools.gpu_check            # make gpu-check: gpu profile, needs CUDA
    python -m course_utils.tools.gpu_check --smoke    # make test-smoke: gpu shapes, quick run
                                                      # length (COURSE_SMOKE=1), on any device

Each notebook is read, executed from a fresh kernel in its own folder (so its
relative paths work) with ``COURSE_PROFILE`` set, and the executed copy is
written under ``--out-dir``: the committed notebooks are never overwritten.
Each notebook gets a time limit (``--limit`` seconds, all its cells together),
and fails if PyTorch's allocator reserved more than 20 GB (so that the gpu
profile also fits a 24 GB card such as AutoDL's RTX 3090/4090).

The report (Markdown, and the same as JSON beside it) gives per notebook: the
status (ok, error in which cell, time limit), the wall time, the peak GPU memory
that PyTorch's allocator saw in the notebook's kernel, and the key figures: the
last printed lines of every cell that asserts something (or of the cell before
it, when the asserting cell prints nothing).

In smoke mode the models train for a token number of steps, so the figures a
notebook asserts are not expected to be reached: a failed ``assert`` is listed
in the report and execution goes on; any other exception fails the notebook.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .gpu_budget import BUDGET_GB

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
PROBE_TAG = "GPU-CHECK-PROBE"
# Appended to each copy: what the kernel's CUDA allocator saw (None without CUDA).
PROBE_SOURCE = f"""import json as _json
import torch as _torch
_cuda = _torch.cuda.is_available() and _torch.cuda.is_initialized()
print("{PROBE_TAG}", _json.dumps({{
    "max_allocated": _torch.cuda.max_memory_allocated() if _cuda else None,
    "max_reserved": _torch.cuda.max_memory_reserved() if _cuda else None}}))"""
KEY_LINES = 3  # printed lines kept per asserting cell
KEY_LINE_CHARS = 160


def course_notebooks() -> list[Path]:
    """The course's notebooks, without translations (``NN_name.zh.ipynb`` repeats the code)."""
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if "." not in p.stem)


@dataclass
class NotebookReport:
    notebook: str
    status: str = "not run"  # ok, error, time limit, kernel died
    seconds: float = 0.0
    max_allocated_gb: float | None = None
    max_reserved_gb: float | None = None
    failed_cell: str | None = None  # "index (id)" of the cell that failed or ran out of time
    error: str | None = None
    key_figures: list[dict] = field(default_factory=list)
    failed_asserts: list[dict] = field(default_factory=list)  # smoke mode: listed, not fatal
    copy: str | None = None  # the executed copy


@contextlib.contextmanager
def _environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _source(cell) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source


def _asserts(source: str) -> bool:
    """Does the cell hold an assert statement? (IPython magics are skipped.)"""
    code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return any(ln.lstrip().startswith("assert ") for ln in code.splitlines())
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def _printed(cell) -> list[str]:
    """The cell's non-empty stdout lines. The stream outputs are joined first: one ``print``
    of several arguments is several writes, which the kernel may send as separate outputs."""
    text = "".join(
        out["text"] if isinstance(out["text"], str) else "".join(out["text"])
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )
    return [ln.rstrip() for ln in text.splitlines() if ln.strip()]


def key_figures(nb) -> list[dict]:
    """The last printed lines of each executed cell that asserts (or of the cell before it)."""
    figures, previous = [], None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("execution_count") is not None and _asserts(_source(cell)):
            lines = _printed(cell) or (_printed(previous) if previous is not None else [])
            if lines:
                figures.append(
                    {
                        "cell": f"{i} ({cell.get('id', '?')})",
                        "lines": [ln[:KEY_LINE_CHARS] for ln in lines[-KEY_LINES:]],
                    }
                )
        previous = cell
    return figures


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failed_asserts(nb) -> list[dict]:
    """Cells whose ``assert`` failed (kept in the outputs when AssertionError is allowed)."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") == "AssertionError":
                lines = [_ANSI.sub("", ln) for ln in out.get("traceback", [])]
                marked = [ln for tb in lines for ln in tb.splitlines() if ln.startswith("---->")]
                where = marked[-1].split(maxsplit=2)[-1].strip() if marked else ""
                found.append(
                    {
                        "cell": f"{i} ({cell.get('id', '?')})",
                        "assert": where[:KEY_LINE_CHARS],
                        "message": out.get("evalue", ""),
                    }
                )
    return found


def _probe(nb) -> dict:
    for cell in reversed(nb.cells):
        for line in _printed(cell):
            if line.startswith(PROBE_TAG):
                return json.loads(line[len(PROBE_TAG) :])
    return {}


def run_notebook(
    path: str | Path,
    out_dir: str | Path,
    profile: str = "gpu",
    smoke: bool = False,
    limit_s: float = 600.0,
    threads: int | None = None,
) -> NotebookReport:
    """Execute a copy of one notebook; write the executed copy to ``out_dir``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path, out_dir = Path(path).resolve(), Path(out_dir).resolve()
    if out_dir == path.parent:
        raise ValueError(
            f"out_dir {out_dir} is the notebook's own folder: the executed copies "
            f"would overwrite the committed notebooks"
        )
    report = NotebookReport(path.stem)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_SOURCE))
    deadline = time.monotonic() + limit_s
    current = {"cell": None}

    def on_start(cell, cell_index):
        current["cell"] = f"{cell_index} ({cell.get('id', '?')})"

    client = NotebookClient(
        nb,
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=on_start,
        allow_error_names=["AssertionError"] if smoke else [],
    )
    t0 = time.perf_counter()
    env = dict(
        COURSE_PROFILE=profile,
        COURSE_SMOKE="1" if smoke else "0",
        PYTHONHASHSEED="0",
        COURSE_NO_PROGRESS="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    if threads is not None:  # notebooks side by side: each kernel keeps to its share of cores
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    try:
        with _environment(**env):
            client.execute()
        report.status = "ok"
    except CellTimeoutError:
        report.status, report.failed_cell = "time limit", current["cell"]
        report.error = f"the notebook's {limit_s:.0f} s ran out in this cell"
    except CellExecutionError as exc:
        report.status, report.failed_cell = "error", current["cell"]
        report.error = f"{exc.ename}: {exc.evalue}"[:500]
    except DeadKernelError as exc:
        report.status, report.failed_cell, report.error = "kernel died", current["cell"], str(exc)
    report.seconds = round(time.perf_counter() - t0, 1)
    probe = _probe(nb)
    for key in ("max_allocated", "max_reserved"):
        if probe.get(key) is not None:
            setattr(report, f"{key}_gb", round(probe[key] / 1e9, 2))
    nb.cells = [c for c in nb.cells if PROBE_TAG not in _source(c)]
    report.key_figures = key_figures(nb)
    report.failed_asserts = failed_asserts(nb)
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / path.name
    nbformat.write(nb, copy)
    report.copy = str(copy)
    return report


def device_summary() -> str:
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        return f"{p.name}, {p.total_memory / 1e9:.1f} GB, torch {torch.__version__}"
    return f"CPU ({platform.machine()}, {os.cpu_count()} logical CPUs), torch {torch.__version__}"


def format_report(reports: list[NotebookReport], header: dict) -> str:
    """The Markdown report: a summary table, then each notebook's key figures."""
    lines = [
        f"# gpu-check report ({header['mode']})",
        "",
        f"- device: {header['device']}",
        f"- profile: {header['profile']}, smoke mode: {header['smoke']}",
        f"- per-notebook limit: {header['limit_s']:.0f} s; total {header['total_s']:.0f} s",
        f"- started: {header['started']}",
        "",
        "| notebook | status | time (s) | peak GPU memory allocated / reserved (GB) |",
        "|---|---|---:|---|",
    ]
    for r in reports:
        mem = (
            "-"
            if r.max_allocated_gb is None
            else f"{r.max_allocated_gb:.2f} / {r.max_reserved_gb:.2f}"
        )
        status = r.status if r.failed_cell is None else f"{r.status} in cell {r.failed_cell}"
        lines.append(f"| {r.notebook} | {status} | {r.seconds:.1f} | {mem} |")
    for r in reports:
        lines += ["", f"## {r.notebook}", ""]
        if r.error:
            lines += [f"**{r.status}** in cell {r.failed_cell}: `{r.error}`", ""]
        for a in r.failed_asserts:
            lines.append(
                f"- assertion not reached in cell {a['cell']}: `{a['assert']}` {a['message']}"
            )
        if not r.key_figures:
            lines.append("(no asserting cell printed anything)")
        for fig in r.key_figures:
            lines.append(f"- cell {fig['cell']}:")
            lines += [f"    - `{ln}`" for ln in fig["lines"]]
    return "\n".join(lines) + "\n"


def _run_all(paths, out_dir, args, limit, threads):
    """(path, report) of each notebook as it finishes, ``args.jobs`` kernels at a time."""
    run = [(p, out_dir, args.profile, args.smoke, limit, threads) for p in paths]
    if args.jobs == 1:
        yield from ((a[0], run_notebook(*a)) for a in run)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from .timing import notebook_timing

    # the longest first (by the committed default-profile timings), so no worker waits alone
    run.sort(key=lambda a: -notebook_timing(a[0]).seconds)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_notebook, *a): a[0] for a in run}
        yield from ((futures[f], f.result()) for f in as_completed(futures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        help="default: every notebooks/NN_name.ipynb (translations left out)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="COURSE_SMOKE=1: the profile's shapes, the quick profile's run length",
    )
    parser.add_argument("--profile", default="gpu", choices=("quick", "default", "gpu"))
    parser.add_argument(
        "--limit", type=float, default=None, help="seconds per notebook (default 600)"
    )
    parser.add_argument(
        "--out-dir",
        default=None,
        help="executed copies and the report (default .cache/gpu-check or .cache/smoke)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="notebooks executed side by side, each kernel with cores/jobs threads (default 1)",
    )
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="run the full profile without CUDA (slow; for testing)",
    )
    args = parser.parse_args(argv)
    if not args.smoke and not args.allow_cpu and not torch.cuda.is_available():
        print(
            "gpu-check needs a CUDA GPU, and torch.cuda.is_available() is False here. "
            "On a CPU, `make test-smoke` runs the gpu profile's shapes with capped steps.",
            file=sys.stderr,
        )
        return 2
    paths = [Path(p) for p in args.notebooks] or course_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    limit = args.limit or 600.0
    out_dir = Path(args.out_dir or REPO / ".cache" / ("smoke" if args.smoke else "gpu-check"))
    header = {
        "mode": "smoke" if args.smoke else "gpu",
        "device": device_summary(),
        "profile": args.profile,
        "smoke": args.smoke,
        "limit_s": limit,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(
        f"{header['mode']} run of {len(paths)} notebook(s), profile {args.profile}, on "
        f"{header['device']}; copies in {out_dir}",
        flush=True,
    )
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive int, got {args.jobs}")
    threads = None if args.jobs == 1 else max(1, (os.cpu_count() or 1) // args.jobs)
    t0 = time.perf_counter()
    reports = []
    for p, r in _run_all(paths, out_dir, args, limit, threads):
        if r.status == "ok" and (r.max_reserved_gb or 0.0) > BUDGET_GB:
            r.status = f"over {BUDGET_GB:.0f} GB"  # would not fit a 24 GB card with room to spare
        mem = "" if r.max_allocated_gb is None else f", peak GPU {r.max_allocated_gb:.2f} GB"
        if r.failed_asserts:
            mem += f", {len(r.failed_asserts)} assertion(s) not reached"
        where = "" if r.failed_cell is None else f" in cell {r.failed_cell}: {r.error}"
        print(f"  {p.name}: {r.status}{where} ({r.seconds:.1f} s{mem})", flush=True)
        reports.append(r)
    order = {Path(p).stem: i for i, p in enumerate(paths)}
    reports.sort(key=lambda r: order[r.notebook])  # the order the notebooks were given in
    header["total_s"] = time.perf_counter() - t0
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(format_report(reports, header), encoding="utf-8")
    (out_dir / "report.json").write_text(
        json.dumps(
            {**header, "notebooks": [asdict(r) for r in reports]}, indent=1, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    failed = [r.notebook for r in reports if r.status != "ok"]
    print(
        f"{len(reports) - len(failed)}/{len(reports)} ok in {header['total_s']:.0f} s; report: "
        f"{out_dir / 'report.md'}" + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
