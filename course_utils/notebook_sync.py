"""One source of truth: notebook cells that teach package code must match it.

A code cell whose first line is the marker::

    #| same-as: course_utils.attention

declares that every top-level ``def`` and ``class`` in the cell is a copy of the
definition of the same name in that module. ``check_notebook`` parses both and
compares their syntax trees (``ast.dump`` without line numbers), so a comment
or a blank line may differ but no code may. Cells may also hold other
statements (a demo call, a print); only definitions are compared.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
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
        pkg_defs = {n.name: n for n in ast.parse(inspect.getsource(module)).body
                    if isinstance(n, _DEFINITIONS)}
        for node in defs:
            ref = pkg_defs.get(node.name)
            if ref is None:
                add(node.name, False, f"{module_name} has no top-level {node.name}")
            elif _dump(node) != _dump(ref):
                add(node.name, False, "the notebook's definition differs from the package's")
            else:
                add(node.name, True)
    return results
