"""Cosine similarity (余弦相似度) of word vectors, and a word's nearest neighbours (近邻).

``cos(u, v) = u·v / (‖u‖ ‖v‖)``: 1 when two vectors point the same way, 0 when they are
orthogonal, -1 when they point in opposite directions. The length of a vector does not
matter, only its direction. One implementation serves every chapter that compares word
vectors: the count-based vectors of chapter 01, word2vec (chapter 03) and the sense
measures of chapter 04 (``polysemy``).

* ``cosine_similarity_matrix``: all pairwise cosines of the rows of a matrix;
* ``nearest_neighbours``: the ``k`` words whose rows are most cosine-similar to a query's;
* an unknown query raises ``OOVError`` (未登录词), which suggests words spelled similarly.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from .tools.checks import positive_int

__all__ = [
    "OOVError",
    "as_row_vectors",
    "check_in_vocab",
    "cosine_similarity_matrix",
    "nearest_neighbours",
    "similar_spellings",
    "unit_rows",
]


def as_row_vectors(vectors) -> np.ndarray:
    """A float64 (n, d) array of row vectors from a numpy array, a scipy sparse matrix or a
    torch tensor; NaN and inf are errors."""
    if hasattr(vectors, "index_to_key"):
        raise TypeError(
            "got gensim KeyedVectors; pass its matrix and its words: (kv.vectors, kv.index_to_key)"
        )
    if sparse.issparse(vectors):
        vectors = vectors.toarray()
    elif hasattr(vectors, "detach"):  # a torch tensor
        vectors = vectors.detach().cpu()
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected a 2-D array of row vectors (n, dim), got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("the vectors contain NaN or inf")
    return v


def unit_rows(v: np.ndarray) -> np.ndarray:
    """Each row divided by its length; a zero row stays zero."""
    norms = np.linalg.norm(v, axis=1, keepdims=True)  # (n, 1)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


def cosine_similarity_matrix(vectors) -> np.ndarray:
    """(n, n) cosine similarities of the rows. A zero row has cosine 0 with everything."""
    unit = unit_rows(as_row_vectors(vectors))  # (n, d)
    return np.clip(unit @ unit.T, -1.0, 1.0)  # (n, n); clip: rounding can pass 1


class OOVError(KeyError):
    """A word is not in the vocabulary; the message suggests near spellings."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def similar_spellings(
    word: str, candidates: Sequence[str], n: int = 5, cutoff: float = 0.5
) -> list[str]:
    """The ``n`` candidates spelled most like ``word`` (difflib ratio >= ``cutoff``).

    Ties go to the candidate listed first, so with a vocabulary in frequency order the
    commoner word wins.
    """
    matcher = difflib.SequenceMatcher(b=word)
    scored = []
    for rank, cand in enumerate(candidates):
        matcher.set_seq1(cand)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            ratio = matcher.ratio()
            if ratio >= cutoff:
                scored.append((-ratio, rank, cand))
    return [cand for _, _, cand in sorted(scored)[:n]]


def check_in_vocab(words: Sequence[str], word: str) -> int:
    """The index of ``word`` in ``words``; ``OOVError`` with near spellings if it is not there."""
    if not isinstance(word, str):
        raise TypeError(f"word must be a str, got {type(word).__name__}")
    words = list(words)
    if word in words:
        return words.index(word)
    near = similar_spellings(word, words)
    hint = "did you mean: " + ", ".join(near) if near else "no known word is spelled similarly"
    raise OOVError(
        f"{word!r} is not in the vocabulary ({len(words):,} words): {hint}. "
        "A word never seen in training has no vector (chapter 04 builds a word's vector from "
        "its characters, so an unseen word still gets one)."
    )


def nearest_neighbours(
    vectors, words: Sequence[str], query: str, k: int = 10
) -> list[tuple[str, float]]:
    """The ``k`` words whose rows have the highest cosine with ``query``'s row, most similar
    first, as ``(word, cosine)``; the query itself is left out.

    ``vectors`` has one row per word of ``words`` (for gensim: ``kv.vectors, kv.index_to_key``).
    """
    v = as_row_vectors(vectors)
    words = list(words)
    if v.shape[0] != len(words):
        raise ValueError(
            f"vectors must have one row per word: got shape {v.shape} for {len(words)} words"
        )
    positive_int("k", k)
    q = check_in_vocab(words, query)
    unit = unit_rows(v)  # (n, d)
    sims = unit @ unit[q]  # (n,) cosine of every word with the query
    order = np.argsort(-sims, kind="stable")
    top = order[order != q][:k]
    return [(words[i], float(sims[i])) for i in top]
