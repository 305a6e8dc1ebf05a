"""One source of truth: notebook cells that teach package code must match it.

A code cell whose first line is the marker::

    #| same-as: course_utils.attention

declares that every top-level ``def`` and ``class`` in the cell is a copy of the
definition of the same name in that module. ``check_notebook`` parses both and
compares their syntax trees (``ast.dump`` without line numbers), so a comment
or a blank line may differ but no code may. Cells may also hold other
statements (a demo call, a print); only definitions are compared.

After the package changes, ``python -m course_utils.tools.notebook_sync --fix NB...``
copies the package's definitions into the marked cells. Their outputs are kept:
re-run the notebook afterwards if the change alters what a cell prints.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MARKER = re.compile(r"^#\|\s*same-as:\s*(course_utils(?:\.\w+)+)\s*$")


@dataclass(frozen=True)
class SyncedDefinition:
    notebook: str
    cell_index: int
    module: str
    name: str
    same: bool
    reason: str = ""


def _cell_source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _strip_magics(source: str) -> str:
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def _dump(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=True, include_attributes=False)


def marked_cells(nb_path: str | Path) -> list[tuple[int, str, str]]:
    """(cell index, module, source) of each code cell carrying the marker."""
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = _cell_source(cell)
        first = src.splitlines()[0] if src else ""
        m = MARKER.match(first.strip())
        if m:
            out.append((i, m.group(1), src))
    return out


def check_notebook(nb_path: str | Path) -> list[SyncedDefinition]:
    """Compare every definition in marked cells with the package's version."""
    results: list[SyncedDefinition] = []
    for index, module_name, src in marked_cells(nb_path):

        def add(name: str, same: bool, reason: str = "") -> None:
            results.append(SyncedDefinition(str(nb_path), index, module_name, name, same, reason))  # noqa: B023

        tree = ast.parse(_strip_magics(src))
        defs = [n for n in tree.body if isinstance(n, _DEFINITIONS)]
        if not defs:
            add("<none>", False, "marked cell defines no function or class")
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            add("<module>", False, str(exc))
            continue
        pkg_defs = {
            n.name: n
            for n in ast.parse(inspect.getsource(module)).body
            if isinstance(n, _DEFINITIONS)
        }
        for node in defs:
            ref = pkg_defs.get(node.name)
            if ref is None:
                add(node.name, False, f"{module_name} has no top-level {node.name}")
            elif _dump(node) != _dump(ref):
                add(node.name, False, "the notebook's definition differs from the package's")
            else:
                add(node.name, True)
    return results


def fix_notebook(nb_path: str | Path) -> list[str]:
    """Replace each drifted definition in marked cells by the package's source; return names."""
    path = Path(nb_path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    fixed: list[str] = []
    for index, module_name, src in marked_cells(path):
        module = importlib.import_module(module_name)
        module_src = inspect.getsource(module)
        pkg = {n.name: n for n in ast.parse(module_src).body if isinstance(n, _DEFINITIONS)}
        lines = src.splitlines()
        tree = ast.parse(_strip_magics(src))
        # replace from the bottom up so that earlier line numbers stay valid
        for node in sorted(tree.body, key=lambda n: n.lineno, reverse=True):
            ref = pkg.get(getattr(node, "name", ""))
            if not isinstance(node, _DEFINITIONS) or ref is None or _dump(node) == _dump(ref):
                continue
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            ref_start = min([ref.lineno] + [d.lineno for d in ref.decorator_list]) - 1
            new = module_src.splitlines()[ref_start : ref.end_lineno]
            lines[start : node.end_lineno] = new
            fixed.append(f"{path}: cell {index}: {node.name}")
        cell = nb["cells"][index]
        new_src = "\n".join(lines)
        if new_src != src:
            cell["source"] = new_src.splitlines(keepends=True)
    if fixed:
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
    return fixed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    fix = "--fix" in args
    paths = [a for a in args if a != "--fix"]
    bad = 0
    for p in paths:
        if fix:
            for line in fix_notebook(p):
                print("fixed", line)
        for r in check_notebook(p):
            if not r.same:
                bad += 1
                print(f"{r.notebook}: cell {r.cell_index}: {r.module}.{r.name}: {r.reason}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
