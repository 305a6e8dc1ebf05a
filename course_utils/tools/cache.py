"""Content-keyed cache for expensive preprocessing.

Results are pickled under a git-ignored folder (``.cache/`` in the course
checkout, or ``$COURSE_CACHE_DIR``). The key is a hash of the inputs that
determine the result (for example the source file's bytes and the parameters),
so a changed input can never return a stale result. Each use is announced on
stderr while the course runs live (``progress.status``), by name only: no path
or key of this machine enters a saved notebook, and outputs stay the same with
and without a cache.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .progress import status

T = TypeVar("T")
_VERSION = b"course-cache-v1"


def cache_dir() -> Path:
    env = os.environ.get("COURSE_CACHE_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]  # course_utils/tools/cache.py -> the repository
    if (repo / "pyproject.toml").exists():
        return repo / ".cache"
    return Path.home() / ".cache" / "llm-course"


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def content_key(*parts: Any) -> str:
    """A short stable hash of ``parts`` (strings, numbers, tuples, file digests)."""
    h = hashlib.sha256(_VERSION)
    for p in parts:
        h.update(repr(p).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def cached(name: str, key: str, build: Callable[[], T], enabled: bool = True) -> T:
    """Return ``build()``, memoised on disk as ``<cache_dir>/<name>-<key>.pkl``."""
    if not enabled or os.environ.get("COURSE_NO_CACHE"):
        return build()
    path = cache_dir() / f"{name}-{key}.pkl"
    if path.exists():
        try:
            with open(path, "rb") as f:
                value = pickle.load(f)
            status(f"[cache] reusing the saved {name} (COURSE_NO_CACHE=1 recomputes it)")
            return value
        except Exception as exc:  # a truncated or foreign file: rebuild it
            status(f"[cache] the saved {name} is unreadable ({type(exc).__name__}): rebuilding it")
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        status(f"[cache] saved {name} for the next run")
    except OSError as exc:  # read-only checkout: still return the value
        status(f"[cache] could not save {name} ({exc.strerror or type(exc).__name__})")
    return value
