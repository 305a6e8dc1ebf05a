"""Shared code of the course "AI 大模型开发基础" (foundations of large language models).

Each concept has its own module; the README lists them. The most used names
are re-exported here.
"""

__version__ = "0.1.0"  # the one place: pyproject.toml reads it (setuptools dynamic version)

from .tools.device import enable_determinism, get_device, set_seed
from .tools.profiles import by_profile, get_profile
from .tools.progress import progress
from .vocab import Vocab

__all__ = [
    "Vocab",
    "by_profile",
    "enable_determinism",
    "get_device",
    "get_profile",
    "progress",
    "set_seed",
]
