"""The Chinese edition: complete, current catalogs, and generated notebooks identical in code.

The committed catalogs (translations/zh/) are checked against the English notebooks, and the
catalog machinery (course_utils.tools.edition) is tested on small notebooks made here.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from course_utils.tools import edition as ed

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = ed.translated_notebooks(ROOT)
# Notebooks whose Chinese edition is not written yet. Empty it as catalogs arrive; a new notebook
# must get a catalog (`python -m course_utils.tools.edition update NB`) or be listed here.
PENDING: set[str] = set()
STATUS = "python -m course_utils.tools.edition status --diff"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _ids(paths):
    return [_rel(p) for p in paths]


# ---------------------------------------------------------------- the committed edition
def test_every_notebook_has_an_edition_or_is_pending():
    without = {_rel(p) for p in ed.english_notebooks(ROOT)} - set(_ids(TRANSLATED))
    assert without - PENDING == set(), (
        f"no Chinese catalog for {sorted(without - PENDING)}: run "
        "`python -m course_utils.tools.edition update NB`, translate, then `... build`"
    )
    done = PENDING - without
    assert not done, f"{sorted(done)} now have a catalog: remove them from PENDING"
    assert "notebooks/00_environment.ipynb" in _ids(TRANSLATED)


@pytest.mark.parametrize("nb_path", TRANSLATED, ids=_ids(TRANSLATED))
def test_every_markdown_cell_is_translated(nb_path):
    status = ed.catalog_status(
        ed.load_notebook(nb_path), ed.load_catalog(ed.catalog_path(nb_path, ROOT))
    )
    missing = [f"cell {i} ({line!r})" for i, line in status.missing]
    assert not missing, (
        f"{_rel(nb_path)}: no Chinese translation for {missing}; see `{STATUS} {_rel(nb_path)}`"
    )


@pytest.mark.parametrize("nb_path", TRANSLATED, ids=_ids(TRANSLATED))
def test_no_translation_is_stale(nb_path):
    status = ed.catalog_status(
        ed.load_notebook(nb_path), ed.load_catalog(ed.catalog_path(nb_path, ROOT))
    )
    stale = [i for i, *_ in status.stale]
    assert not stale, (
        f"{_rel(nb_path)}: the English of cell(s) {stale} changed after they were translated. "
        f"Revise their `zh` in {_rel(ed.catalog_path(nb_path, ROOT))} (`{STATUS} {_rel(nb_path)}` shows "
        f"what changed), then `python -m course_utils.tools.edition accept {_rel(nb_path)} ID...` and `... build`"
    )
    assert not status.orphaned, (
        f"{_rel(nb_path)}: catalog entries {status.orphaned} have no markdown cell any more: "
        f"`python -m course_utils.tools.edition update --prune {_rel(nb_path)}`"
    )


@pytest.mark.parametrize("nb_path", TRANSLATED, ids=_ids(TRANSLATED))
def test_translations_use_the_glossary(nb_path):
    _, terms = ed.load_glossary(ROOT)
    found = ed.avoided_terms(ed.load_catalog(ed.catalog_path(nb_path, ROOT)), terms)
    assert not found, "\n".join(
        f"{_rel(nb_path)} cell {i}: {form!r} is not used; the glossary says {term}"
        for i, term, form in found
    )


def test_generated_files_are_up_to_date():
    stale = [
        _rel(p)
        for p, text in ed.build_all(ROOT).items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"{stale} differ from what the catalogs generate: python -m course_utils.tools.edition build"
    )


def test_no_edition_without_a_catalog():
    editions = [p for d in ed.NOTEBOOK_DIRS for p in (ROOT / d).glob("*.zh.ipynb")]
    orphans = [
        _rel(p)
        for p in editions
        if not ed.catalog_path(p.with_name(p.name.replace(".zh.ipynb", ".ipynb")), ROOT).exists()
    ]
    assert not orphans, f"{orphans} have no catalog: delete them or restore their catalog"


@pytest.mark.parametrize("nb_path", TRANSLATED, ids=_ids(TRANSLATED))
def test_code_cells_and_outputs_are_identical(nb_path):
    """Byte for byte (as JSON), so nbval need not run the Chinese notebooks a second time."""
    en = ed.load_notebook(nb_path)
    zh = ed.load_notebook(ed.edition_path(nb_path))
    dump = lambda cells: [json.dumps(c, sort_keys=True, ensure_ascii=False) for c in cells]
    assert dump(c for c in zh["cells"] if c["cell_type"] != "markdown") == dump(
        c for c in en["cells"] if c["cell_type"] != "markdown"
    )
    zh_md = [c["id"] for c in zh["cells"] if c["cell_type"] == "markdown"]
    assert zh_md == [zh_md[0], ed.INTRO_CELL_ID] + [i for i, _ in ed.markdown_cells(en)][1:]
    assert [c["id"] for c in zh["cells"] if c["id"] != ed.INTRO_CELL_ID] == [
        c["id"] for c in en["cells"]
    ]
    assert zh["metadata"]["kernelspec"] == en["metadata"]["kernelspec"]


def test_nbval_does_not_collect_the_chinese_edition():
    """`make test` runs nbval over notebooks/; the editions' code is proven identical above."""
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval", "--nbval-current-env"]
    out = subprocess.run(cmd + ["notebooks"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "00_environment.ipynb::" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    assert ".zh.ipynb" not in out.stdout


def test_glossary_covers_the_course():
    chapters, terms = ed.load_glossary(ROOT)
    assert [c["chapter"] for c in chapters] == [f"{i:02d}" for i in range(10)]
    zh = {t.en: t.zh for t in terms}
    for en, name in {
        "token": "词元",
        "embedding": "嵌入",
        "attention": "注意力",
        "residual connection": "残差连接",
        "layer normalization": "层归一化",
        "fine-tuning": "微调",
    }.items():
        assert zh[en] == name
    assert len(terms) >= 150


# ---------------------------------------------------------------- the machinery, on small notebooks
def _notebook(*cells):
    nb = {
        "cells": [],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, (kind, text) in enumerate(cells):
        cell = {
            "cell_type": kind,
            "id": f"c{i}",
            "metadata": {},
            "source": text.splitlines(keepends=True),
        }
        if kind == "code":
            cell.update(
                execution_count=i,
                outputs=[{"name": "stdout", "output_type": "stream", "text": ["# 注释 stays\n"]}],
            )
        nb["cells"].append(cell)
    return nb


@pytest.fixture()
def repo(tmp_path):
    """A tiny repository: two notebooks, the edition texts and a glossary."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "solutions").mkdir()
    zh = tmp_path / "translations" / "zh"
    zh.mkdir(parents=True)
    (zh / "edition.yaml").write_text(
        yaml.safe_dump(
            {
                "intro": "> 中文版：[{english}]({english})，[术语表]({glossary})",
                "glossary_intro": "# 术语表",
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    (zh / "glossary.yaml").write_text(
        yaml.safe_dump(
            {
                "chapters": [
                    {
                        "chapter": "05",
                        "title": "注意力",
                        "terms": [
                            {"en": "token", "zh": "词元", "avoid": ["令牌"]},
                            {"en": "attention", "zh": "注意力"},
                        ],
                    }
                ]
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    a = _notebook(
        ("markdown", "# A title"),
        ("code", "x = 1  # a comment\nprint(x)"),
        ("markdown", "A token, and [the other chapter](02_b.ipynb#top)."),
        ("raw", "raw"),
    )
    b = _notebook(("markdown", "# B"), ("markdown", "Back to [A](../notebooks/01_a.ipynb)."))
    (tmp_path / "notebooks" / "01_a.ipynb").write_text(ed.dump_notebook(a), encoding="utf-8")
    (tmp_path / "notebooks" / "02_b.ipynb").write_text(ed.dump_notebook(b), encoding="utf-8")
    (tmp_path / "solutions" / "01_a.ipynb").write_text(ed.dump_notebook(b), encoding="utf-8")
    return tmp_path


def _translate(repo, rel, zh):
    path = ed.catalog_path(repo / rel, repo)
    cat = ed.load_catalog(path)
    for e in cat.entries:
        e.zh = zh.get(e.id, e.zh)
    ed.save_catalog(cat, path)


def test_update_creates_entries_with_the_english_and_its_hash(repo, capsys):
    assert ed.main(["update", str(repo / "notebooks/01_a.ipynb")], root=repo) == 0
    cat = ed.load_catalog(repo / "translations/zh/notebooks/01_a.yaml")
    assert [(e.id, e.en, e.zh) for e in cat.entries] == [
        ("c0", "# A title", ""),
        ("c2", "A token, and [the other chapter](02_b.ipynb#top).", ""),
    ]
    assert cat.entries[1].sha == ed.source_hash("A token, and [the other chapter](02_b.ipynb#top).")
    assert "2 missing" in capsys.readouterr().out
    assert ed.main(["status", str(repo / "notebooks/01_a.ipynb")], root=repo) == 1


def test_a_changed_english_cell_is_stale_and_named(repo, capsys):
    nb_path = repo / "notebooks/01_a.ipynb"
    ed.main(["update", str(nb_path)], root=repo)
    _translate(repo, "notebooks/01_a.ipynb", {"c0": "# 标题", "c2": "一个词元。"})
    assert ed.main(["status", str(nb_path)], root=repo) == 0
    nb = ed.load_notebook(nb_path)
    nb["cells"][2]["source"] = ["A token, changed."]
    nb_path.write_text(ed.dump_notebook(nb), encoding="utf-8")
    capsys.readouterr()
    assert ed.main(["status", "--diff", str(nb_path)], root=repo) == 1
    out = capsys.readouterr().out
    assert "stale    c2" in out and "+A token, changed." in out
    assert any("cell c2: stale" in p for p in ed.check_all(repo))
    with pytest.raises(ValueError, match="c2"):
        ed.build_all(repo)
    assert ed.main(["accept", str(nb_path), "c2"], root=repo) == 0  # after revising zh
    assert ed.catalog_status(nb, ed.load_catalog(ed.catalog_path(nb_path, repo))).clean


def test_build_copies_code_and_translates_markdown(repo):
    for rel in ("notebooks/01_a.ipynb", "notebooks/02_b.ipynb"):
        ed.main(["update", str(repo / rel)], root=repo)
    _translate(
        repo,
        "notebooks/01_a.ipynb",
        {"c0": "# 标题\n", "c2": "一个词元，见[另一章](02_b.ipynb#top)。"},
    )
    assert any("no translation" in p for p in ed.check_all(repo))
    _translate(
        repo, "notebooks/02_b.ipynb", {"c0": "# 乙", "c1": "回到 [A](../notebooks/01_a.ipynb)。"}
    )
    assert ed.main(["build"], root=repo) == 0
    assert ed.check_all(repo) == []
    en = ed.load_notebook(repo / "notebooks/01_a.ipynb")
    zh = ed.load_notebook(repo / "notebooks/01_a.zh.ipynb")
    assert [c["cell_type"] for c in zh["cells"]] == [
        "markdown",
        "markdown",
        "code",
        "markdown",
        "raw",
    ]
    assert zh["cells"][2] == en["cells"][1] and zh["cells"][4] == en["cells"][2 + 1]
    assert zh["cells"][0]["source"] == ["# 标题"]
    assert zh["cells"][1]["id"] == ed.INTRO_CELL_ID
    assert (
        ed.source_text(zh["cells"][1])
        == "> 中文版：[01_a.ipynb](01_a.ipynb)，[术语表](glossary.zh.md)"
    )
    assert (
        ed.source_text(zh["cells"][3]) == "一个词元，见[另一章](02_b.zh.ipynb#top)。"
    )  # link to the edition
    zh_b = ed.load_notebook(repo / "notebooks/02_b.zh.ipynb")
    assert ed.source_text(zh_b["cells"][2]) == "回到 [A](../notebooks/01_a.zh.ipynb)。"
    assert (repo / "notebooks/glossary.zh.md").read_text(encoding="utf-8").startswith("# 术语表")
    # solutions/01_a has no catalog: no edition, and links to it stay English
    assert not (repo / "solutions/01_a.zh.ipynb").exists()
    (repo / "notebooks/01_a.zh.ipynb").write_text("{}", encoding="utf-8")
    assert ed.check_all(repo) == ["notebooks/01_a.zh.ipynb: out of date (run build)"]


def test_draft_build_marks_untranslated_cells(repo):
    ed.main(["update", str(repo / "notebooks/02_b.ipynb")], root=repo)
    out = ed.build_all(repo, draft=True)
    zh = json.loads(out[repo / "notebooks/02_b.zh.ipynb"])
    assert ed.source_text(zh["cells"][0]).startswith("**[未译 · untranslated]**\n\n# B")


def test_avoided_glossary_forms_are_found(repo):
    ed.main(["update", str(repo / "notebooks/01_a.ipynb")], root=repo)
    _translate(repo, "notebooks/01_a.ipynb", {"c0": "# 标题", "c2": "一个令牌。"})
    _, terms = ed.load_glossary(repo)
    cat = ed.load_catalog(ed.catalog_path(repo / "notebooks/01_a.ipynb", repo))
    assert ed.avoided_terms(cat, terms) == [("c2", "token = 词元", "令牌")]
    assert ed.missing_terms(cat, terms) == [("c2", "token = 词元")]


def test_an_orphaned_entry_is_reported_and_pruned(repo):
    nb_path = repo / "notebooks/01_a.ipynb"
    ed.main(["update", str(nb_path)], root=repo)
    nb = ed.load_notebook(nb_path)
    del nb["cells"][2]
    nb_path.write_text(ed.dump_notebook(nb), encoding="utf-8")
    cat = ed.load_catalog(ed.catalog_path(nb_path, repo))
    assert ed.catalog_status(nb, cat).orphaned == ["c2"]
    assert [e.id for e in ed.update_catalog(nb, cat)[0].entries] == ["c0", "c2"]
    assert [e.id for e in ed.update_catalog(nb, cat, prune=True)[0].entries] == ["c0"]


TRICKY = [
    "",
    "plain",
    "ends with newline\n",
    "two newlines\n\n",
    "\n\nleading blank lines",
    "  indented first",
    "\tTab first",
    "   \nblank line with spaces first",
    "trailing spaces   \nnext",
    "a: b # not a comment",
    "'quotes' \"and\" `code`",
    r"$\sqrt{d_k}$ and \\ and \n literally",
    "- a list\n- item",
    "---\n...",
    "中文，全角：标点。",
    "line\r\nwindows",
    "nel\x85char",
    "ctrl\x07char",
    "ls\u2028ps\u2029",
    "| a | b |\n|---|---|",
    "```python\nx = 1  # c\n```",
    "   ",
    "\n",
    "x\n  \n\n",
]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_catalog_text_survives_a_round_trip(text):
    cat = ed.Catalog(
        "notebooks/x.ipynb", [ed.Entry("12345678", "0001", text, text), ed.Entry("1e5", "", "", "")]
    )
    back = ed._parse_catalog(ed.dump_catalog(cat), "test")
    assert back == cat
    assert back.entries[1].id == "1e5"  # ids stay text, never numbers


def test_plain_texts_are_literal_blocks_a_translator_can_edit():
    text = ed.dump_catalog(
        ed.Catalog("nb", [ed.Entry("a", "h", "## T\n\n$\\sqrt{d_k}$: x", "## 标题")])
    )
    assert "  en: |-\n    ## T\n\n    $\\sqrt{d_k}$: x\n  zh: |-\n    ## 标题\n" in text


def test_bad_catalogs_are_refused_with_a_clear_error(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("notebook: n\ncells:\n- {id: a, zh: x}\n- {id: a, zh: y}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="appear more than once"):
        ed.load_catalog(bad)
    bad.write_text("notebook: n\ncells:\n- {id: a, zh: x, fr: y}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must have the keys"):
        ed.load_catalog(bad)
    with pytest.raises(ValueError, match="English notebook"):
        ed.edition_path("notebooks/00_environment.zh.ipynb")
