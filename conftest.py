"""pytest configuration shared by the unit tests and the notebook tests (nbval)."""

import os

# Notebook tests run headless and in the quick profile unless told otherwise.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")
# One torch/BLAS thread per test process: the tests' models are small, and on a 2-core machine two
# threads that compete with the notebook kernel make timings erratic (10x slower under load).
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collectstart(collector):
    """Do not compare stderr (progress bars, warnings, cache notices) in notebooks.

    Guarded: only nbval's notebook collectors carry ``skip_compare``, so every
    other collector (and other plugins) is left alone.
    """
    path = getattr(collector, "path", None)
    if path is not None and str(path).endswith(".ipynb") and hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)


def pytest_ignore_collect(collection_path, config):
    """nbval runs only the English notebooks: the Chinese edition (``*.zh.ipynb``) is generated
    from them, and tests/test_translations.py proves its code cells and outputs identical.
    (The hygiene tests read the ``.zh`` notebooks themselves.)
    """
    if collection_path.name.endswith(".zh.ipynb"):
        return True
    return None
