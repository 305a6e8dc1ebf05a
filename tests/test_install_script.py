"""scripts/install.py: pip runs only for what is missing or outside its range."""

import importlib.util
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("install_script", ROOT / "scripts" / "install.py")
install = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(install)


def test_unmet_names_missing_and_out_of_range_requirements():
    reqs = [
        Requirement(r)
        for r in (
            "pytest>=1",  # installed, inside its range
            "pytest<1",  # installed, outside
            "no-such-package-for-the-course>=1",  # missing
            "pytest<1; python_version < '3'",  # not for this Python
        )
    ]
    found = install.unmet(reqs)
    assert len(found) == 2
    assert found[0].startswith("pytest ") and "(needs <1)" in found[0]
    assert found[1] == "no-such-package-for-the-course (missing)"


def test_requirement_files_parse():
    names = {r.name for r in install.requirements("requirements.txt")}
    assert {"torch", "gensim", "tqdm"} <= names
    assert {"pytest", "mypy", "ruff"} <= {
        r.name for r in install.requirements("requirements-dev.txt")
    }


def test_check_finds_the_test_tools_installed():
    """make test installs them first; --check never runs pip."""
    script = str(ROOT / "scripts" / "install.py")
    done = subprocess.run(
        [sys.executable, script, "--check", "--test-only"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test tools" in done.stdout and "installed" in done.stdout
    assert "pip" not in done.stdout
