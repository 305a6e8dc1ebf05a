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
"""

from __future__ import annotations

import os
from typing import TypeVar

import torch

PROFILES = ("quick", "default", "gpu")
ENV_VAR = "COURSE_PROFILE"

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


def by_profile(*, quick: T, default: T, gpu: T | None = None, profile: str | None = None) -> T:
    """Return the value for the active (or given) profile; ``gpu`` falls back to ``default``."""
    name = get_profile() if profile is None else profile
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {name!r}")
    if name == "quick":
        return quick
    if name == "gpu" and gpu is not None:
        return gpu
    return default
