"""Progress bars that are live for a learner and leave one clean line in a saved notebook.

The bar is plain-text tqdm written to stderr: the notebook tests do not compare stderr, and no
widget (with a random model id) enters the saved notebook. ``COURSE_PROGRESS`` picks the mode:

- ``live`` (the default): a bar that redraws in place, for a learner running the notebook;
- ``summary``: nothing while the work runs, then one line when it ends, e.g.
  ``training: 3000/3000 it in 01:35 (31.6 it/s)``. ``make execute`` sets this mode, so a
  committed notebook holds no carriage-return frames;
- ``off``: no bars (``COURSE_NO_PROGRESS=1`` means the same; the notebook tests set it).

``status()`` prints a one-line notice (for example "reusing a cached corpus") in the live mode
only: such notices describe this machine, not the lesson, so they stay out of saved notebooks.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm.std import tqdm as _tqdm

MODES = ("live", "summary", "off")


def progress_mode() -> str:
    """The mode from ``COURSE_PROGRESS`` (``live``, ``summary`` or ``off``)."""
    if os.environ.get("COURSE_NO_PROGRESS"):
        return "off"
    mode = os.environ.get("COURSE_PROGRESS", "live").strip().lower() or "live"
    if mode not in MODES:
        raise ValueError(f"COURSE_PROGRESS must be one of {MODES}, got {mode!r}")
    return mode


class _Discard:
    """A file that drops what is written: the summary bar draws its frames here."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class SummaryBar(_tqdm):
    """A tqdm that draws nothing while it runs and writes one line when it is closed.

    A bar created with ``leave=False`` is transient by request and writes nothing at all.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._summary_file = kwargs.get("file") or sys.stderr
        self._summary_leave = kwargs.get("leave", True) is not False
        kwargs["file"] = _Discard()
        kwargs["mininterval"] = float("inf")  # never redraw: nobody sees the frames
        super().__init__(*args, **kwargs)

    def summary(self) -> str:
        """``desc: n/total unit in elapsed (rate unit/s), postfix``."""
        seconds = max(self._time() - self.start_t, 1e-9)
        total = f"/{self.total:g}" if self.total else ""
        rate = self.n / seconds
        head = f"{self.desc}: " if self.desc else ""
        tail = f", {self.postfix}" if self.postfix else ""
        elapsed = self.format_interval(seconds)
        return f"{head}{self.n:g}{total} {self.unit} in {elapsed} ({rate:.3g} {self.unit}/s){tail}"

    def close(self) -> None:
        was_open = not getattr(self, "disable", True)
        super().close()
        if was_open and self._summary_leave:
            sys.stdout.flush()  # the work's own log lines first, then its summary
            print(self.summary(), file=self._summary_file, flush=True)


def progress(iterable=None, desc: str | None = None, total: int | None = None, **kwargs):
    """``tqdm`` on stderr with settings suited to notebooks and CI logs (see the module doc)."""
    mode = progress_mode()
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("dynamic_ncols", False)
    kwargs.setdefault("ncols", 90)
    kwargs.setdefault("disable", mode == "off")
    bar_class = SummaryBar if mode == "summary" else _tqdm
    return bar_class(iterable, desc=desc, total=total, **kwargs)


def status(message: str) -> None:
    """Print a one-line notice on stderr when the bars are live (see the module doc)."""
    if progress_mode() == "live":
        print(message, file=sys.stderr, flush=True)
