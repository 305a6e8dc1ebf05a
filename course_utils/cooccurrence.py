"""Word vectors by counting and compressing (信息压缩与特征提取).

1. ``cooccurrence_matrix``: how often word j appears within ``window`` words of word i.
2. ``ppmi``: positive pointwise mutual information, which turns raw counts into
   "more often together than chance" scores.
3. ``truncated_svd``: compress each word's V-dimensional row to k numbers.
4. ``nearest_neighbours``: words whose vectors point the same way (cosine).

This is the count-based cousin of word2vec (chapter 03).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from .tools.checks import positive_int


def cooccurrence_matrix(sentences: Sequence[Sequence[str]], vocab: Sequence[str],
                        window: int = 2) -> sparse.csr_matrix:
    """Symmetric (V, V) counts: entry (i, j) counts word j within ``window`` words of word i.

    Words outside ``vocab`` are dropped before windows are taken.
    """
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of token lists, not one string")
    positive_int("window", window)
    index = {w: i for i, w in enumerate(vocab)}
    if len(index) != len(vocab):
        raise ValueError("vocab has repeated words; pass each word once")
    n = len(index)
    rows, cols = [], []
    for k, sent in enumerate(sentences):
        if isinstance(sent, str):
            raise TypeError(f"sentence {k} is a string; expected a list of tokens")
        ids = np.fromiter((index[w] for w in sent if w in index), dtype=np.int64)
        for d in range(1, window + 1):
            if len(ids) > d:
                rows.append(ids[:-d])
                cols.append(ids[d:])
    if rows:
        r, c = np.concatenate(rows), np.concatenate(cols)
    else:
        r = c = np.zeros(0, dtype=np.int64)
    data = np.ones(len(r), dtype=np.float64)
    m = sparse.coo_matrix((data, (r, c)), shape=(n, n)).tocsr()
    m = m + m.T  # a pair counts for both words
    m.sum_duplicates()
    return m.tocsr()


def ppmi(counts, smoothing: float = 0.75) -> sparse.csr_matrix:
    """Positive PMI: max(0, log[P(i, j) / (P(i) P_s(j))]) of a co-occurrence matrix.

    ``P_s(j) = count(j)**s / sum_k count(k)**s`` with ``s = smoothing``: the
    context counts are raised to that power (0.75, as word2vec does), which
    keeps rare context words from getting huge scores. ``smoothing=1`` gives
    plain PPMI.
    """
    m = sparse.csr_matrix(counts, dtype=np.float64)
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"ppmi expects a square co-occurrence matrix, got shape {m.shape}")
    if m.nnz and m.data.min() < 0:
        raise ValueError("co-occurrence counts must be non-negative")
    total = m.sum()
    if total == 0:
        raise ValueError("the co-occurrence matrix is all zeros")
    row = np.asarray(m.sum(axis=1)).ravel()
    col = np.asarray(m.sum(axis=0)).ravel() ** smoothing
    coo = m.tocoo()
    p_ij = coo.data / total
    p_i = row[coo.row] / total
    p_j = col[coo.col] / col.sum()
    pmi = np.log(p_ij / (p_i * p_j))
    keep = pmi > 0
    out = sparse.coo_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=m.shape)
    return out.tocsr()


def truncated_svd(matrix, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Compress rows to ``k`` dimensions: returns (vectors (V, k), share kept (k,)).

    The vectors are U * S of the truncated SVD (scikit-learn's randomized solver).
    ``share[i] = s_i**2 / ||M||_F**2`` is the part of the matrix's squared
    Frobenius norm (the sum of all its squared entries) that component i keeps,
    so ``share.sum()`` is how much of M the k dimensions reconstruct. (The SVD is
    not centred, so scikit-learn's ``explained_variance_ratio_``, which uses
    column-centred variances, would not measure this.)
    """
    from sklearn.decomposition import TruncatedSVD

    n_features = matrix.shape[1]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n_features:
        raise ValueError(f"k must be an int in [1, {n_features}) for a matrix of shape "
                         f"{matrix.shape}, got {k!r}")
    if sparse.issparse(matrix):
        total = float(matrix.multiply(matrix).sum())  # ||M||_F^2
    else:
        total = float(np.square(np.asarray(matrix, dtype=np.float64)).sum())
    if total == 0:
        raise ValueError("the matrix is all zeros; there is nothing to compress")
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=7, random_state=seed)
    vectors = svd.fit_transform(matrix)
    return vectors, svd.singular_values_**2 / total


def cosine_similarity_matrix(vectors) -> np.ndarray:
    """(n, n) cosine similarities of the rows (a zero row has similarity 0 to everything)."""
    v = np.asarray(vectors.toarray() if sparse.issparse(vectors) else vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected a 2-D array of row vectors, got shape {v.shape}")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    return unit @ unit.T


def nearest_neighbours(vectors, words: Sequence[str], query: str, k: int = 10
                       ) -> list[tuple[str, float]]:
    """The ``k`` words whose rows have the highest cosine similarity with ``query``'s."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != len(words):
        raise ValueError(f"vectors must have one row per word: got shape {v.shape} "
                         f"for {len(words)} words")
    try:
        q = list(words).index(query)
    except ValueError:
        raise KeyError(f"{query!r} is not in the vocabulary of {len(words)} words") from None
    norms = np.linalg.norm(v, axis=1)
    sims = v @ v[q] / np.maximum(norms * norms[q], 1e-12)
    sims[q] = -np.inf
    top = np.argsort(-sims, kind="stable")[:k]
    return [(words[i], float(sims[i])) for i in top]
