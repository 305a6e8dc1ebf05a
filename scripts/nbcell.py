"""Read and edit notebook cells by id from the shell (a maintainer's tool, not course code).

    python scripts/nbcell.py list NB              # index, id, type, first line of every cell
    python scripts/nbcell.py show NB [ID ...]     # full sources (all cells when no id is given)
    python scripts/nbcell.py outputs NB ID        # the text outputs of one cell
    python scripts/nbcell.py set NB ID FILE       # replace a cell's source (FILE or - for stdin)
    python scripts/nbcell.py insert NB AFTER_ID markdown|code FILE [--id NEW_ID]
    python scripts/nbcell.py delete NB ID
    python scripts/nbcell.py tag NB ID TAG        # add a cell tag (e.g. nbval-ignore-output)

Edits keep the notebook's JSON layout (one-space indent, as Jupyter writes it), clear
the edited code cell's outputs and execution count, and never touch other cells. Re-run
the notebook afterwards (``make execute NB=...``) so that its outputs are real.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path


def _load(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _save(path: str, nb: dict) -> None:
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _find(nb: dict, cell_id: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if cell.get("id") == cell_id or str(i) == cell_id:
            return i
    raise SystemExit(f"no cell with id (or index) {cell_id!r}")


def _read(file: str) -> str:
    return sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")


def _new_cell(kind: str, text: str, cell_id: str | None) -> dict:
    cell = {
        "cell_type": kind,
        "id": cell_id or secrets.token_hex(4),
        "metadata": {},
        "source": _lines(text.rstrip("\n")),
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, path, *rest = argv
    nb = _load(path)
    cells = nb["cells"]
    if cmd == "list":
        for i, c in enumerate(cells):
            first = (_source(c).splitlines() or [""])[0][:90]
            print(f"{i:3d} {c.get('id', '-'):>12} {c['cell_type'][:4]:4} {first}")
    elif cmd == "show":
        wanted = [_find(nb, r) for r in rest] if rest else range(len(cells))
        for i in wanted:
            c = cells[i]
            tags = c.get("metadata", {}).get("tags", [])
            tag_text = f" tags={tags}" if tags else ""
            print(f"----- [{i}] id={c.get('id')} {c['cell_type']}{tag_text}")
            print(_source(c))
    elif cmd == "outputs":
        c = cells[_find(nb, rest[0])]
        for o in c.get("outputs", []):
            text = o.get("text") or o.get("data", {}).get("text/plain", "")
            print(f"--- {o['output_type']} {o.get('name', '')}")
            print("".join(text) if isinstance(text, list) else text)
    elif cmd == "set":
        i = _find(nb, rest[0])
        cells[i]["source"] = _lines(_read(rest[1]).rstrip("\n"))
        if cells[i]["cell_type"] == "code":
            cells[i]["outputs"], cells[i]["execution_count"] = [], None
        _save(path, nb)
    elif cmd == "insert":
        after, kind, file = rest[:3]
        new_id = rest[rest.index("--id") + 1] if "--id" in rest else None
        pos = 0 if after == "START" else _find(nb, after) + 1
        cells.insert(pos, _new_cell(kind, _read(file), new_id))
        _save(path, nb)
        print(cells[pos]["id"])
    elif cmd == "delete":
        del cells[_find(nb, rest[0])]
        _save(path, nb)
    elif cmd == "tag":
        meta = cells[_find(nb, rest[0])].setdefault("metadata", {})
        tags = meta.setdefault("tags", [])
        if rest[1] not in tags:
            tags.append(rest[1])
        _save(path, nb)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
