"""Install what the course needs into this Python, and only what is missing.

    python scripts/install.py          # PyTorch, requirements.txt, course_utils, a CJK font
    python scripts/install.py --test   # ... and the test tools of requirements-dev.txt
    python scripts/install.py --check  # only say what is missing (exit 1 if anything is)
    python scripts/install.py --only requirements-book.txt   # one other requirements file

``make install``, ``make lab`` and the test targets call it. It prints one line per step.
pip runs only when a requirement is missing or outside its range, and its own messages go
to .cache/install/pip.log (shown when pip fails). The check reads package metadata and
imports nothing, so it takes a fraction of a second: ``make test`` does not pip-install on
every run, and a fresh clone still gets everything.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from importlib import metadata, util
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # pip always carries a copy
    from pip._vendor.packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / ".cache" / "install" / "pip.log"


def step(label: str, text: str = "", end: str = "\n") -> None:
    print(f"  {label + ' ':.<24} {text}", end=end, flush=True)


def requirements(file: str) -> list[Requirement]:
    lines = (ROOT / file).read_text(encoding="utf-8").splitlines()
    code = (line.split("#")[0].strip() for line in lines)
    return [Requirement(c) for c in code if c and not c.startswith("-")]


def unmet(reqs: list[Requirement]) -> list[str]:
    """The requirements that are missing, or installed in a version outside their range."""
    found = []
    for r in reqs:
        if r.marker is not None and not r.marker.evaluate():
            continue
        try:
            version = metadata.version(r.name)
        except metadata.PackageNotFoundError:
            found.append(f"{r.name} (missing)")
            continue
        if r.specifier and not r.specifier.contains(version, prereleases=True):
            found.append(f"{r.name} {version} (needs {r.specifier})")
    return found


def course_package_here() -> bool:
    """course_utils is installed and imports from this checkout (nothing is imported)."""
    spec = util.find_spec("course_utils")  # sys.path[0] is scripts/, not the checkout
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    return origin is not None and ROOT in origin.parents


def pip_install(what: str, *args: str) -> None:
    """``pip install ARGS`` with its messages in the log; stop with the log's tail if it fails."""
    LOG.parent.mkdir(parents=True, exist_ok=True)
    step(what, f"installing (pip's messages: {LOG.relative_to(ROOT)}) ...", end="")
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        done = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(" failed", flush=True)
        print("".join(LOG.read_text(encoding="utf-8").splitlines(keepends=True)[-25:]))
        sys.exit(f"pip failed (exit {done.returncode}); the whole log is {LOG}")
    print(f" done in {time.perf_counter() - t0:.0f} s", flush=True)


def install_torch() -> None:
    torch = next(r for r in requirements("requirements.txt") if r.name == "torch")
    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        step("PyTorch", "not found: PyPI's build comes next (a large download)")
        if CHECK_ONLY:
            sys.exit(1)
        pip_install("PyTorch", str(torch))
        return
    kept = (
        "kept as it is"
        if torch.specifier.contains(version, prereleases=True)
        else (f"outside {torch.specifier}: the requirements step replaces it")
    )
    step("PyTorch", f"{version} ({kept})")


CHECK_ONLY = False  # --check: report, install nothing


def install_requirements(file: str, label: str, editable: bool) -> None:
    reqs = requirements(file)
    missing = unmet(reqs)
    if editable and not course_package_here():
        missing.append("course_utils (not installed from this checkout)")
    if not missing:
        step(label, f"all {len(reqs)} of {file} installed")
        return
    shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
    step(label, f"to install: {shown}")
    if CHECK_ONLY:
        sys.exit(1)
    pip_install(label, "-r", file, *(["-e", "."] if editable else []))
    still = unmet(reqs)
    if still:
        sys.exit(f"still missing after pip: {', '.join(still)} (see {LOG})")


def ensure_font() -> None:
    step("CJK font", end="")
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure_cjk_font.sh")], cwd=ROOT, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", action="store_true", help="also the test tools")
    parser.add_argument("--test-only", action="store_true", help="only the test tools")
    parser.add_argument("--check", action="store_true", help="say what is missing; install nothing")
    parser.add_argument("--only", metavar="FILE", help="only this requirements file")
    args = parser.parse_args(argv)
    global CHECK_ONLY
    CHECK_ONLY = args.check
    print(f"Checking this Python ({sys.executable}):", flush=True)
    if args.only:
        install_requirements(args.only, Path(args.only).stem, editable=False)
        return 0
    if not args.test_only:
        install_torch()
        install_requirements("requirements.txt", "course requirements", editable=True)
        if not args.check:
            ensure_font()
    if args.test or args.test_only:
        install_requirements("requirements-dev.txt", "test tools", editable=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
