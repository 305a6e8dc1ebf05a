"""Next-character guessing by counting: a character bigram model (字符二元模型).

The model counts how often character ``b`` follows character ``a`` in the
training texts and predicts with add-alpha smoothing::

    P(b | a) = (count(a, b) + alpha) / (count(a) + alpha * V)

``V`` is the number of symbols the model can predict: every training character,
``<unk>`` (any character never seen in training) and ``<eos>`` (end of line).
Each line starts from ``<bos>``. Counts are kept sparse (sorted pair codes),
so a vocabulary of thousands of characters costs only the pairs actually seen.

Used in chapter 01 to show what counting can (and cannot) do, and by the GPT
chapter as its baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .tools.checks import finite_number, instance_of, non_negative_int, positive_int

BOS, EOS, UNK = "<bos>", "<eos>", "<unk>"


def _check_texts(texts, what: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise TypeError(
            f"{what} must be a list of strings (one per line), not one string; "
            f"wrap it as [{texts[:10]!r}...]"
        )
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(
                f"{what}[{i}] is a {type(t).__name__}; expected a plain string "
                "(join token lists with ''.join(tokens))"
            )
    return texts


class CharBigramModel:
    """Character bigram model with add-alpha smoothing.

    >>> m = CharBigramModel(alpha=0.1).fit(["床前明月光", "明月几时有"])
    >>> m.most_likely_next("明", 1)
    [('月', 0.7)]
    """

    def __init__(self, alpha: float = 0.1) -> None:
        finite_number("alpha (add-alpha smoothing)", alpha, low=0, low_inclusive=False)
        self.alpha = float(alpha)
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}

    # ------------------------------------------------------------------ fitting
    def fit(self, texts: list[str]) -> CharBigramModel:
        """Count the character pairs of ``texts`` (each line gets <bos> ... <eos>)."""
        texts = _check_texts(texts)
        if not any(texts):
            raise ValueError("fit needs at least one non-empty text")
        chars = sorted({c for t in texts for c in t})
        # ids: 0 <bos> (context only), 1 <eos>, 2 <unk>, then the characters
        self.itos = [BOS, EOS, UNK, *chars]
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        prev, nxt = self._pairs(texts)
        n = len(self.itos)
        codes, counts = np.unique(prev * n + nxt, return_counts=True)
        self._codes = codes  # sorted pair codes prev * n + next
        self._counts = counts.astype(np.float64)
        self._row_totals = np.bincount(prev, minlength=n).astype(np.float64)
        self.n_pairs_seen = int(len(codes))
        self.n_train_chars = int(sum(len(t) for t in texts))
        return self

    def _pairs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(previous id, next id) for every prediction: each char, then <eos>."""
        unk = self.stoi[UNK]
        seqs = []
        for t in texts:
            ids = [0] + [self.stoi.get(c, unk) for c in t] + [1]
            seqs.append(np.asarray(ids, dtype=np.int64))
        prev = np.concatenate([s[:-1] for s in seqs])
        nxt = np.concatenate([s[1:] for s in seqs])
        return prev, nxt

    def _require_fit(self) -> None:
        if not self.itos:
            raise RuntimeError("the model is not fitted yet: call .fit(texts) first")

    @property
    def vocab_size(self) -> int:
        """V: the symbols the model can predict (characters, <unk>, <eos>)."""
        self._require_fit()
        return len(self.itos) - 1  # <bos> is never predicted

    # --------------------------------------------------------------- inference
    def _pair_counts(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        q = prev * len(self.itos) + nxt
        idx = np.searchsorted(self._codes, q)
        idx_c = np.minimum(idx, len(self._codes) - 1)
        found = self._codes[idx_c] == q
        return np.where(found, self._counts[idx_c], 0.0)

    def _log_probs(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        num = self._pair_counts(prev, nxt) + self.alpha
        den = self._row_totals[prev] + self.alpha * self.vocab_size
        return np.log(num) - np.log(den)

    def prob(self, prev: str, nxt: str) -> float:
        """P(nxt | prev); use "<bos>" for the start of a line, "<eos>" for its end."""
        self._require_fit()
        a = self.stoi.get(prev, self.stoi[UNK])
        b = self.stoi.get(nxt, self.stoi[UNK])
        if b == 0:
            raise ValueError("<bos> is never predicted; ask about a character or <eos>")
        return float(np.exp(self._log_probs(np.array([a]), np.array([b])))[0])

    def count(self, prev: str, nxt: str) -> int:
        """How often ``nxt`` followed ``prev`` in training (0 for unseen pairs)."""
        self._require_fit()
        a, b = self.stoi.get(prev), self.stoi.get(nxt)
        if a is None or b is None:
            return 0
        return int(self._pair_counts(np.array([a]), np.array([b]))[0])

    def next_distribution(self, prev: str) -> np.ndarray:
        """P(. | prev) over ``self.itos`` (entry 0, <bos>, is always 0)."""
        self._require_fit()
        a = self.stoi.get(prev, self.stoi[UNK])
        n = len(self.itos)
        row = np.full(n, self.alpha)
        lo, hi = np.searchsorted(self._codes, [a * n, (a + 1) * n])
        row[self._codes[lo:hi] - a * n] += self._counts[lo:hi]
        row[0] = 0.0
        return row / row.sum()

    def most_likely_next(self, prev: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable next symbols after ``prev`` with their probabilities."""
        p = self.next_distribution(prev)
        top = np.argsort(-p, kind="stable")[:k]
        return [(self.itos[i], float(p[i])) for i in top]

    def cross_entropy(self, texts: list[str]) -> float:
        """Mean negative log-likelihood in nats per character of held-out ``texts``.

        Every character is predicted from the one before it (the first from <bos>);
        the end-of-line prediction is not counted, so the figure is per character
        and compares with a character-level language model's loss.
        """
        self._require_fit()
        texts = [t for t in _check_texts(texts) if t]
        if not texts:
            raise ValueError("cross_entropy needs at least one non-empty text")
        prev, nxt = self._pairs(texts)
        keep = nxt != 1  # drop the <eos> predictions
        return float(-self._log_probs(prev[keep], nxt[keep]).mean())

    def unseen_pair_share(self, texts: list[str]) -> float:
        """Share of the character predictions in ``texts`` whose (previous, next) pair never
        occurred in training: the model can give them only the smoothing floor.

        Counted like ``cross_entropy``: every character from the one before it (the first
        from <bos>), end-of-line predictions left out.
        """
        self._require_fit()
        texts = [t for t in _check_texts(texts) if t]
        if not texts:
            raise ValueError("unseen_pair_share needs at least one non-empty text")
        prev, nxt = self._pairs(texts)
        keep = nxt != 1  # drop the <eos> predictions
        return float((self._pair_counts(prev[keep], nxt[keep]) == 0).mean())

    def uniform_cross_entropy(self) -> float:
        """The baseline that guesses every symbol equally: log V nats per character."""
        return math.log(self.vocab_size)

    def generate(
        self, n_chars: int, seed: int = 0, prefix: str = "", top_k: int | None = None
    ) -> str:
        """``prefix`` followed by ``n_chars`` sampled characters.

        Sampling follows the smoothed distribution (only the ``top_k`` most
        likely symbols when given); <unk> is never sampled, and a sampled <eos>
        ends the line, written as a newline (which counts as one of the
        ``n_chars``), after which a new line starts from <bos>.
        """
        self._require_fit()
        non_negative_int("n_chars", n_chars)
        instance_of("prefix", prefix, str)
        if top_k is not None:
            positive_int("top_k", top_k)
        rng = np.random.default_rng(seed)
        unk = self.stoi[UNK]
        prev = self.itos[0] if not prefix or prefix[-1] == "\n" else prefix[-1]
        out = []
        for _ in range(n_chars):
            p = self.next_distribution(prev)
            p[unk] = 0.0
            if top_k is not None and top_k < len(p):
                p[np.argsort(-p, kind="stable")[top_k:]] = 0.0
            i = int(rng.choice(len(p), p=p / p.sum()))
            if i == 1:  # <eos>
                out.append("\n")
                prev = BOS
            else:
                out.append(self.itos[i])
                prev = self.itos[i]
        return prefix + "".join(out)

    def __repr__(self) -> str:
        if not self.itos:
            return f"CharBigramModel(alpha={self.alpha}, unfitted)"
        return (
            f"CharBigramModel(alpha={self.alpha}, V={self.vocab_size}, "
            f"pairs seen={self.n_pairs_seen})"
        )
