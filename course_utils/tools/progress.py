"""Progress bars that keep notebook outputs deterministic.

The bar is plain-text tqdm written to stderr: the notebook tests do not
compare stderr, and no widget (with a random model id) enters the saved
notebook. Set ``COURSE_NO_PROGRESS=1`` to hide the bars.
"""

from __future__ import annotations

import os
import sys

from tqdm.std import tqdm as _tqdm


def progress(iterable=None, desc: str | None = None, total: int | None = None, **kwargs):
    """``tqdm`` on stderr with settings suited to notebooks and CI logs."""
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("dynamic_ncols", False)
    kwargs.setdefault("ncols", 90)
    kwargs.setdefault("disable", bool(os.environ.get("COURSE_NO_PROGRESS")))
    return _tqdm(iterable, desc=desc, total=total, **kwargs)
