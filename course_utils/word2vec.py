"""word2vec: skip-gram with negative sampling from scratch, and through gensim."""

from __future__ import annotations

from collections.abc import Sequence


def train_gensim_word2vec(sentences: Sequence[Sequence[str]], vector_size: int = 100, window: int = 5,
                          min_count: int = 5, epochs: int = 5, sg: int = 1, negative: int = 5,
                          sample: float = 1e-3, seed: int = 0, workers: int = 1):
    """Train ``gensim.models.Word2Vec`` and return its ``KeyedVectors``.

    ``workers=1`` with a fixed ``seed`` is deterministic (with PYTHONHASHSEED fixed);
    several workers are faster but not reproducible.
    """
    from gensim.models import Word2Vec

    if not sentences:
        raise ValueError("sentences is empty: expected a list of token lists")
    model = Word2Vec(sentences=sentences, vector_size=vector_size, window=window, min_count=min_count,
                     sg=sg, negative=negative, sample=sample, epochs=epochs, seed=seed, workers=workers)
    return model.wv
