"""The Chinese edition (中文版): notebooks generated from the English ones and a catalog.

The English notebooks stay the executed source. For each notebook that has a
catalog, ``translations/zh/<folder>/<name>.yaml`` holds one entry per markdown
cell, keyed by the cell's id::

    - id: '91fa231a'
      sha: '0c1d5e...'          # hash of the English text that `zh` translates
      en: |-                    # that English text (to diff against when it changes)
        What each line means:
      zh: |-
        每一行的含义：

``build`` writes ``<folder>/<name>.zh.ipynb`` beside the English notebook (so
relative paths such as ``../configs/gpt_tiny.json`` keep working): every cell is
copied from the English notebook as it is, except that markdown cells take the
catalog's ``zh`` text, links to other translated notebooks point to their
Chinese edition, and an introduction cell follows the title.

    python -m course_utils.tools.edition status [NB ...]   # missing / stale / orphaned
    python -m course_utils.tools.edition update NB ...     # entries for new cells (zh empty)
    python -m course_utils.tools.edition accept NB ID ...  # zh revised: record current English
    python -m course_utils.tools.edition build [NB ...]    # regenerate .zh notebooks, glossary
    python -m course_utils.tools.edition check             # all that the tests check

An entry is *stale* when the English cell changed after it was translated (its
hash differs from ``sha``); ``status --diff`` shows what changed. The glossary
(术语表, ``translations/zh/glossary.yaml``) fixes one translation per term; its
``avoid`` lists are checked, and ``build`` renders it to ``notebooks/glossary.zh.md``.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LANG = "zh"
NOTEBOOK_DIRS = ("notebooks", "solutions")
INTRO_CELL_ID = "zh-edition"
GLOSSARY_PAGE = Path("notebooks") / "glossary.zh.md"
_SUFFIX = f".{LANG}.ipynb"
# YAML 1.1 (PyYAML) reads these as line breaks, so a block scalar cannot hold them.
_YAML_BREAKS = ("\r", "\x85", "\u2028", "\u2029", "\ufeff")


# ---------------------------------------------------------------- paths and cells
def is_edition(path: str | Path) -> bool:
    """True for a generated notebook (``*.zh.ipynb``)."""
    return Path(path).name.endswith(_SUFFIX)


def english_notebooks(root: Path = ROOT) -> list[Path]:
    """The English notebooks and solutions, in chapter order."""
    paths = [p for d in NOTEBOOK_DIRS for p in sorted((root / d).glob("*.ipynb"))]
    return [p for p in paths if not is_edition(p)]


def edition_path(nb_path: str | Path) -> Path:
    """``notebooks/00_x.ipynb`` -> ``notebooks/00_x.zh.ipynb``: beside it, so paths still work."""
    nb_path = Path(nb_path)
    if is_edition(nb_path) or nb_path.suffix != ".ipynb":
        raise ValueError(f"nb_path: expected an English notebook (*.ipynb), got {str(nb_path)!r}")
    return nb_path.with_name(nb_path.stem + _SUFFIX)


def catalog_path(nb_path: str | Path, root: Path = ROOT) -> Path:
    """``<root>/notebooks/00_x.ipynb`` -> ``<root>/translations/zh/notebooks/00_x.yaml``."""
    nb_path = Path(nb_path).resolve()
    rel = nb_path.relative_to(root.resolve())
    return root / "translations" / LANG / rel.parent / (rel.stem + ".yaml")


def source_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def source_hash(text: str) -> str:
    """The first 16 hex digits of the SHA-256 of a cell's source (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_notebook(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def dump_notebook(nb: dict) -> str:
    """The JSON layout Jupyter and nbformat write (one-space indent, sorted keys)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def markdown_cells(nb: dict) -> list[tuple[str, str]]:
    """(cell id, source) of every markdown cell, in order."""
    cells = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        if not cell.get("id"):
            raise ValueError(f"markdown cell {i} has no id: save the notebook with nbformat >= 4.5")
        cells.append((cell["id"], source_text(cell)))
    return cells


def _first_line(text: str) -> str:
    line = next((x for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= 70 else line[:67] + "..."


# ---------------------------------------------------------------- catalogs
@dataclass
class Entry:
    id: str
    sha: str
    en: str
    zh: str = ""


@dataclass
class Catalog:
    notebook: str  # path of the English notebook, relative to the repository root
    entries: list[Entry] = field(default_factory=list)

    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}


_HEADER = """\
# Chinese (zh) catalog of {notebook}: one entry per markdown cell, in the notebook's order.
# Translate `zh` only: write the Chinese under `zh: |-`, indented by 4 spaces like `en`. Keep the
# Markdown, the maths ($...$), the code in backticks and the links as they are.
# `sha` and `en` record the English text that `zh` translates. When the English cell changes,
# the entry is stale: revise `zh`, then run
#   python -m course_utils.tools.edition accept {notebook} <id>
# Terms: translations/zh/glossary.yaml.
# Check: python -m course_utils.tools.edition status {notebook}
"""


def _block(text: str, indent: str) -> str:
    """``text`` as a YAML literal block scalar (``|``), which needs no escaping."""
    stripped = text.rstrip("\n")
    if stripped == text:
        chomp, lines = "-", text.split("\n")
    else:
        chomp = "" if stripped + "\n" == text else "+"
        lines = text.split("\n")[:-1]
    # An explicit indentation when the text starts with blanks, so YAML need not guess it.
    width = str(len(indent) - 2) if text.lstrip("\n")[:1] in (" ", "\t") else ""
    return "|" + width + chomp + "\n" + "\n".join(indent + x if x else "" for x in lines)


def _scalar(text: str, indent: str) -> str:
    """A YAML scalar for ``text``: a literal block wherever it reads back exactly, else JSON."""
    if text.strip("\n") and not any(ch in text for ch in _YAML_BREAKS):
        block = _block(text, indent)
        try:
            if yaml.safe_load(f"k:\n{indent[:-2]}v: {block}\n") == {"k": {"v": text}}:
                return block
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=True) if text else "''"  # JSON is YAML's "..." style


def dump_catalog(catalog: Catalog) -> str:
    """The catalog as YAML text: quoted ids and hashes, literal blocks for the texts."""
    out = [_HEADER.format(notebook=catalog.notebook), f"notebook: {catalog.notebook}", "cells:"]
    for e in catalog.entries:
        out.append(f"- id: '{e.id}'")
        out.append(f"  sha: '{e.sha}'")
        out.append("  en: " + _scalar(e.en, "    "))
        out.append("  zh: " + (_scalar(e.zh, "    ") if e.zh else "|-"))  # empty: write below
    text = "\n".join(out) + "\n"
    if _parse_catalog(text, "<generated>") != catalog:  # never write what would not read back
        raise RuntimeError(f"catalog of {catalog.notebook} does not survive a YAML round trip")
    return text


def _parse_catalog(text: str, where: str) -> Catalog:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "notebook" not in data or "cells" not in data:
        raise ValueError(f"{where}: expected a mapping with 'notebook' and 'cells'")
    entries = []
    for i, item in enumerate(data["cells"] or []):
        if not isinstance(item, dict) or set(item) - {"id", "sha", "en", "zh"} or "id" not in item:
            raise ValueError(f"{where}: entry {i} must have the keys id, sha, en, zh; got {item!r}")
        zh = item.get("zh") or ""
        if not isinstance(zh, str):
            raise ValueError(f"{where}: entry {item['id']!r}: zh must be text, got {zh!r}")
        entries.append(Entry(str(item["id"]), str(item.get("sha", "")), item.get("en") or "", zh))
    ids = [e.id for e in entries]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise ValueError(f"{where}: cell ids {dup} appear more than once")
    return Catalog(str(data["notebook"]), entries)


def load_catalog(path: str | Path) -> Catalog:
    path = Path(path)
    return _parse_catalog(path.read_text(encoding="utf-8"), str(path))


def save_catalog(catalog: Catalog, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_catalog(catalog), encoding="utf-8")


@dataclass
class Status:
    translated: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (id, first English line)
    stale: list[tuple[str, str, str]] = field(default_factory=list)  # (id, recorded en, current en)
    orphaned: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.orphaned)


def catalog_status(nb: dict, catalog: Catalog) -> Status:
    """Which markdown cells are translated, missing (no entry or empty zh), stale or orphaned."""
    entries = catalog.by_id()
    status = Status()
    ids = set()
    for cell_id, text in markdown_cells(nb):
        ids.add(cell_id)
        e = entries.get(cell_id)
        if e is None or not e.zh.strip():
            status.missing.append((cell_id, _first_line(text)))
        elif e.sha != source_hash(text):
            status.stale.append((cell_id, e.en, text))
        else:
            status.translated.append(cell_id)
    status.orphaned = [e.id for e in catalog.entries if e.id not in ids]
    return status


def update_catalog(nb: dict, catalog: Catalog, prune: bool = False) -> tuple[Catalog, list[str]]:
    """Entries in the notebook's order; new cells get an entry with empty ``zh``.

    Existing entries are kept as they are (a stale one stays stale until ``accept``);
    entries whose cell is gone are kept at the end unless ``prune``.
    """
    old = catalog.by_id()
    entries, added = [], []
    for cell_id, text in markdown_cells(nb):
        if cell_id in old:
            entries.append(old.pop(cell_id))
        else:
            entries.append(Entry(cell_id, source_hash(text), text, ""))
            added.append(cell_id)
    if not prune:
        entries += [e for e in catalog.entries if e.id in old]
    return Catalog(catalog.notebook, entries), added


def accept(nb: dict, catalog: Catalog, ids: list[str]) -> Catalog:
    """Record the current English text of ``ids`` as what their translation now translates."""
    current = dict(markdown_cells(nb))
    unknown = [i for i in ids if i not in current or i not in catalog.by_id()]
    if unknown:
        raise ValueError(
            f"ids: no catalog entry for markdown cell(s) {unknown} of {catalog.notebook}"
        )
    entries = []
    for e in catalog.entries:
        if e.id in ids:
            e = Entry(e.id, source_hash(current[e.id]), current[e.id], e.zh)
        entries.append(e)
    return Catalog(catalog.notebook, entries)


# ---------------------------------------------------------------- the edition's fixed texts
def load_edition_texts(root: Path = ROOT) -> dict:
    """``translations/zh/edition.yaml``: the introduction cell and the glossary page's texts."""
    path = root / "translations" / LANG / "edition.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


_LINK = re.compile(r"(\]\(\s*<?)((?:\.\./(?:notebooks|solutions)/)?[\w.-]+?)\.ipynb(?=[#)>\s])")


def rewrite_links(text: str, here: Path, has_edition) -> str:
    """Markdown links to a notebook that has a Chinese edition point to that edition."""

    def repl(m: re.Match) -> str:
        target = (here.parent / (m.group(2) + ".ipynb")).resolve()
        if is_edition(target) or not has_edition(target):
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{_SUFFIX}"

    return _LINK.sub(repl, text)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def build_edition(
    nb_path: Path,
    nb: dict,
    catalog: Catalog,
    texts: dict,
    has_edition,
    root: Path = ROOT,
    draft: bool = False,
) -> str:
    """The Chinese notebook's JSON text. Refuses missing or stale entries unless ``draft``.

    ``has_edition(path)`` says whether the English notebook at ``path`` has a catalog.
    Code and raw cells, outputs and attachments are copied as they are.
    """
    status = catalog_status(nb, catalog)
    if not draft and (status.missing or status.stale):
        bad = [i for i, _ in status.missing] + [i for i, *_ in status.stale]
        raise ValueError(
            f"{catalog.notebook}: cells {bad} are missing or stale; "
            f"run `python -m course_utils.tools.edition status {catalog.notebook}`"
        )
    entries = catalog.by_id()
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        e = entries.get(cell["id"])
        if e is not None and e.zh.strip() and e.sha == source_hash(source_text(cell)):
            zh = e.zh.rstrip("\n")
        else:  # only in a draft
            zh = "**[未译 · untranslated]**\n\n" + source_text(cell)
        cell["source"] = _lines(rewrite_links(zh, nb_path, has_edition))
    glossary = Path(os.path.relpath(root / GLOSSARY_PAGE, nb_path.parent)).as_posix()
    intro = texts["intro"].replace("{english}", nb_path.name).replace("{glossary}", glossary)
    intro = intro.rstrip("\n")
    at = 1 if out["cells"] and out["cells"][0]["cell_type"] == "markdown" else 0
    out["cells"].insert(
        at, {"cell_type": "markdown", "id": INTRO_CELL_ID, "metadata": {}, "source": _lines(intro)}
    )
    catalog_rel = catalog_path(nb_path, root).relative_to(root).as_posix()
    out["metadata"]["edition"] = {
        "language": LANG,
        "generated_from": nb_path.name,
        "note": "Generated by `python -m course_utils.tools.edition build`: edit the English "
        f"notebook or {catalog_rel}, not this file.",
    }
    return dump_notebook(out)


# ---------------------------------------------------------------- glossary (术语表)
@dataclass(frozen=True)
class Term:
    en: str
    zh: str
    chapter: str
    note: str = ""
    avoid: tuple[str, ...] = ()


def load_glossary(root: Path = ROOT) -> tuple[list[dict], list[Term]]:
    """(chapters, terms) of ``translations/zh/glossary.yaml``; checks that each term is unique."""
    path = root / "translations" / LANG / "glossary.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    chapters, terms = [], []
    for ch in data["chapters"]:
        chapters.append({"chapter": str(ch["chapter"]), "title": ch["title"]})
        for t in ch["terms"]:
            unknown = set(t) - {"en", "zh", "note", "avoid"}
            if unknown or not t.get("en") or not t.get("zh"):
                raise ValueError(f"{path}: term {t!r} needs en and zh (and only note, avoid)")
            terms.append(
                Term(
                    str(t["en"]),
                    str(t["zh"]),
                    str(ch["chapter"]),
                    str(t.get("note", "")),
                    tuple(t.get("avoid", ())),
                )
            )
    seen: dict[str, str] = {}
    for t in terms:
        key = t.en.casefold()
        if key in seen:
            raise ValueError(
                f"{path}: the term {t.en!r} appears twice (chapters {seen[key]}, {t.chapter})"
            )
        seen[key] = t.chapter
        clash = [a for a in t.avoid if a in t.zh]
        if clash:
            raise ValueError(
                f"{path}: {t.en!r}: its translation {t.zh!r} contains an avoided form {clash}"
            )
    return chapters, terms


def glossary_markdown(chapters: list[dict], terms: list[Term], texts: dict) -> str:
    lines = [texts["glossary_intro"].rstrip("\n"), ""]
    for ch in chapters:
        rows = [t for t in terms if t.chapter == ch["chapter"]]
        if not rows:
            continue
        lines += [
            f"## {ch['chapter']} · {ch['title']}",
            "",
            "| English | 中文 | 说明 |",
            "|---|---|---|",
        ]
        for t in rows:
            avoid = ("；" if t.note else "") + "不用：" + "、".join(t.avoid) if t.avoid else ""
            note = t.note + avoid
            lines.append(f"| {t.en} | **{t.zh}** | {note} |".replace("|  |", "| |"))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def avoided_terms(catalog: Catalog, terms: list[Term]) -> list[tuple[str, str, str]]:
    """(cell id, glossary term, avoided form) for each avoided form a translation uses."""
    found = []
    for e in catalog.entries:
        for t in terms:
            for form in t.avoid:
                if form in e.zh:
                    found.append((e.id, f"{t.en} = {t.zh}", form))
    return found


def missing_terms(catalog: Catalog, terms: list[Term]) -> list[tuple[str, str]]:
    """Advice only: (cell id, term) where the English names a term and the Chinese lacks its zh."""
    found = []
    for e in catalog.entries:
        if not e.zh.strip():
            continue
        for t in terms:
            if (
                re.search(rf"(?<![\w-]){re.escape(t.en)}(?![\w-])", e.en, flags=re.IGNORECASE)
                and t.zh.split("（")[0] not in e.zh
            ):
                found.append((e.id, f"{t.en} = {t.zh}"))
    return found


# ---------------------------------------------------------------- the whole edition
def translated_notebooks(root: Path = ROOT) -> list[Path]:
    """English notebooks that have a catalog, i.e. a Chinese edition."""
    return [p for p in english_notebooks(root) if catalog_path(p, root).exists()]


def build_all(
    root: Path = ROOT, only: list[Path] | None = None, draft: bool = False
) -> dict[Path, str]:
    """{path: text} of every generated file (the .zh notebooks and the glossary page)."""
    texts = load_edition_texts(root)
    translated = {p.resolve() for p in translated_notebooks(root)}
    has_edition = lambda p: Path(p).resolve() in translated
    out = {}
    for nb_path in translated_notebooks(root):
        if only is not None and nb_path.resolve() not in {p.resolve() for p in only}:
            continue
        nb = load_notebook(nb_path)
        catalog = load_catalog(catalog_path(nb_path, root))
        out[edition_path(nb_path)] = build_edition(
            nb_path, nb, catalog, texts, has_edition, root, draft
        )
    chapters, terms = load_glossary(root)
    out[root / GLOSSARY_PAGE] = glossary_markdown(chapters, terms, texts)
    return out


def check_all(root: Path = ROOT) -> list[str]:
    """Every problem the tests look for, as one message each (empty when all is well)."""
    problems = []
    _, terms = load_glossary(root)
    for nb_path in translated_notebooks(root):
        rel = nb_path.relative_to(root).as_posix()
        catalog = load_catalog(catalog_path(nb_path, root))
        status = catalog_status(load_notebook(nb_path), catalog)
        problems += [f"{rel} cell {i}: no translation ({line!r})" for i, line in status.missing]
        problems += [
            f"{rel} cell {i}: stale translation (the English changed)" for i, *_ in status.stale
        ]
        problems += [
            f"{rel}: catalog entry {i} has no cell (update --prune)" for i in status.orphaned
        ]
        problems += [
            f"{rel} cell {i}: uses {form!r}; the glossary says {term}"
            for i, term, form in avoided_terms(catalog, terms)
        ]
        edition = edition_path(nb_path)
        if not edition.exists():
            problems.append(f"{edition.relative_to(root).as_posix()}: not generated (run build)")
    if not problems:
        for path, text in build_all(root).items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                problems.append(f"{path.relative_to(root).as_posix()}: out of date (run build)")
    return problems


# ---------------------------------------------------------------- command line
def _resolve(args_nb: list[str], root: Path) -> list[Path]:
    paths = [Path(p).resolve() for p in args_nb] if args_nb else translated_notebooks(root)
    for p in paths:
        if is_edition(p):
            raise SystemExit(f"{p.name} is generated; name the English notebook instead")
        if not p.exists() or p.suffix != ".ipynb":
            raise SystemExit(f"{p}: expected an English notebook (*.ipynb) that exists")
    return paths


def _print_status(rel: str, status: Status, catalog: Catalog, terms, diff: bool) -> None:
    print(
        f"{rel}: {len(status.translated)} translated, {len(status.missing)} missing, "
        f"{len(status.stale)} stale, {len(status.orphaned)} orphaned"
    )
    for i, line in status.missing:
        print(f"  missing  {i}  {line}")
    for i, old, new in status.stale:
        print(f"  stale    {i}  {_first_line(new)}")
        if diff:
            for d in difflib.unified_diff(
                old.splitlines(),
                new.splitlines(),
                "translated from",
                "English now",
                lineterm="",
                n=1,
            ):
                print("           " + d)
    for i in status.orphaned:
        print(f"  orphaned {i}  (no such markdown cell any more)")
    for i, term in missing_terms(catalog, terms) if terms else []:
        print(f"  advice   {i}  the English names {term.split(' = ')[0]!r}: glossary says {term}")


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.tools.edition", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", help="missing, stale and orphaned entries (exit 1 if any)")
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--diff", action="store_true", help="show how stale cells' English changed")
    p.add_argument(
        "--terms",
        action="store_true",
        help="advice: glossary terms in the English whose Chinese name is absent",
    )
    p = sub.add_parser("update", help="create catalogs / add entries for new cells (zh empty)")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--prune", action="store_true", help="drop entries whose cell is gone")
    p = sub.add_parser("accept", help="record the current English of cells whose zh was revised")
    p.add_argument("notebook")
    p.add_argument("ids", nargs="+")
    p = sub.add_parser("build", help="regenerate the .zh notebooks and the glossary page")
    p.add_argument("notebooks", nargs="*")
    p.add_argument(
        "--draft", action="store_true", help="mark missing/stale cells instead of failing"
    )
    sub.add_parser("check", help="everything the tests check (exit 1 on any problem)")
    args = parser.parse_args(argv)

    if args.command == "check":
        problems = check_all(root)
        print("\n".join(problems) or "Chinese edition: all catalogs complete and current")
        return 1 if problems else 0
    if args.command == "build":
        only = _resolve(args.notebooks, root) if args.notebooks else None
        for path, text in build_all(root, only, args.draft).items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(root).as_posix()}")
        return 0
    if args.command == "accept":
        (nb_path,) = _resolve([args.notebook], root)
        cat_path = catalog_path(nb_path, root)
        save_catalog(accept(load_notebook(nb_path), load_catalog(cat_path), args.ids), cat_path)
        print(f"{cat_path.relative_to(root).as_posix()}: accepted {', '.join(args.ids)}")
        return 0
    _, terms = load_glossary(root)
    dirty = False
    for nb_path in _resolve(args.notebooks, root):
        rel = nb_path.relative_to(root).as_posix()
        cat_path = catalog_path(nb_path, root)
        nb = load_notebook(nb_path)
        catalog = load_catalog(cat_path) if cat_path.exists() else Catalog(rel)
        if args.command == "update":
            catalog, added = update_catalog(nb, catalog, args.prune)
            save_catalog(catalog, cat_path)
            print(f"{cat_path.relative_to(root).as_posix()}: {len(added)} new entries")
        status = catalog_status(nb, catalog)
        _print_status(
            rel,
            status,
            catalog,
            terms if getattr(args, "terms", False) else [],
            getattr(args, "diff", False),
        )
        dirty |= not status.clean
    return 1 if dirty and args.command == "status" else 0


if __name__ == "__main__":
    sys.exit(main())
