"""Sphinx configuration of the course book, shared by both editions (book/build.py runs it).

The edition comes from the environment: BOOK_EDITION=en or zh. Notebooks are rendered from their
committed outputs (never executed), MathJax is served from the build (no CDN), and the Chinese
edition's search index is cut into words by jieba (Sphinx's zh search language).
"""

import os
import sys
from importlib.util import find_spec
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

EDITION = os.environ.get("BOOK_EDITION", "en")
if EDITION not in ("en", "zh"):
    raise ValueError(f"BOOK_EDITION: expected 'en' or 'zh', got {EDITION!r}")

project = "AI 大模型开发基础" + (" · 中文版" if EDITION == "zh" else " · Foundations of LLMs")
author = "the course's authors"
copyright = "MIT licence"
language = "zh_CN" if EDITION == "zh" else "en"

extensions = ["myst_nb", "course_book"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["course-book.css"]

# Notebooks: committed outputs only; MyST maths ($...$, $$...$$, amsmath environments).
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget JavaScript from a CDN
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
# A shell block with a placeholder (<this repository's URL>) is highlighted leniently: no warning.
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

# MathJax 3 from the sphinx-mathjax-offline wheel (copied into _static/mathjax by course_book).
mathjax_source = str(Path(find_spec("sphinx-mathjax-offline").origin).parent / "static" / "mathjax")
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}

html_theme = "sphinx_book_theme"
html_title = "AI 大模型开发基础" if EDITION == "zh" else "AI 大模型开发基础 · LLM foundations"
html_theme_options = {
    "use_download_button": True,  # each chapter page links to its .ipynb
    "use_fullscreen_button": False,
    "use_sidenotes": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
html_sidebars = {"**": ["navbar-logo.html", "lang-switch.html", "sbt-sidebar-nav.html"]}
html_copy_source = True
html_sourcelink_suffix = ""  # _sources/notebooks/00_environment.ipynb is the notebook itself
html_last_updated_fmt = None
html_search_language = "zh" if EDITION == "zh" else "en"
