"""Build the course book: a static HTML site of both editions from the committed notebooks.

    python book/build.py [--out build/book] [--jobs 2] [--edition en|zh]

For each edition it stages the sources under ``build/book-src/<edition>/`` (the notebooks as
committed, an index page in chapter order, the glossary), runs Sphinx once (the Chinese edition
with a jieba-cut search index), and it writes a landing page that links both. Notebooks are never
executed and nothing is downloaded: the site opens from ``build/book/index.html`` offline.
Needs only requirements-book.txt (no PyTorch). ``make book`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
DIRS = ("notebooks", "solutions")
GLOSSARY = "notebooks/glossary.zh.md"
EDITIONS = ("en", "zh")

INDEX = {
    "en": """# AI 大模型开发基础 · Foundations of Large Language Models

A hands-on course from "how does a computer store a word?" to GPT and today's open models, in
Python and PyTorch. Each page is a chapter's notebook as committed, with its real outputs; the
sidebar links each notebook for download.
<a href="{other}index.html" hreflang="zh-CN"><b>中文版</b></a> · the same course in Chinese.
""",
    "zh": """# AI 大模型开发基础

从“计算机怎样存储一个词”讲到 GPT 和今天的开源大模型，用 Python 和 PyTorch 动手实践。每一页就是一章的
notebook 及其真实的运行结果；侧栏可以下载对应的 notebook。
<a href="{other}index.html" hreflang="en"><b>English</b></a> · 英文版。

中文版由英文版生成：说明文字译成了中文，代码、公式、图和运行结果与英文版完全相同；程序打印的输出、代码注释，以及原本就是英文的
图表标签保持英文。术语的译法见[术语表](notebooks/glossary.zh.md)。{pending}
""",
}
CAPTIONS = {"en": ("Chapters", "Solutions", "Reference"), "zh": ("章节", "习题解答", "参考")}
PENDING = {"zh": "\n\n尚未译完的章节暂时显示英文版，目录中标有“（英文）”。\n"}


def english_notebooks() -> list[Path]:
    return [
        p
        for d in DIRS
        for p in sorted((ROOT / d).glob("*.ipynb"))
        if not p.name.endswith(".zh.ipynb")
    ]


def docname(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").as_posix()


def title(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        m = re.search(r"^#\s+(.+)$", text, flags=re.M) if cell["cell_type"] == "markdown" else None
        if m:
            return m.group(1).strip()
    return path.stem


def plan(edition: str) -> tuple[dict[str, Path], dict[str, str], list[str]]:
    """{docname: source}, {docname: the page in the other edition}, untranslated docnames."""
    sources, pages, fallback = {}, {}, []
    for en in english_notebooks():
        zh = en.with_name(en.stem + ".zh.ipynb")
        if edition == "en":
            sources[docname(en)] = en
            pages[docname(en)] = docname(zh) if zh.exists() else docname(en)
        elif zh.exists():
            sources[docname(zh)] = zh
            pages[docname(zh)] = docname(en)
        else:
            sources[docname(en)] = en
            pages[docname(en)] = docname(en)
            fallback.append(docname(en))
    sources[GLOSSARY[:-3]] = ROOT / GLOSSARY
    pages[GLOSSARY[:-3]] = GLOSSARY[:-3]
    return sources, pages, fallback


def _write(path: Path, text: str) -> None:
    """Write only when the text changes, so that Sphinx rebuilds only what changed."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def stage(edition: str, src: Path) -> list[str]:
    """Lay out one edition's Sphinx sources in ``src``; return its chapter docnames in order."""
    other = "zh" if edition == "en" else "en"
    sources, pages, fallback = plan(edition)
    wanted = set()
    for doc, path in sources.items():
        target = src / (doc + (".ipynb" if path.suffix == ".ipynb" else ".md"))
        wanted.add(target)
        if not target.exists() or target.read_bytes() != path.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            # As committed (the page's download link serves this file), with a new mtime so
            # that Sphinx sees the change.
            shutil.copyfile(path, target)
    chapters = [d for d in sources if d.startswith("notebooks/") and d != GLOSSARY[:-3]]
    solutions = [d for d in sources if d.startswith("solutions/")]

    def toc(caption: str, docs: list[str]) -> str:
        lines = [f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n"]
        for d in docs:
            label = f"{title(sources[d])}（英文） <{d}>" if d in fallback else d
            lines.append(label)
        return "\n".join(lines) + "\n```\n"

    pending = PENDING.get(edition, "") if fallback else ""
    index = INDEX[edition].format(other=f"../{other}/", pending=pending)
    for caption, docs in zip(CAPTIONS[edition], (chapters, solutions, [GLOSSARY[:-3]])):
        index += "\n" + toc(caption, docs)
    wanted |= {src / "index.md", src / "_pages.json"}
    _write(src / "index.md", index)
    other_docs = sorted(plan(other)[0])
    _write(
        src / "_pages.json",
        json.dumps(
            {"edition": edition, "other": other, "pages": pages, "other_docs": other_docs},
            ensure_ascii=False,
            indent=1,
            sort_keys=True,
        ),
    )
    for old in src.rglob("*"):
        if old.is_file() and old not in wanted:
            old.unlink()
    return chapters + solutions


LANDING = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AI 大模型开发基础 · Foundations of Large Language Models</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei",
       system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem;
       line-height: 1.6; }}
a.edition {{ display: block; font-size: 1.3rem; margin: 1rem 0; }}
</style></head>
<body>
<h1>AI 大模型开发基础<br><small>Foundations of Large Language Models</small></h1>
<a class="edition" href="zh/index.html" hreflang="zh-CN">中文版 · {zh} 个 notebook 已译成中文</a>
<a class="edition" href="en/index.html" hreflang="en">English edition · {n} notebooks</a>
<p>Built {date} from the committed notebooks. 离线可读：无需联网。</p>
</body></html>
"""


def build(out: Path, jobs: str, editions: tuple[str, ...]) -> dict[str, float]:
    times = {}
    for edition in editions:
        src = ROOT / "build" / "book-src" / edition
        stage(edition, src)
        t0 = time.perf_counter()
        cmd = [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-q",
            "-j",
            jobs,
            "-c",
            str(BOOK),
            "-d",
            str(ROOT / "build" / "book-doctrees" / edition),
            str(src),
            str(out / edition),
        ]
        env = dict(os.environ, BOOK_EDITION=edition, PYTHONPATH=str(BOOK))
        subprocess.run(cmd, check=True, env=env)
        times[edition] = time.perf_counter() - t0
    n = len(english_notebooks())
    zh = sum(1 for p in english_notebooks() if p.with_name(p.stem + ".zh.ipynb").exists())
    _write(out / "index.html", LANDING.format(zh=zh, n=n, date=time.strftime("%Y-%m-%d")))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book")
    parser.add_argument("--jobs", default="auto", help="Sphinx's -j (default: auto)")
    parser.add_argument(
        "--edition",
        choices=EDITIONS,
        action="append",
        help="build only this edition (repeatable; default: both)",
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    times = build(args.out.resolve(), args.jobs, tuple(args.edition or EDITIONS))
    parts = ", ".join(f"{e} {t:.0f} s" for e, t in times.items())
    print(f"book: {args.out / 'index.html'} ({parts}; {time.perf_counter() - t0:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
