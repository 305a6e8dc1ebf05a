"""Run profiles: one set of sizes per notebook, chosen in one place.

``quick``   CI: seconds per notebook, still showing each effect.
``default`` a CPU laptop: at most a few minutes per notebook.
``gpu``     chosen automatically when CUDA is present.

``COURSE_PROFILE`` overrides the automatic choice. A notebook declares its
sizes once, e.g.::

    @dataclass(frozen=True)
    class Sizes:
        epochs: int
        width: int

    SIZES = by_profile(quick=Sizes(1, 16), default=Sizes(5, 64), gpu=Sizes(20, 256))

Smoke mode (``COURSE_SMOKE=1``, used with ``COURSE_PROFILE=gpu`` by ``make
test-smoke``) runs a notebook with the chosen profile's *shapes* but a token
*run length*, to find the bugs that only the large shapes trigger without
training anything. In a ``Sizes`` dataclass, every field whose name says how
long the notebook runs or how much data it reads (``steps``, ``epochs``,
``lines``, ``n_train``, ``repeat``, ``eval_chars``, ...) or what a trained model must reach
(``min_*``, ``must_*``) takes its quick value, and then step and epoch counts
are cut to ``SMOKE_MAX_STEPS``, timing repeats to 1, held-out sets
(``n_valid``, ``n_eval``, ``n_pos``, ``n_test``) to ``SMOKE_MAX_EVAL`` and held-out text
(``*_chars``) to ``SMOKE_MAX_EVAL_CHARS`` characters. A sweep of sequence lengths timed for a
plot (``*_lengths``) is run length too: its code is the same at every length. Batch sizes
(``batch``, ``batch_size``, ``*_batch``, ``*_batch_size``) keep the profile's value but at most
``SMOKE_MAX_BATCH`` rows: the rows of a batch are independent, so more of them add time, not a
new shape. All other fields (widths, depths, sequence sizes, vocabularies) keep the profile's
value. A dataclass may name its run-length fields itself with
``SMOKE_FIELDS: ClassVar[tuple]``. A value that is not a dataclass takes its
quick value. Trained models are not expected to reach their asserted figures
in so few steps (``make test-smoke`` reports those assertions, not fails them).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import TypeVar

import torch

PROFILES = ("quick", "default", "gpu")
ENV_VAR = "COURSE_PROFILE"
SMOKE_VAR = "COURSE_SMOKE"
# Field names that set run length or data size, or a threshold tied to them.
RUN_LENGTH_FIELD = re.compile(
    r"(^|_)(steps?|epochs?|lines|sentences|batches|repeat|trials|draws|budget|per_len|"
    r"new_tokens|lr|chars|lengths)$"
    r"|^n_(train|valid|eval|pos|test)$|^max_chain_len$|(^|_)min_|^must_"
)
SMOKE_MAX_STEPS = 2  # optimisation steps (or epochs) a smoke run takes at most
SMOKE_MAX_EVAL = 64  # held-out examples a smoke run evaluates at most
SMOKE_MAX_EVAL_CHARS = 4096  # held-out characters (``eval_chars``) a smoke run scores at most
SMOKE_MAX_BATCH = 4  # rows per batch a smoke run keeps at most (the profile's value if smaller)
BATCH_FIELD = re.compile(r"(^|_)batch(_size)?$")
# (field pattern, the largest value smoke mode keeps), applied after the quick value
SMOKE_CAPS = (
    (re.compile(r"(^|_)(steps?|epochs?)$"), SMOKE_MAX_STEPS),
    (re.compile(r"(^|_)repeat$"), 1),
    (re.compile(r"^n_(valid|eval|pos|test)$"), SMOKE_MAX_EVAL),
    (re.compile(r"(^|_)chars$"), SMOKE_MAX_EVAL_CHARS),
)

T = TypeVar("T")


def get_profile() -> str:
    """The active profile: ``$COURSE_PROFILE`` if set, else gpu with CUDA, else default."""
    name = os.environ.get(ENV_VAR, "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"{ENV_VAR}={os.environ[ENV_VAR]!r} is not a profile; expected one of {PROFILES}"
            )
        return name
    return "gpu" if torch.cuda.is_available() else "default"


def smoke_mode() -> bool:
    """True when ``$COURSE_SMOKE`` is 1/true/yes: the profile's shapes, a token run length."""
    value = os.environ.get(SMOKE_VAR, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{SMOKE_VAR}={os.environ[SMOKE_VAR]!r}: expected 1 or 0")


def smoke_fields(sizes) -> tuple[str, ...]:
    """The fields of a sizes dataclass that smoke mode takes from the quick profile."""
    declared = getattr(type(sizes), "SMOKE_FIELDS", None)
    names = [f.name for f in dataclasses.fields(sizes)]
    if declared is not None:
        unknown = sorted(set(declared) - set(names))
        if unknown:
            raise ValueError(
                f"{type(sizes).__name__}.SMOKE_FIELDS names {unknown}, which are "
                f"not fields; fields are {names}"
            )
        return tuple(declared)
    return tuple(n for n in names if RUN_LENGTH_FIELD.search(n))


def smoke_sizes(full: T, quick: T) -> T:
    """``full``'s shapes with a token run length (see the module docstring)."""
    if not (dataclasses.is_dataclass(full) and not isinstance(full, type)):
        return quick
    if type(quick) is not type(full):
        raise TypeError(
            f"quick and the profile's sizes must be the same dataclass, got "
            f"{type(quick).__name__} and {type(full).__name__}"
        )
    values = {}
    for name in smoke_fields(full):
        value = getattr(quick, name)
        for pattern, cap in SMOKE_CAPS:
            if pattern.search(name) and isinstance(value, int) and not isinstance(value, bool):
                value = min(value, cap)
        values[name] = value
    for f in dataclasses.fields(full):
        value = values.get(f.name, getattr(full, f.name))
        if BATCH_FIELD.search(f.name) and isinstance(value, int) and not isinstance(value, bool):
            values[f.name] = min(value, SMOKE_MAX_BATCH)
    return dataclasses.replace(full, **values)


def by_profile(*, quick: T, default: T, gpu: T | None = None, profile: str | None = None) -> T:
    """Return the value for the active (or given) profile; ``gpu`` falls back to ``default``.

    In smoke mode (``$COURSE_SMOKE=1``) the default and gpu values are capped by
    ``smoke_sizes``.
    """
    name = get_profile() if profile is None else profile
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {name!r}")
    if name == "quick":
        return quick
    value = gpu if name == "gpu" and gpu is not None else default
    return smoke_sizes(value, quick) if smoke_mode() else value
