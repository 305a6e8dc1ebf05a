"""How long each notebook takes, read from the cell timings that the executor saves.

    python -m course_utils.tools.timing [NOTEBOOK ...] [--out FILE]

nbclient writes each code cell's start and end times into the cell's metadata
(``execution``: ``iopub.execute_input`` .. ``shell.execute_reply``). A notebook's
time is the sum over its code cells; kernel start-up is not counted. ``make execute``
prints the table and writes it to ``.cache/timing.md``; tests/test_notebook_timing.py
holds the committed timings to the limits below (default profile, 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_LIMIT_S = 300  # each chapter notebook
LONG_NOTEBOOK_LIMIT_S = 360  # the two long ones: the GPT comparison (07b_) and chapter 09
LONG_PREFIXES = ("07b_", "09_")
TOTAL_LIMIT_S = 1800  # all chapter notebooks together, solutions not counted
START, END = "iopub.execute_input", "shell.execute_reply"


@dataclass(frozen=True)
class NotebookTiming:
    """One notebook's time: the sum of its cells and its slowest cell."""

    path: Path
    seconds: float
    slowest_index: int | None  # index among all cells (as scripts/nbcell.py counts)
    slowest_seconds: float
    slowest_source: str  # first line of the slowest cell
    untimed_cells: int  # executed code cells with no recorded timing

    @property
    def name(self) -> str:
        try:
            return str(self.path.resolve().relative_to(ROOT))
        except ValueError:
            return self.path.name


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def cell_seconds(cell: dict) -> float | None:
    """Seconds that a code cell ran, from its saved metadata; None when not recorded."""
    execution = cell.get("metadata", {}).get("execution", {})
    if START not in execution or END not in execution:
        return None
    start = datetime.fromisoformat(execution[START].replace("Z", "+00:00"))
    end = datetime.fromisoformat(execution[END].replace("Z", "+00:00"))
    return max((end - start).total_seconds(), 0.0)


def notebook_timing(path: str | Path) -> NotebookTiming:
    """Sum the recorded cell times of one saved notebook."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    total, slowest, slowest_s, untimed = 0.0, None, 0.0, 0
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code" or not _source(cell).strip():
            continue
        secs = cell_seconds(cell)
        if secs is None:
            untimed += 1
            continue
        total += secs
        if secs > slowest_s:
            slowest, slowest_s = i, secs
    first_line = ""
    if slowest is not None:
        first_line = next(
            (ln for ln in _source(nb["cells"][slowest]).splitlines() if ln.strip()), ""
        )
    return NotebookTiming(path, total, slowest, slowest_s, first_line.strip(), untimed)


def edition_stem(path: Path) -> str:
    """``07b_gpt_compare`` for ``07b_gpt_compare.ipynb`` and ``07b_gpt_compare.zh.ipynb``."""
    return path.name.split(".")[0]


def is_chapter_notebook(path: Path) -> bool:
    """A notebook in notebooks/ (solutions and other folders have no run-time limit)."""
    return path.parent.name == "notebooks"


def limit_seconds(path: Path) -> int | None:
    """The time limit of one notebook in the default profile, or None when it has none."""
    if not is_chapter_notebook(path):
        return None
    long = edition_stem(path).startswith(LONG_PREFIXES)
    return LONG_NOTEBOOK_LIMIT_S if long else NOTEBOOK_LIMIT_S


def counts_in_total(path: Path) -> bool:
    """The total counts each chapter once: its English edition, not its translation."""
    return is_chapter_notebook(path) and ".zh." not in path.name


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def timing_table(timings: list[NotebookTiming]) -> str:
    """A Markdown table: notebook, seconds, limit, slowest cell; then the chapters' total."""
    rows = [
        "| notebook | seconds | limit | slowest cell |",
        "| --- | ---: | ---: | --- |",
    ]
    for t in timings:
        limit = limit_seconds(t.path)
        flag = " **over**" if limit is not None and t.seconds > limit else ""
        if t.slowest_index is None:
            slow = "no recorded timings"
        else:
            src = t.slowest_source.replace("|", "\\|").replace("`", "'")[:48]
            slow = f"#{t.slowest_index} {t.slowest_seconds:.1f} s `{src}`"
        if t.untimed_cells:
            slow += f" ({t.untimed_cells} cell(s) untimed)"
        limit_text = str(limit) if limit is not None else "-"
        rows.append(f"| {t.name} | {t.seconds:.1f}{flag} | {limit_text} | {slow} |")
    chapters = sum(t.seconds for t in timings if counts_in_total(t.path))
    flag = " **over**" if chapters > TOTAL_LIMIT_S else ""
    rows.append(
        f"| all chapter notebooks | {chapters:.1f}{flag} ({_mmss(chapters)}) | {TOTAL_LIMIT_S} | |"
    )
    return "\n".join(rows) + "\n"


def write_report(paths: list[Path], out: str | Path | None) -> str:
    """Print the table of ``paths`` and write it to ``out`` (when given); return it."""
    table = timing_table([notebook_timing(p) for p in paths])
    print(table, end="", flush=True)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table, encoding="utf-8")
        print(f"timing table written to {out}", flush=True)
    return table


def default_notebooks() -> list[Path]:
    folders = (ROOT / "notebooks", ROOT / "solutions")
    return [p for folder in folders for p in sorted(folder.glob("*.ipynb"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", help="saved notebooks (default: all)")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or default_notebooks()
    write_report(paths, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
