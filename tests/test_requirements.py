"""requirements.txt must accept a GPU image's PyTorch and never force a build variant; the
version is written in one place."""

import ast
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _reqs(name):
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [
        Requirement(x.split("#")[0])
        for x in lines
        if x.split("#")[0].strip() and not x.startswith("-")
    ]


def test_torch_range_accepts_autodl_and_current_torch():
    torch_req = next(r for r in _reqs("requirements.txt") if r.name == "torch")
    for v in ("2.1.0", "2.1.2", "2.13.0"):
        assert torch_req.specifier.contains(Version(v)), v
    assert not torch_req.specifier.contains(Version("3.0.0"))
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        code = line.split("#")[0]
        assert "+cpu" not in code and "+cu" not in code and "index-url" not in code, line


# Tools whose findings change from version to version: pinned so that every machine agrees.
PINNED_TOOLS = {"ruff", "mypy", "mutmut"}


def test_runtime_requirements_are_ranges_not_pins():
    for r in _reqs("requirements.txt") + _reqs("requirements-dev.txt"):
        assert r.specifier, f"{r.name} has no version range"
        if r.name in PINNED_TOOLS:
            assert str(r.specifier).startswith("=="), (
                f"{r} should be pinned (see requirements-dev.txt)"
            )
        else:
            assert "==" not in str(r.specifier), f"{r} is pinned"


def test_version_is_written_once():
    """pyproject.toml reads the version from course_utils.__version__ and writes none itself."""
    from setuptools.config.pyprojecttoml import read_configuration

    project = read_configuration(ROOT / "pyproject.toml", expand=False)
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    setting = project["tool"]["setuptools"]["dynamic"]["version"]
    assert setting == {"attr": "course_utils.__version__"}
    init = ast.parse((ROOT / "course_utils" / "__init__.py").read_text(encoding="utf-8"))
    versions = [
        n.value.value
        for n in init.body
        if isinstance(n, ast.Assign)
        and [getattr(t, "id", None) for t in n.targets] == ["__version__"]
    ]
    assert len(versions) == 1 and isinstance(versions[0], str), versions
    import course_utils

    assert course_utils.__version__ == versions[0]


def test_setuptools_resolves_the_version():
    from setuptools.config.pyprojecttoml import read_configuration

    config = read_configuration(ROOT / "pyproject.toml", expand=True)
    import course_utils

    assert config["project"]["version"] == course_utils.__version__


def test_test_tools_are_kept_apart():
    runtime = {r.name for r in _reqs("requirements.txt")}
    for tool in (
        "pytest",
        "nbval",
        "ruff",
        "mypy",
        "pre-commit",
        "mutmut",
        "transformers",
        "sentence-transformers",
        "cn2an",
    ):
        assert tool not in runtime
