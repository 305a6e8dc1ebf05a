"""Device choice and reproducibility: the first lines of every notebook."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: cuda, then mps, then cpu.

    ``prefer`` forces one ("cpu", "cuda", "mps"); asking for one that is not
    available is an error rather than a silent fallback.
    """
    if prefer is not None:
        return torch.device(_checked_device_name(prefer))  # an error if it is not available
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _checked_device_name(prefer) -> str:
    """``prefer`` in lower case, if it names a device this machine has; else an error."""
    if not isinstance(prefer, str):
        raise TypeError(
            f"prefer must be a string such as 'cpu' or 'cuda', got {type(prefer).__name__}"
        )
    name = prefer.lower()
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"prefer must be one of 'cpu', 'cuda', 'mps', got {prefer!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("prefer='cuda' but torch.cuda.is_available() is False on this machine")
    if name == "mps" and not _mps_available():
        raise ValueError("prefer='mps' but the Apple MPS backend is not available on this machine")
    return name


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def set_seed(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python, numpy and torch (all devices); return the seed.

    With ``deterministic=True`` also ask cuDNN and torch for deterministic
    kernels where they exist (``warn_only`` so that ops without one still run).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global RNG that libraries use
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        enable_determinism()
    return seed


def enable_determinism() -> None:
    """Deterministic settings where they matter (cuDNN, cuBLAS, torch ops)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
