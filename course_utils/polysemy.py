"""Polysemy (多义词): the course's labelled sense sets, and how well vectors separate senses.

``load_polysemy("zh")`` reads ``data/polysemy_zh.tsv`` (Chinese, segmented like People's
Daily) and ``"en"`` reads ``data/polysemy_en.tsv`` (English, lower-cased). Each item is one
sentence with one occurrence of a polysemous word, labelled with its sense.

Given one vector per item (the word's vector in that sentence), three measures of sense
separation are computed word by word, never across words:

* ``loo_centroid_accuracy`` / ``loo_1nn_accuracy``: leave one sentence out, predict its
  sense from the others (nearest sense centroid, or nearest single sentence), by cosine.
* ``silhouette``: (b - a) / max(a, b) with cosine distances, a = mean distance to the same
  sense, b = to the nearest other sense; from -1 to 1, 0 when all vectors coincide.
* ``cosine_gap``: mean cosine within a sense minus mean cosine across senses.

A static vector (word2vec, or ELMo's character layer) is the same in every sentence, so it
cannot separate senses: every similarity ties. Ties are resolved by predicting the word's
most frequent sense, so a static vector scores exactly the majority-class baseline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .similarity import as_row_vectors, cosine_similarity_matrix, unit_rows

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
LANGUAGES = ("zh", "en")
_TIE = 1e-6


@dataclass(frozen=True)
class PolysemyItem:
    word: str
    sense: str
    tokens: tuple[str, ...]  # the sentence, segmented into words
    index: int  # position of ``word`` in ``tokens``


def polysemy_path(lang: str) -> Path:
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {LANGUAGES}, got {lang!r}")
    return DATA_DIR / f"polysemy_{lang}.tsv"


def load_polysemy(lang: str = "zh", path: str | Path | None = None) -> list[PolysemyItem]:
    """Read a polysemy set: '#' comment lines, a header, then word<TAB>sense<TAB>sentence."""
    path = Path(path) if path is not None else polysemy_path(lang)
    if not path.exists():
        raise FileNotFoundError(f"polysemy set not found: {path} (it ships in the course's data/)")
    items = []
    lines = [
        ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")
    ]
    if not lines or lines[0].split("\t") != ["word", "sense", "sentence"]:
        raise ValueError(f"{path.name}: expected the header 'word<TAB>sense<TAB>sentence'")
    for n, line in enumerate(lines[1:], start=2):
        cols = line.split("\t")
        if len(cols) != 3:
            raise ValueError(
                f"{path.name}, row {n}: expected 3 tab-separated columns, got {len(cols)}"
            )
        word, sense, sentence = cols
        tokens = tuple(sentence.split())
        if tokens.count(word) != 1:
            raise ValueError(
                f"{path.name}, row {n}: {word!r} must occur exactly once as a token in {sentence!r}"
            )
        items.append(PolysemyItem(word, sense, tokens, tokens.index(word)))
    return items


def _check(x: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    senses = np.asarray(labels)
    if len(senses) != len(x):
        raise ValueError(f"got {len(senses)} labels for {len(x)} vectors")
    counts = Counter(senses.tolist())
    if len(counts) < 2:
        raise ValueError(f"need at least two senses, got {sorted(counts)}")
    if min(counts.values()) < 2:
        raise ValueError(
            f"every sense needs at least two sentences for leave-one-out, got {dict(counts)}"
        )
    return senses


def majority_sense(labels: Sequence[str]) -> str:
    """The most frequent sense; a tie goes to the first by name."""
    counts = Counter(np.asarray(labels).tolist())
    if not counts:
        raise ValueError("labels is empty: expected at least one sense")
    return min(counts, key=lambda s: (-counts[s], s))


def _pick(scores: dict[str, float], fallback: str) -> str:
    best = max(scores.values())
    winners = [s for s, v in scores.items() if v >= best - _TIE]
    return winners[0] if len(winners) == 1 else fallback


def loo_centroid_predictions(vectors, labels: Sequence[str]) -> list[str]:
    """Each sentence's sense predicted from the others: the nearest sense centroid (cosine to
    each sense's mean unit vector, the sentence itself left out); ties give the majority."""
    x = as_row_vectors(vectors)
    senses = _check(x, labels)
    unit = unit_rows(x)
    fallback = majority_sense(senses)
    predictions = []
    for i in range(len(x)):
        scores = {}
        for sense in sorted(set(senses.tolist())):
            members = (senses == sense) & (np.arange(len(x)) != i)
            c = unit[members].mean(axis=0)
            n = np.linalg.norm(c)
            scores[sense] = float(unit[i] @ c / n) if n > 0 else 0.0
        predictions.append(_pick(scores, fallback))
    return predictions


def loo_centroid_accuracy(vectors, labels: Sequence[str]) -> float:
    """Leave-one-out nearest-centroid accuracy (cosine to each sense's mean unit vector)."""
    predictions = loo_centroid_predictions(vectors, labels)
    return sum(p == s for p, s in zip(predictions, labels)) / len(predictions)


def loo_1nn_accuracy(vectors, labels: Sequence[str]) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy by cosine."""
    x = as_row_vectors(vectors)
    senses = _check(x, labels)
    sim = cosine_similarity_matrix(x)
    fallback = majority_sense(senses)
    correct = 0
    for i in range(len(x)):
        others = [j for j in range(len(x)) if j != i]
        best = max(sim[i, j] for j in others)
        nearest = {senses[j] for j in others if sim[i, j] >= best - _TIE}
        pred = nearest.pop() if len(nearest) == 1 else fallback
        correct += pred == senses[i]
    return correct / len(x)


def silhouette_values(vectors, labels: Sequence[str]) -> np.ndarray:
    """Per-sentence silhouette with cosine distance (1 - cosine); 0 where a = b = 0."""
    x = as_row_vectors(vectors)
    senses = _check(x, labels)
    dist = 1.0 - cosine_similarity_matrix(x)
    out = np.zeros(len(x))
    for i in range(len(x)):
        same = (senses == senses[i]) & (np.arange(len(x)) != i)
        a = dist[i, same].mean()
        b = min(dist[i, senses == s].mean() for s in set(senses.tolist()) if s != senses[i])
        denom = max(a, b)
        out[i] = 0.0 if denom <= _TIE else (b - a) / denom
    return out


def silhouette(vectors, labels: Sequence[str]) -> float:
    return float(silhouette_values(vectors, labels).mean())


def cosine_gap(vectors, labels: Sequence[str]) -> tuple[float, float, float]:
    """(mean cosine within a sense, mean cosine across senses, their difference)."""
    x = as_row_vectors(vectors)
    senses = _check(x, labels)
    sim = cosine_similarity_matrix(x)
    same = senses[:, None] == senses[None, :]
    off_diag = ~np.eye(len(x), dtype=bool)
    within = float(sim[same & off_diag].mean())
    across = float(sim[~same].mean())
    return within, across, within - across


def silhouette_by_sentence(vectors, items: Sequence[PolysemyItem]) -> np.ndarray:
    """Each sentence's silhouette among the sentences of its own word (items' order), the
    values that ``sense_separation`` averages into its silhouette."""
    x = as_row_vectors(vectors)
    if len(x) != len(items):
        raise ValueError(f"got {len(x)} vectors for {len(items)} items")
    out = np.zeros(len(items))
    for w in dict.fromkeys(it.word for it in items):
        idx = [i for i, it in enumerate(items) if it.word == w]
        out[idx] = silhouette_values(x[idx], [items[i].sense for i in idx])
    return out


def majority_baseline(items: Sequence[PolysemyItem]) -> float:
    """Accuracy of always predicting each word's most frequent sense."""
    by_word: dict[str, list[str]] = {}
    for it in items:
        by_word.setdefault(it.word, []).append(it.sense)
    return sum(Counter(s).most_common(1)[0][1] for s in by_word.values()) / len(items)


def sense_separation(vectors, items: Sequence[PolysemyItem]) -> dict[str, float]:
    """All measures, word by word: accuracies pooled over sentences, silhouette pooled over
    sentences, cosine gap averaged over words."""
    x = as_row_vectors(vectors)
    if len(x) != len(items):
        raise ValueError(f"got {len(x)} vectors for {len(items)} items")
    words = list(dict.fromkeys(it.word for it in items))
    n = len(items)
    totals = {"centroid_acc": 0.0, "1nn_acc": 0.0, "silhouette": 0.0}
    within, across, gap = [], [], []
    for w in words:
        idx = [i for i, it in enumerate(items) if it.word == w]
        xw, lw = x[idx], [items[i].sense for i in idx]
        totals["centroid_acc"] += loo_centroid_accuracy(xw, lw) * len(idx) / n
        totals["1nn_acc"] += loo_1nn_accuracy(xw, lw) * len(idx) / n
        wi, ac, g = cosine_gap(xw, lw)
        within.append(wi)
        across.append(ac)
        gap.append(g)
    totals["silhouette"] = float(silhouette_by_sentence(x, items).mean())
    return {
        **totals,
        "within_cos": float(np.mean(within)),
        "across_cos": float(np.mean(across)),
        "cos_gap": float(np.mean(gap)),
    }


def format_table(rows: dict[str, dict[str, float]]) -> str:
    """A plain-text table, one row per representation."""
    cols = ["centroid_acc", "1nn_acc", "silhouette", "within_cos", "across_cos", "cos_gap"]
    width = max(len(name) for name in rows) + 2
    lines = [f"{'representation':<{width}}" + "".join(f"{c:>13}" for c in cols)]
    for name, res in rows.items():
        lines.append(f"{name:<{width}}" + "".join(f"{res[c]:>13.3f}" for c in cols))
    return "\n".join(lines)
