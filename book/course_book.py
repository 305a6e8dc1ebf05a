"""Sphinx extension of the course book: the language switch, the notebook link, offline MathJax.

book/build.py writes ``_pages.json`` into each edition's source folder::

    {"edition": "zh", "other": "en",
     "pages": {"notebooks/00_environment.zh": "notebooks/00_environment", ...}}

and every page gets ``lang_switch`` (a link to the same page in the other edition, or to its
home page) and ``notebook_link`` (the page's .ipynb, copied to ``_sources/``). A Markdown link to
a notebook that only the other edition has (the Chinese notebooks link their English original)
points to that edition's page.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

LABELS = {"en": "English", "zh": "中文"}
NOTEBOOK_LABEL = {"en": "Download the notebook", "zh": "下载 notebook"}
# The parts of MathJax that tex-chtml.js loads: its TeX extensions, fonts, menu and a11y modules.
MATHJAX_PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml", "ui", "a11y")


def _pages(app) -> dict:
    path = Path(app.srcdir) / "_pages.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def add_links(app, pagename, templatename, context, doctree):
    pages = _pages(app)
    if not pages:
        return
    up = "../" * (pagename.count("/") + 1)  # from this page to the site root (above en/ and zh/)
    other = pages["other"]
    target = pages["pages"].get(pagename, "index")
    context["lang_switch"] = {
        "url": f"{up}{other}/{target}.html",
        "label": LABELS[other],
        "lang": "zh-CN" if other == "zh" else "en",
    }
    source = context.get("sourcename") or ""
    if source.endswith(".ipynb"):
        context["notebook_link"] = {
            "url": "../" * pagename.count("/") + "_sources/" + source,
            "label": NOTEBOOK_LABEL[pages["edition"]],
            "name": Path(source).name,
        }


class LinkOtherEdition(SphinxPostTransform):
    """``[text](00_environment.ipynb)`` in a Chinese page -> the English edition's page."""

    default_priority = 5  # before MyST resolves (and warns about) its own references

    def run(self, **kwargs):
        pages = _pages(self.app)
        for node in list(self.document.findall(addnodes.pending_xref)):
            if not pages or node.get("reftype") != "myst" or node.get("refdomain") == "doc":
                continue
            path, _, anchor = node["reftarget"].partition("#")
            if not path.endswith(".ipynb"):
                continue
            doc = posixpath.normpath(posixpath.join(posixpath.dirname(node["refdoc"]), path))
            doc = doc[: -len(".ipynb")]
            if doc not in pages["other_docs"]:
                continue
            up = "../" * (self.env.docname.count("/") + 1)
            uri = f"{up}{pages['other']}/{doc}.html" + (f"#{anchor}" if anchor else "")
            ref = nodes.reference(
                "", "", *[c.deepcopy() for c in node.children], internal=False, refuri=uri
            )
            node.replace_self(ref)


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source = Path(app.config.mathjax_source)
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app):
    app.add_config_value("mathjax_source", "", "html")
    app.connect("html-page-context", add_links)
    app.connect("build-finished", copy_mathjax)
    app.add_post_transform(LinkOtherEdition)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
