"""scripts/mutation.py (make mutation): what it mutates, what it runs, how it sorts mutants.

mutmut itself is not run here (minutes per module); these check the configuration it is given.
"""

import importlib.util
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mutation", ROOT / "scripts" / "mutation.py")
mutation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutation)

SOURCE = """
def f(x, n):
    if n <= 0:
        raise ValueError(
            f"n must be positive, "
            f"got {n}"
        )
    positive_int("n", n)
    assert x is not None
    return x * n + 1
"""


def test_every_taught_module_has_its_unit_tests_and_no_notebook_test():
    for module, tests in mutation.MODULE_TESTS.items():
        assert (ROOT / "course_utils" / f"{module}.py").is_file(), module
        for t in tests:
            assert (ROOT / "tests" / t).is_file(), t
            assert not re.search(r"notebook|nbval|translations|execute", t), t


def test_config_mutates_one_module_with_its_tests_and_data():
    source = (ROOT / "course_utils" / "norms.py").read_text(encoding="utf-8")
    cfg = tomllib.loads(mutation.mutmut_config("norms", source))["tool"]["mutmut"]
    assert cfg["only_mutate"] == ["course_utils/norms.py"]
    assert cfg["pytest_add_cli_args_test_selection"] == ["tests/test_norms.py"]
    assert "data" in cfg["also_copy"] and "conftest.py" in cfg["also_copy"]
    args = " ".join(cfg["pytest_add_cli_args"])
    for name in ("test_notebook_*", "test_nbval_harness", "test_translations", "test_execute"):
        assert name in args


def test_lines_not_mutated_and_guards():
    skip, guards = mutation.check_lines(SOURCE)
    lines = SOURCE.splitlines()
    assert {lines[i - 1].strip() for i in skip} >= {
        "raise ValueError(",
        'f"n must be positive, "',
        'positive_int("n", n)',
        "assert x is not None",
    }
    assert "return x * n + 1" not in {lines[i - 1].strip() for i in skip}
    assert {lines[i - 1].strip() for i in guards} == {"if n <= 0:"}
    cfg = tomllib.loads(mutation.mutmut_config("norms", SOURCE))["tool"]["mutmut"]
    patterns = [re.compile(p) for p in cfg["do_not_mutate_patterns"]]
    skipped = {line.strip() for line in lines if any(p.search(line) for p in patterns)}
    assert 'f"got {n}"' in skipped  # a message line
    assert "return x * n + 1" not in skipped and "if n <= 0:" not in skipped


def test_classify():
    def diff(old, new):
        return f"--- a\n+++ b\n@@ -1 +1 @@\n-{old}\n+{new}"

    guards = {"if n <= 0:"}
    assert mutation.classify(diff('x = f("a")', 'x = f("XXaXX")'), guards) == "message"
    assert mutation.classify(diff("if n <= 0:", "if n < 0:"), guards) == "input-check"
    assert mutation.classify(diff("return x * n + 1", "return x * n - 1"), guards) == "formula"
    assert mutation.classify(diff('y = x.sum("i")', "y = x.sum(None)"), guards) == "formula"


def test_classify_labels_of_output_as_messages():
    """A CLI's help text or a progress bar's label, changed, set to None or dropped: message."""

    def diff(old, new):
        return (
            "--- a\n+++ b\n@@ -1 +1 @@\n"
            + "".join(f"-{x}\n" for x in old)
            + "".join(f"+{x}\n" for x in new)
        )

    assert (
        mutation.classify(diff(['p.add("--x", help="a")'], ['p.add("--x", help=None)']), set())
        == "message"
    )
    assert mutation.classify(diff(['    metavar="PATH",'], []), set()) == "message"
    assert mutation.classify(diff(['    help="after",', "    )"], ["    )"]), set()) == "message"
    assert mutation.classify(diff(["x = f(a, dim=-1)"], ["x = f(a, )"]), set()) == "formula"
    assert mutation.classify(diff(["    min_count=min_count,"], []), set()) == "formula"
    assert mutation.classify(diff(['    helper="x",'], []), set()) == "formula"


def test_survivors_rerun_selection():
    found = {
        f"{status}/{category}": {"status": status, "category": category}
        for status in ("killed", "timeout", "survived", "no tests", "not checked")
        for category in ("formula", "input-check", "message")
    }
    assert sorted(mutation.to_rerun(found)) == sorted(
        [
            *(
                f"{s}/{c}"
                for s in ("timeout", "survived", "no tests")
                for c in ("formula", "input-check")
            ),
            "not checked/formula",
            "not checked/input-check",
            "not checked/message",
        ]
    )
