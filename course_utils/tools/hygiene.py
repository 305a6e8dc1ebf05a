"""What a saved notebook's outputs must not hold: progress debris, walls of text, tool noise.

    python -m course_utils.tools.hygiene [NOTEBOOK ...]     # prints the problems, exit 1 if any

tests/test_notebook_hygiene.py applies these rules to every committed notebook, and
``make execute`` prints them after a run. A reader sees the committed outputs first
(on GitHub, nbviewer or in a fresh JupyterLab), so each cell shows a short result:

- no carriage-return progress frames (``tqdm`` redrawing itself);
- at most ``MAX_STREAMS`` stream outputs in one cell (interleaved logs and bars);
- at most ``MAX_LINES`` lines of output in one cell (about a screen);
- no tool noise: profiler markers, cache notices and paths, Python warnings, widgets.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_STREAMS = 3
MAX_LINES = 60
# (what it is, pattern): searched in every text output ...
NOISE = (
    ("PyTorch profiler marker", re.compile(r"USDT:|profiler_(?:start|stop)\b")),
    ("cache notice", re.compile(r"\[cache\]")),
    ("cache file", re.compile(r"[\w.-]+\.pkl\b")),
)
# ... and in stderr only.
STDERR_NOISE = (
    ("Python warning", re.compile(r"\b\w+Warning: ")),
    ("widget notice", re.compile(r"IProgress not found")),
)
WIDGET = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class CellStats:
    """What one code cell's outputs hold."""

    index: int  # index among all cells (as scripts/nbcell.py counts)
    streams: int  # stream outputs
    stderr: int  # of which on stderr
    frames: int  # carriage returns that redraw a line (progress frames)
    lines: int  # lines a reader scrolls through (text, tables; not images)
    noise: tuple[str, ...]  # kinds of tool noise found


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def _frames(text: str) -> int:
    return len(re.findall(r"\r(?!\n)", text))


def _line_count(text: str) -> int:
    """Lines as a screen shows them: only newlines start a line (a carriage return redraws)."""
    text = text.rstrip("\n")
    return text.count("\n") + 1 if text else 0


def _output_lines(out: dict) -> int:
    if out.get("output_type") == "stream":
        return _line_count(_text(out.get("text")))
    data = out.get("data", {})
    if "text/html" in data:
        return max(_text(data["text/html"]).count("<tr"), 1)
    if any(k.startswith("image/") for k in data):
        return 0
    if "text/plain" in data:
        return _line_count(_text(data["text/plain"]))
    if out.get("output_type") == "error":
        return len(out.get("traceback", []))
    return 0


def cell_stats(index: int, cell: dict) -> CellStats:
    outputs = cell.get("outputs", [])
    streams = [o for o in outputs if o.get("output_type") == "stream"]
    stream_texts = [_text(o.get("text")) for o in streams]
    stderr_texts = [_text(o.get("text")) for o in streams if o.get("name") == "stderr"]
    data_texts = [
        _text(v) for o in outputs for k, v in o.get("data", {}).items() if k.startswith("text/")
    ]
    texts = stream_texts + data_texts
    noise = [kind for kind, rx in NOISE if any(rx.search(t) for t in texts)]
    noise += [kind for kind, rx in STDERR_NOISE if any(rx.search(t) for t in stderr_texts)]
    if any(WIDGET in o.get("data", {}) for o in outputs):
        noise.append("widget output")
    return CellStats(
        index=index,
        streams=len(streams),
        stderr=len(stderr_texts),
        frames=sum(_frames(t) for t in stream_texts),
        lines=sum(_output_lines(o) for o in outputs),
        noise=tuple(noise),
    )


def notebook_stats(path: str | Path) -> list[CellStats]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return [cell_stats(i, c) for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]


def problems(stats: list[CellStats]) -> list[str]:
    """One message per rule that a cell breaks."""
    found = []
    for s in stats:
        where = f"code cell #{s.index}"
        if s.frames:
            found.append(f"{where}: {s.frames} carriage-return progress frame(s)")
        if s.streams > MAX_STREAMS:
            found.append(f"{where}: {s.streams} stream outputs (at most {MAX_STREAMS})")
        if s.lines > MAX_LINES:
            found.append(f"{where}: {s.lines} lines of output (at most {MAX_LINES})")
        if s.noise:
            found.append(f"{where}: tool noise ({', '.join(s.noise)})")
    return found


def summary(path: str | Path) -> str:
    """One line: stderr outputs, progress frames, longest output, cells breaking a rule."""
    stats = notebook_stats(path)
    longest = max(stats, key=lambda s: s.lines, default=None)
    longest_text = f"{longest.lines} lines (#{longest.index})" if longest else "-"
    name = f"{Path(path).parent.name}/{Path(path).name}"
    return (
        f"{name}: {sum(s.stderr for s in stats)} stderr outputs, "
        f"{sum(s.frames for s in stats)} progress frames, longest output {longest_text}, "
        f"{len(problems(stats))} problem(s)"
    )


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    bad = 0
    for path in paths:
        print(summary(path))
        for message in problems(notebook_stats(path)):
            print(f"  {message}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
