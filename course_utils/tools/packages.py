"""Required and optional packages: when one is missing, say the one command that installs it.

``require`` stops at import time with that command (gensim: the corpora and word2vec
cannot work without it). ``optional`` lets a notebook carry on without a package: it
prints the command and what is skipped, and returns False, so the cell that needs the
package runs under ``if``::

    if optional("transformers", "transformers", "the comparison with transformers"):
        import transformers
        ...

Both look the package up with ``importlib.util.find_spec``, which does not import it.
"""

from __future__ import annotations

import importlib.util

__all__ = ["installed", "optional", "require"]


def installed(module: str) -> bool:
    """True when ``module`` can be imported (it is looked up, not imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a broken __spec__
        return False


def require(module: str, pip_name: str, needed_by: str) -> None:
    """Raise ModuleNotFoundError naming the install command when ``module`` is missing."""
    if not installed(module):
        raise ModuleNotFoundError(
            f"{needed_by} needs the '{pip_name}' package, which is not installed. "
            f"Fix: pip install {pip_name}   (or: make install, which installs every "
            f"requirement), then restart the kernel",
            name=module,
        )


def optional(module: str, pip_name: str, skipped: str) -> bool:
    """True when ``module`` is installed; else print the command that installs it, and False."""
    if installed(module):
        return True
    print(
        f"'{pip_name}' is not installed, so {skipped} is skipped. "
        f"Fix: pip install {pip_name}   (then restart the kernel)"
    )
    return False
