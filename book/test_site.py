"""The built course book, checked in a real browser (headless Chromium from Debian's packages).

    make test-book        # builds the book if needed, installs Chromium if missing, runs this file

Every page is opened from disk (file://), as a learner opens build/book/index.html offline.
Playwright drives the system Chromium (no browser download); the DevTools protocol (CDP) tells
which fonts drew each element's text, and fontTools says which characters those fonts contain,
so a character drawn as a missing-glyph box (豆腐块) fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import unicodedata
from functools import cache, partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("BOOK_DIR", ROOT / "build" / "book"))
SHOTS = ROOT / "build" / "book-test"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Any URL but the site's own files and the test's server on 127.0.0.1 is blocked and recorded.
LEAVES_THE_MACHINE = re.compile(r"^(?!file:|data:|blob:|about:|http://127\.0\.0\.1:)")
ZH_PAGE = "zh/notebooks/00_environment.zh.html"
EN_PAGE = "en/notebooks/00_environment.html"

try:
    from playwright import sync_api
except ImportError:
    pytest.fail("playwright is missing: pip install -r requirements-book.txt", pytrace=False)
if not (SITE / "index.html").exists():
    pytest.fail(f"no book at {SITE}: run `make book` first", pytrace=False)


# ---------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (make test-book does)")
    with sync_api.sync_playwright() as p:
        # A fresh profile in a temporary folder, so that nothing of an earlier run is reused.
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


class Visit:
    """A page opened from disk, with every request it made that failed or left the machine."""

    def __init__(self, context, rel: str, query: str = "", server: str | None = None):
        self.page = context.new_page()
        self.failed: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route(LEAVES_THE_MACHINE, self._block)
        base = (SITE / rel).as_uri() if server is None else f"{server}/{rel}"
        self.page.goto(base + query)
        self.page.wait_for_load_state("load")

    def _block(self, route):
        self.external.append(route.request.url)
        route.abort()

    def check_offline(self, allow_failed: str = "^$", allow_errors: str = "^$"):
        assert not self.external, f"the page asked the network for {self.external}"
        failed = [f for f in self.failed if not re.search(allow_failed, f)]
        assert not failed, f"requests that failed: {failed}"
        errors = [e for e in self.errors if not re.search(allow_errors, e)]
        assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def server():
    """The site served on 127.0.0.1 (Sphinx's search fetches result pages for their snippets)."""
    handler = partial(QuietHandler, directory=str(SITE))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def visit(browser):
    visits = []

    def open_(rel, query="", server=None):
        visits.append(Visit(browser, rel, query, server))
        return visits[-1]

    yield open_
    for v in visits:
        v.page.close()


def _wait_for_math(page):
    page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)")
    page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")


# ---------------------------------------------------------------- glyphs
@cache
def _font_files() -> dict[str, tuple[str, int]]:
    out = subprocess.run(
        ["fc-list", "-f", "%{postscriptname}\t%{file}\t%{index}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fonts = {}
    for line in out.splitlines():
        name, file, index = line.split("\t")
        fonts.setdefault(name, (file, int(index)))
    return fonts


@cache
def _cmap(postscript_name: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    file, index = _font_files()[postscript_name]
    font = TTFont(file, fontNumber=index, lazy=True)
    return frozenset(font.getBestCmap())


# Marks each visible element that has text of its own (outside maths) and returns that text.
_MARK_TEXT = """() => {
  const skip = 'mjx-container, script, style, noscript, svg, .MathJax';
  const out = [];
  let n = 0;
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest(skip) || !el.getClientRects().length) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    const own = [...el.childNodes].filter(c => c.nodeType === 3).map(c => c.data).join('');
    if (!own.trim()) continue;
    el.setAttribute('data-glyph-check', String(n));
    out.push(own);
    n += 1;
  }
  return out;
}"""


def missing_glyphs(page) -> tuple[dict[str, list[str]], set[str], str]:
    """({character: [fonts that drew its element]} for uncovered characters, fonts used, text)."""
    texts = page.evaluate(_MARK_TEXT)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    missing, used = {}, set()
    for i, text in enumerate(texts):
        selector = f'[data-glyph-check="{i}"]'
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        system = [f["postScriptName"] for f in fonts if not f["isCustomFont"]]
        used.update(f["familyName"] for f in fonts)
        covered = set().union(*(_cmap(name) for name in system if name in _font_files()))
        for ch in set(text):
            if unicodedata.category(ch)[0] in "CZ" or ord(ch) in covered:
                continue
            if any(f["isCustomFont"] for f in fonts) and not system:
                continue  # drawn by a web font (icons), not by the system's fonts
            missing.setdefault(ch, system)
    cdp.detach()
    return missing, used, "".join(texts)


# ---------------------------------------------------------------- the tests
def test_a_chinese_chapter_renders_with_every_glyph(visit):
    v = visit(ZH_PAGE)
    _wait_for_math(v.page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    v.page.screenshot(path=str(SHOTS / "zh_00_environment.png"))
    v.page.screenshot(path=str(SHOTS / "zh_00_environment_full.png"), full_page=True)
    cdp = v.page.context.new_cdp_session(v.page)
    text = cdp.send(
        "Runtime.evaluate",
        {"expression": "document.querySelector('main').innerText", "returnByValue": True},
    )["result"]["value"]
    for phrase in (
        "开发环境与资源准备",
        "中文版说明",
        "运行档位",
        "使用 AutoDL 云服务器",
        "每一行的含义",
    ):
        assert phrase in text, f"{phrase!r} not in the page's text"
    missing, used, checked = missing_glyphs(v.page)
    assert len(re.findall(r"[\u4e00-\u9fff]", checked)) > 500, "too little Chinese text was checked"
    assert not missing, f"characters with no glyph in the fonts that drew them: {missing}"
    assert used & {"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC"}, used
    images = v.page.eval_on_selector_all("main img", "els => els.map(e => [e.src, e.naturalWidth])")
    assert len(images) >= 2 and all(w > 0 for _, w in images), images  # the benchmark and CJK plots
    v.check_offline()


@pytest.mark.parametrize(
    "page, at_least",
    [("en/notebooks/03_word2vec.html", 40), ("en/notebooks/06_transformer.html", 20)],
)
def test_maths_renders_offline(visit, page, at_least):
    v = visit(page)
    _wait_for_math(v.page)
    n_math = v.page.locator("mjx-container").count()
    assert n_math >= at_least, f"only {n_math} formulas rendered by MathJax"
    assert v.page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
    assert v.page.locator("main .math").count() == n_math, "some formulas were not typeset"
    v.page.locator("mjx-container[display='true']").first.scroll_into_view_if_needed()
    v.page.screenshot(path=str(SHOTS / f"maths_{Path(page).stem}.png"))
    v.check_offline()


SEARCHES = [
    ("zh", "可复现性", "notebooks/00_environment.zh.html"),
    ("zh", "显存", "notebooks/00_environment.zh.html"),
    ("en", "reproducibility", "notebooks/00_environment.html"),
]


def _search(v, term, page):
    v.page.wait_for_selector("#search-results ul.search li", timeout=20_000)
    v.page.wait_for_function(
        "() => !document.querySelector('#search-progress')?.textContent.match(/Searching|正在搜索/)"
    )
    hits = v.page.eval_on_selector_all(
        "#search-results ul.search li",
        "els => els.map(e => [e.querySelector('a').href, e.innerText])",
    )
    mine = [text for href, text in hits if urlsplit(href).path.endswith(page)]
    assert mine, f"{term!r} found only {[h for h, _ in hits]}"
    return mine[0]


@pytest.mark.parametrize("edition, term, page", SEARCHES)
def test_search_finds_a_term(visit, server, edition, term, page):
    """Served from 127.0.0.1 (python -m http.server -d build/book): hits come with a snippet."""
    v = visit(f"{edition}/search.html", "?q=" + quote(term), server)
    text = _search(v, term, page)
    assert term.lower() in text.lower(), f"the snippet does not show {term!r}: {text!r}"
    if edition == "zh":
        v.page.screenshot(path=str(SHOTS / f"zh_search_{term}.png"))
    v.check_offline()


def test_search_works_from_disk(visit):
    """Opened as a file, the search still finds the page; only the snippets' fetches fail."""
    edition, term, page = SEARCHES[0]
    v = visit(f"{edition}/search.html", "?q=" + quote(term))
    _search(v, term, page)
    v.check_offline(allow_failed=r"\.html \(net::ERR_FAILED\)$", allow_errors="^Failed to fetch$")


def test_language_switch_and_notebook_link(visit):
    v = visit(EN_PAGE)
    v.page.click("a.course-lang")
    v.page.wait_for_load_state("load")
    assert v.page.url.endswith(ZH_PAGE)
    v.page.click("a.course-lang")
    v.page.wait_for_load_state("load")
    assert v.page.url.endswith(EN_PAGE)
    for page, notebook in ((EN_PAGE, "00_environment.ipynb"), (ZH_PAGE, "00_environment.zh.ipynb")):
        v.page.goto((SITE / page).as_uri())
        href = v.page.get_attribute("a.course-notebook", "href")
        served = ((SITE / page).parent / unquote(href)).read_bytes()
        assert served == (ROOT / "notebooks" / notebook).read_bytes(), f"{page} links {href}"
    original = v.page.get_attribute("main a[href$='en/notebooks/00_environment.html']", "href")
    assert original, "the Chinese page does not link its English original"
    v.check_offline()


def test_home_pages_list_every_chapter_in_order(visit):
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if ".zh" not in p.name)
    for edition in ("en", "zh"):
        v = visit(f"{edition}/index.html")
        hrefs = v.page.eval_on_selector_all(
            "main .toctree-wrapper a", "els => els.map(e => e.getAttribute('href'))"
        )
        pages = [
            h.split("#")[0] for h in hrefs if h.startswith("notebooks/") and "glossary" not in h
        ]
        order = list(dict.fromkeys(Path(h).name.split(".")[0] for h in pages))
        assert order == chapters, f"{edition}: table of contents {order}"
        assert any("glossary.zh.html" in h for h in hrefs)
        v.check_offline()
    landing = visit("index.html")
    assert landing.page.locator("a[href='zh/index.html']").count() == 1
    landing.check_offline()


# ---------------------------------------------------------------- links, on every page
class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") in ("canonical",)):
                self.links.append(attrs[key])


@cache
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def test_no_broken_links():
    pages = sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts)  # not templates
    assert len(pages) > 30
    broken, external = [], set()
    for page in pages:
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto"):
                external.add(link)
                continue
            if parts.scheme or link.startswith("//"):
                broken.append(f"{page.relative_to(SITE)}: {link} (not a relative link)")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(SITE)}: {link}")
            elif target.suffix == ".html" and parts.fragment not in _parse(target).ids | {""}:
                broken.append(f"{page.relative_to(SITE)}: {link} (no such anchor)")
    assert not broken, f"{len(broken)} broken links, e.g. {broken[:10]}"
    # The only links that leave the site are in the course's own text (e.g. modelscope.cn).
    assert all("cdn" not in u and "googleapis" not in u for u in external), external
