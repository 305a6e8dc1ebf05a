"""Word vectors by counting and compressing (信息压缩与特征提取).

1. ``cooccurrence_matrix``: how often word j appears within ``window`` words of word i.
2. ``ppmi``: positive pointwise mutual information, which turns raw counts into
   "more often together than chance" scores.
3. ``truncated_svd``: compress each word's V-dimensional row to k numbers.

The vectors are then compared by cosine (``course_utils.similarity``). This is the
count-based cousin of word2vec (chapter 03).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from .tools.checks import finite_number, positive_int
from .vocab import check_sentences


def cooccurrence_matrix(
    sentences: Sequence[Sequence[str]], vocab: Sequence[str], window: int = 2
) -> sparse.csr_matrix:
    """Symmetric (V, V) counts: entry (i, j) counts word j within ``window`` words of word i.

    Words outside ``vocab`` are dropped before windows are taken.
    """
    check_sentences(sentences)
    positive_int("window", window)
    index = {w: i for i, w in enumerate(vocab)}
    if len(index) != len(vocab):
        raise ValueError("vocab has repeated words; pass each word once")
    n = len(index)
    rows, cols = [], []
    for sent in sentences:
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


def _check_ppmi_inputs(counts, smoothing: float) -> sparse.csr_matrix:
    """``counts`` as a float64 CSR matrix, checked: square, non-negative, not all zeros;
    ``smoothing`` a finite number > 0."""
    finite_number("smoothing", smoothing, low=0, low_inclusive=False)
    m = sparse.csr_matrix(counts, dtype=np.float64)
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"ppmi expects a square co-occurrence matrix, got shape {m.shape}")
    if m.nnz and m.data.min() < 0:
        raise ValueError("co-occurrence counts must be non-negative")
    if m.sum() == 0:
        raise ValueError("the co-occurrence matrix is all zeros")
    return m


def ppmi(counts, smoothing: float = 0.75) -> sparse.csr_matrix:
    """Positive PMI: max(0, log[P(i, j) / (P(i) P_s(j))]) of a co-occurrence matrix.

    ``P_s(j) = count(j)**s / sum_k count(k)**s`` with ``s = smoothing``: the
    context counts are raised to that power (0.75, as word2vec does), which
    keeps rare context words from getting huge scores. ``smoothing=1`` gives
    plain PPMI.
    """
    m = _check_ppmi_inputs(counts, smoothing)  # square non-negative counts, smoothing > 0
    total = m.sum()
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
        raise ValueError(
            f"k must be an int in [1, {n_features}) for a matrix of shape {matrix.shape}, got {k!r}"
        )
    if sparse.issparse(matrix):
        total = float(matrix.multiply(matrix).sum())  # ||M||_F^2
    else:
        total = float(np.square(np.asarray(matrix, dtype=np.float64)).sum())
    if total == 0:
        raise ValueError("the matrix is all zeros; there is nothing to compress")
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=7, random_state=seed)
    vectors = svd.fit_transform(matrix)
    return vectors, svd.singular_values_**2 / total
