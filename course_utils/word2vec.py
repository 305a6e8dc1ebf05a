"""word2vec: skip-gram with negative sampling (SGNS) and CBOW from scratch, and through gensim.

The pieces, in the order the notebook teaches them:

* the corpus pipeline: ``Word2VecCorpus`` (vocabulary with a ``min_count`` cut-off, the corpus as
  one id array), ``keep_probabilities`` (Mikolov's subsampling of frequent words),
  ``context_windows`` (the dynamic window; ``skipgram_pairs`` lists its pairs) and
  ``noise_distribution`` (unigram^0.75) with ``NegativeSampler``;
* the loss and its hand-derived gradients, for a whole window at once: ``sgns_loss``,
  ``sgns_grads``. As in word2vec.c, each context word's input vector predicts the center word;
  the window's context words share one draw of k noise words (Ji et al., 2016), so a window's
  scores are one small matrix product;
* training: ``Word2VecConfig``, ``train_word2vec`` (batched, manual SGD, linear learning-rate
  decay as in word2vec.c), returning a ``Word2VecResult``;
* gensim: ``train_gensim_word2vec`` and ``to_keyed_vectors`` (so that both models go through the
  same evaluation code);
* evaluation: ``evaluate_similarity`` (Spearman against human scores), ``evaluate_analogies``
  (3CosAdd, in-vocabulary questions only, OOV rate reported) and ``random_baseline``.
  Nearest neighbours come from ``course_utils.similarity``, the same function chapter 01
  uses (``nearest_neighbours(kv.vectors, kv.index_to_key, word)``); an unknown word raises
  ``OOVError`` with near spellings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .tools.checks import finite_number, non_negative_int, one_of, positive_int
from .tools.packages import require
from .tools.progress import progress
from .vocab import Vocab, check_sentences

require("gensim", "gensim", "course_utils.word2vec (the reference word2vec and its evaluation)")

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


# --------------------------------------------------------------------------
# Corpus pipeline
# --------------------------------------------------------------------------


class Word2VecCorpus:
    """A tokenised corpus as one id array, ready for word2vec.

    Words rarer than ``min_count`` are dropped before windows are built (as in word2vec.c and
    gensim), so a window can reach over a dropped word. ``ids[i]`` is the word id of token ``i``
    and ``sentence_ids[i]`` the sentence it came from: windows never cross sentences.
    """

    def __init__(self, sentences: Sequence[Sequence[str]], min_count: int = 5) -> None:
        check_sentences(sentences)
        self.vocab = Vocab(sentences, min_freq=min_count, specials=(), unk_token=None)
        if len(self.vocab) == 0:
            raise ValueError(
                f"no word occurs at least min_count={min_count} times; "
                "lower min_count or give a larger corpus"
            )
        self.words: list[str] = list(self.vocab.itos)
        self.counts = np.array([self.vocab.counts[w] for w in self.words], dtype=np.int64)
        stoi = self.vocab.stoi
        ids, sent = [], []
        for s, sentence in enumerate(sentences):
            kept = [stoi[w] for w in sentence if w in stoi]
            ids.extend(kept)
            sent.extend([s] * len(kept))
        self.ids = np.array(ids, dtype=np.int64)  # (n_tokens,)
        self.sentence_ids = np.array(sent, dtype=np.int64)  # (n_tokens,)
        self.n_raw_tokens = int(sum(len(s) for s in sentences))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_pairs(self) -> bool:
        """Whether a sentence keeps two words, so that a window holds a (center, context) pair."""
        return bool(np.any(self.sentence_ids[1:] == self.sentence_ids[:-1]))

    def __repr__(self) -> str:
        return (
            f"Word2VecCorpus(vocab={len(self.words):,}, tokens={len(self.ids):,} "
            f"of {self.n_raw_tokens:,} raw)"
        )


def _check_counts(counts, positive: bool = False) -> np.ndarray:
    """``counts`` as a float64 1-D array of word counts: non-empty, and every count > 0
    (``positive``) or every count >= 0 and not all zero."""
    c = np.asarray(counts, dtype=np.float64)
    if positive:
        ok = c.ndim == 1 and len(c) > 0 and bool(np.all(c > 0))
        wanted = "positive word counts"
    else:
        ok = c.ndim == 1 and len(c) > 0 and bool(np.all(c >= 0)) and c.sum() > 0
        wanted = "non-negative counts, not all zero"
    if not ok:
        raise ValueError(f"counts must be a non-empty 1-D array of {wanted}")
    return c


def keep_probabilities(counts, sample: float = 1e-3) -> np.ndarray:
    """Probability of keeping each occurrence of a word, as in word2vec.c and gensim.

    With ``f = count / total``: ``keep = (sqrt(f / sample) + 1) * sample / f``, capped at 1.
    (The paper's discard probability is ``1 - sqrt(sample / f)``; the code keeps a little more.)
    ``sample=0`` turns subsampling off.
    """
    c = _check_counts(counts, positive=True)  # (V,) float64, every count > 0
    finite_number("sample", sample, low=0.0)
    if sample == 0:
        return np.ones_like(c)
    f = c / c.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1.0) * sample / f)


def subsample(ids: np.ndarray, keep_prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the tokens kept this epoch (each token is a fresh coin flip)."""
    return rng.random(len(ids)) < keep_prob[ids]


def context_windows(
    ids: np.ndarray, sentence_ids: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each center id with its context ids (the dynamic window), padded with -1.

    Each center token draws its own window ``b`` uniformly from 1..``window`` and sees the tokens
    at distance 1..b on both sides, within its sentence. Near words are thus used more often than
    far ones (distance d with probability ``(window - d + 1) / window``). Returns the centers
    (n,) and their contexts (n, 2 * window): columns ``window - d`` and ``window + d - 1`` hold
    the words at distance d to the left and right. Centers with no context are left out.
    """
    positive_int("window", window)
    n = len(ids)
    b = rng.integers(1, window + 1, size=n)  # (n,) each center's own window
    ctx = np.full((n, 2 * window), -1, dtype=np.int64)  # (n, 2 * window)
    for d in range(1, min(window, n - 1) + 1):
        same = sentence_ids[:-d] == sentence_ids[d:]  # (n - d,) token i and i + d share a sentence
        left = same & (b[d:] >= d)  # center i + d sees token i on its left
        right = same & (b[:-d] >= d)  # center i sees token i + d on its right
        ctx[d:, window - d] = np.where(left, ids[:-d], -1)
        ctx[:-d, window + d - 1] = np.where(right, ids[d:], -1)
    has = (ctx >= 0).any(axis=1)
    return ids[has], ctx[has]


def skipgram_pairs(
    ids: np.ndarray, sentence_ids: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The (center, context) id pairs of ``context_windows``: one pair per real context word."""
    centers, ctx = context_windows(ids, sentence_ids, window, rng)
    real = ctx >= 0  # (n, 2 * window)
    return np.repeat(centers, real.sum(axis=1)), ctx[real]


def noise_distribution(counts, exponent: float = 0.75) -> np.ndarray:
    """The negative-sampling distribution: ``count ** exponent``, normalised.

    0.75 flattens the unigram distribution: rare words are drawn more often than their frequency.
    """
    c = _check_counts(counts)  # (V,) float64, counts >= 0, not all zero
    p = c**exponent
    return p / p.sum()


class NegativeSampler:
    """Draws noise word ids from ``probs`` with a lookup table, as word2vec.c does.

    Word ``w`` fills about ``probs[w] * table_size`` slots of the table, so a uniform slot is a
    draw from ``probs``: one random integer and one lookup per sample, with no search.
    """

    def __init__(self, probs, seed: int = 0, table_size: int = 10_000_000) -> None:
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 1 or len(p) == 0 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
            raise ValueError("probs must be a 1-D probability vector (non-negative, summing to 1)")
        ends = np.round(np.cumsum(p) * table_size).astype(np.int64)  # (vocab,) last slot + 1
        self.table = np.repeat(np.arange(len(p), dtype=np.int64), np.diff(ends, prepend=0))
        self.rng = np.random.default_rng(seed)

    def sample(self, shape) -> np.ndarray:
        return self.table[self.rng.integers(0, len(self.table), size=shape)]


# --------------------------------------------------------------------------
# The SGNS loss and its gradients
# --------------------------------------------------------------------------


def sgns_loss(v: torch.Tensor, u: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """SGNS loss of each window, summed over its pairs: ``-log s(u_0.v) - sum_j log s(-u_j.v)``.

    v: (batch, m, d) input vectors of a window's m context words. u: (batch, 1 + k, d) output
    vectors: column 0 the center word, columns 1..k the noise words, shared by the m pairs.
    mask: (batch, m), True for real context words (padding adds nothing). Returns (batch,).
    """
    s = torch.bmm(v, u.transpose(1, 2))  # (batch, m, 1 + k) one score per pair and output word
    pair = -F.logsigmoid(s[:, :, 0]) - F.logsigmoid(-s[:, :, 1:]).sum(2)  # (batch, m)
    return (pair if mask is None else pair * mask).sum(1)


def sgns_grads(
    v: torch.Tensor, u: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hand-derived gradients of ``sgns_loss`` (summed over the batch): returns (dv, du).

    With scores ``S = V U^T`` and labels ``Y`` (1 in the center word's column, 0 for noise):
    ``dL/dS = sigmoid(S) - Y = G``, so ``dL/dV = G U`` and ``dL/dU = G^T V``.
    """
    g = torch.sigmoid(torch.bmm(v, u.transpose(1, 2)))  # (batch, m, 1 + k)
    g[:, :, 0] -= 1.0  # minus the labels Y = (1, 0, ..., 0)
    if mask is not None:
        g *= mask.unsqueeze(2)  # padding: no gradient
    dv = torch.bmm(g, u)  # (batch, m, d)
    du = torch.bmm(g.transpose(1, 2), v)  # (batch, 1 + k, d)
    return dv, du


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Word2VecConfig:
    """Hyper-parameters; the names and defaults follow gensim's ``Word2Vec``."""

    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    sg: int = 1  # 1 = skip-gram, 0 = CBOW
    negative: int = 5
    sample: float = 1e-3
    epochs: int = 5
    alpha: float = 0.025  # start learning rate (gensim uses 0.05 for CBOW)
    min_alpha: float = 1e-4
    ns_exponent: float = 0.75
    batch_size: int = 1024  # windows (center words) per update
    seed: int = 0
    threads: int | None = 1  # torch CPU threads; 1 compares fairly with gensim's workers=1

    def __post_init__(self) -> None:
        for name in ("vector_size", "window", "min_count", "negative", "epochs", "batch_size"):
            positive_int(name, getattr(self, name))
        if self.sg not in (0, 1):
            raise ValueError(f"sg must be 1 (skip-gram) or 0 (CBOW), got {self.sg!r}")
        if self.sample < 0 or self.alpha <= 0 or self.min_alpha < 0:
            raise ValueError("sample and min_alpha must be >= 0 and alpha > 0")


@dataclass
class Word2VecResult:
    """A trained model: ``words[i]`` has input vector ``vectors[i]``."""

    words: list[str]
    vectors: np.ndarray  # (vocab, d) input ("center") embeddings, the ones people use
    out_vectors: np.ndarray  # (vocab, d) output ("context") embeddings
    seconds: float
    words_per_second: float  # raw corpus tokens x epochs / wall time, as gensim counts
    losses: list[float] = field(default_factory=list)  # loss of every 50th batch

    def keyed_vectors(self):
        return to_keyed_vectors(self.words, self.vectors)


def _sgd_rows(table: torch.Tensor, rows: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
    """Sparse SGD: ``table[rows] -= lr * grad``, the gradients of repeated rows summed."""
    table.index_add_(0, rows.flatten(), grad.flatten(0, -2), alpha=-lr)


def _train_batch_sg(w_in, w_out, center, ctx, negatives, lr, want_loss=False):
    mask = ctx >= 0  # (B, 2w) real context words, not padding
    ctx = ctx.clamp(min=0)  # padding looks up row 0; its gradient is masked to 0
    rows = torch.cat([center.unsqueeze(1), negatives], 1)  # (B, 1 + k) the center, then noise
    v, u = F.embedding(ctx, w_in), F.embedding(rows, w_out)  # (B, 2w, d), (B, 1 + k, d)
    loss = float(sgns_loss(v, u, mask).sum() / mask.sum()) if want_loss else None
    dv, du = sgns_grads(v, u, mask)
    _sgd_rows(w_in, ctx, dv, lr)
    _sgd_rows(w_out, rows, du, lr)
    return loss


def _train_batch_cbow(w_in, w_out, center, ctx, negatives, lr, want_loss=False):
    mask = ctx >= 0  # (B, 2w) real context words, not padding
    ctx = ctx.clamp(min=0)
    rows = torch.cat([center.unsqueeze(1), negatives], 1)  # (B, 1 + k) the center, then noise
    v, u = F.embedding(ctx, w_in), F.embedding(rows, w_out)  # (B, 2w, d), (B, 1 + k, d)
    weights = mask / mask.sum(1, keepdim=True)  # (B, 2w) 1/|C| for each real context word
    h = torch.bmm(weights.unsqueeze(1), v)  # (B, 1, d) the mean context vector
    loss = float(sgns_loss(h, u).mean()) if want_loss else None
    dh, du = sgns_grads(h, u)  # (B, 1, d), (B, 1 + k, d)
    # word2vec.c adds the full gradient of the mean h to every context word (cbow_mean=1)
    _sgd_rows(w_in, ctx, dh * mask.unsqueeze(2), lr)  # (B, 2w, d)
    _sgd_rows(w_out, rows, du, lr)
    return loss


def _epoch_examples(
    corpus: Word2VecCorpus, config: Word2VecConfig, keep: np.ndarray, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch's shuffled windows: subsample, then the dynamic windows (centers, contexts)."""
    kept = subsample(corpus.ids, keep, rng)
    centers, contexts = context_windows(
        corpus.ids[kept], corpus.sentence_ids[kept], config.window, rng
    )
    order = rng.permutation(len(centers))
    return torch.from_numpy(centers[order]), torch.from_numpy(contexts[order])


def train_word2vec(
    corpus: Word2VecCorpus | Sequence[Sequence[str]],
    config: Word2VecConfig = Word2VecConfig(),
    show_progress: bool = True,
) -> Word2VecResult:
    """Train SGNS (``config.sg=1``) or CBOW with negative sampling (``sg=0``) from scratch.

    Each epoch subsamples the corpus, builds all windows at once with numpy, shuffles them and
    runs minibatch SGD over ``batch_size`` windows at a time with the hand-derived gradients (no
    autograd, sparse row updates). The learning rate decays linearly from ``alpha`` to
    ``min_alpha`` over all epochs.
    """
    t0 = time.perf_counter()
    if not isinstance(corpus, Word2VecCorpus):
        corpus = Word2VecCorpus(corpus, min_count=config.min_count)
    if not corpus.has_pairs:
        raise ValueError(_NO_PAIRS.format(min_count=config.min_count))
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    vocab, d, k, bs = len(corpus.words), config.vector_size, config.negative, config.batch_size
    w_in = (torch.rand(vocab, d, generator=gen) - 0.5) / d  # (vocab, d) as word2vec.c
    w_out = torch.zeros(vocab, d)  # (vocab, d)
    keep = keep_probabilities(corpus.counts, config.sample)
    noise = noise_distribution(corpus.counts, config.ns_exponent)
    sampler = NegativeSampler(noise, seed=config.seed)
    step = _train_batch_sg if config.sg == 1 else _train_batch_cbow
    losses: list[float] = []
    bar = progress(
        total=config.epochs,
        desc="word2vec " + ("SGNS" if config.sg else "CBOW"),
        unit="epoch",
        **({} if show_progress else {"disable": True}),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or threads)
    try:
        with torch.no_grad():
            for epoch in range(config.epochs):
                centers, contexts = _epoch_examples(corpus, config, keep, rng)
                n = len(centers)
                for b, i in enumerate(range(0, n, bs)):
                    done = (epoch + i / max(n, 1)) / config.epochs  # fraction of training done
                    lr = config.alpha - (config.alpha - config.min_alpha) * done
                    lr = max(config.min_alpha, lr)
                    t, c = centers[i : i + bs], contexts[i : i + bs]  # (B,), (B, 2 * window)
                    negatives = torch.from_numpy(sampler.sample((len(t), k)))  # (B, k)
                    loss = step(w_in, w_out, t, c, negatives, lr, want_loss=b % 50 == 0)
                    if loss is not None:
                        losses.append(loss)
                bar.update(1)
    finally:
        torch.set_num_threads(threads)
        bar.close()
    seconds = time.perf_counter() - t0
    return Word2VecResult(
        corpus.words,
        w_in.numpy(),
        w_out.numpy(),
        seconds,
        corpus.n_raw_tokens * config.epochs / seconds,
        losses,
    )


# --------------------------------------------------------------------------
# gensim
# --------------------------------------------------------------------------

_NO_PAIRS = (
    "no sentence keeps two words after min_count={min_count}, so there is no "
    "(center, context) pair to train on; give longer sentences or lower min_count"
)


def train_gensim_word2vec(
    sentences: Sequence[Sequence[str]],
    vector_size: int = 100,
    window: int = 5,
    min_count: int = 5,
    epochs: int = 5,
    sg: int = 1,
    negative: int = 5,
    sample: float = 1e-3,
    seed: int = 0,
    workers: int = 1,
    hs: int = 0,
):
    """Train ``gensim.models.Word2Vec`` and return its ``KeyedVectors``.

    ``workers=1`` with a fixed ``seed`` is deterministic (with PYTHONHASHSEED fixed);
    several workers are faster but not reproducible. The steps are those of gensim's
    constructor (build the vocabulary, then train), with the course's checks between them.
    ``hs=1, negative=0`` trains with the hierarchical softmax instead of negative sampling;
    each word's Huffman code is then in ``kv.get_vecattr(word, "code")``.
    """
    from gensim.models import Word2Vec

    check_sentences(sentences)
    for name, value in (
        ("vector_size", vector_size),
        ("window", window),
        ("min_count", min_count),
        ("epochs", epochs),
        ("workers", workers),
    ):
        positive_int(name, value)
    one_of("sg (1 skip-gram, 0 CBOW)", sg, (0, 1))
    one_of("hs (1 hierarchical softmax, 0 not)", hs, (0, 1))
    non_negative_int("negative", negative)
    if hs == 0 and negative == 0:
        raise ValueError("negative=0 needs hs=1: without either there is no output layer to train")
    model = Word2Vec(
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        sg=sg,
        negative=negative,
        hs=hs,
        sample=sample,
        epochs=epochs,
        seed=seed,
        workers=workers,
    )
    model.build_vocab(corpus_iterable=sentences)
    known = model.wv.key_to_index
    if not known:
        raise ValueError(
            f"no word occurs at least min_count={min_count} times; "
            "lower min_count or give a larger corpus"
        )
    if not any(sum(w in known for w in s) >= 2 for s in sentences):
        raise ValueError(_NO_PAIRS.format(min_count=min_count))
    model.train(
        corpus_iterable=sentences,
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
        epochs=model.epochs,
        start_alpha=model.alpha,
        end_alpha=model.min_alpha,
        compute_loss=model.compute_loss,
    )
    return model.wv


def gensim_from_config(sentences: Sequence[Sequence[str]], config: Word2VecConfig):
    """gensim with the hyper-parameters of ``config``: returns (KeyedVectors, seconds, words/s)."""
    check_sentences(sentences)
    t0 = time.perf_counter()
    kv = train_gensim_word2vec(
        sentences,
        vector_size=config.vector_size,
        window=config.window,
        min_count=config.min_count,
        epochs=config.epochs,
        sg=config.sg,
        negative=config.negative,
        sample=config.sample,
        seed=config.seed,
        workers=1,
    )
    seconds = time.perf_counter() - t0
    n_raw = sum(len(s) for s in sentences)
    return kv, seconds, n_raw * config.epochs / seconds


def to_keyed_vectors(words: Sequence[str], vectors):
    """Wrap vectors as gensim ``KeyedVectors`` so that every model shares one evaluation path."""
    from gensim.models import KeyedVectors

    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != len(words):
        raise ValueError(f"expected vectors of shape ({len(words)}, d), got {arr.shape}")
    kv = KeyedVectors(vector_size=arr.shape[1])
    kv.add_vectors(list(words), arr)
    return kv


def random_baseline(kv, seed: int = 0):
    """The same vocabulary with random Gaussian vectors: what "no training" scores."""
    rng = np.random.default_rng(seed)
    return to_keyed_vectors(list(kv.index_to_key), rng.standard_normal(kv.vectors.shape))


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------

EVALUATION_SETS = {
    "wordsim353": "WordSim-353 (gensim test data)",
    "google_analogies": "Google analogy questions (gensim test data)",
    "zh_similarity": "the course's Chinese similarity pairs (data/zh_word_similarity.tsv)",
    "zh_analogies": "the course's Chinese analogies (data/zh_analogies.txt)",
}


def evaluation_path(name_or_path: str | Path) -> Path:
    """Path of an evaluation file: one of ``EVALUATION_SETS`` or an existing path."""
    from . import corpora

    named = {
        "wordsim353": corpora.wordsim353_path,
        "google_analogies": corpora.google_analogies_path,
        "zh_similarity": lambda: DATA_DIR / "zh_word_similarity.tsv",
        "zh_analogies": lambda: DATA_DIR / "zh_analogies.txt",
    }
    if isinstance(name_or_path, str) and name_or_path in named:
        path = Path(named[name_or_path]())
    else:
        path = Path(name_or_path)
        if not path.exists():
            raise FileNotFoundError(
                f"unknown evaluation set {str(name_or_path)!r}: expected one "
                f"of {sorted(named)} or the path of an existing file"
            )
    if not path.exists():
        raise FileNotFoundError(
            f"evaluation file {path} is missing; it ships with the course "
            "repository (data/) or with gensim's test data"
        )
    return path


def read_similarity_pairs(name_or_path: str | Path) -> list[tuple[str, str, float]]:
    """``word1<TAB>word2<TAB>score`` lines; ``#`` comments and blank lines are skipped."""
    path = evaluation_path(name_or_path)
    pairs = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            pairs.append((parts[0].strip(), parts[1].strip(), float(parts[2])))
        except (IndexError, ValueError):
            raise ValueError(
                f"{path.name} line {no}: expected 'word1<TAB>word2<TAB>score', got {line!r}"
            ) from None
    if not pairs:
        raise ValueError(f"{path.name} holds no similarity pairs")
    return pairs


def read_analogies(name_or_path: str | Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """``: section`` headers, then ``a b c d`` lines (a is to b as c is to d).

    ``#`` comment lines and blank lines are skipped.
    """
    path = evaluation_path(name_or_path)
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(":"):
            current = line[1:].strip()
            sections.setdefault(current, [])
            continue
        words = line.split()
        if current is None or len(words) != 4:
            raise ValueError(
                f"{path.name} line {no}: expected four words after a ': section' "
                f"header, got {line!r}"
            )
        sections[current].append((words[0], words[1], words[2], words[3]))
    if not any(sections.values()):
        raise ValueError(f"{path.name} holds no analogy questions")
    return sections


@dataclass(frozen=True)
class SimilarityResult:
    spearman: float
    pearson: float
    n_used: int
    n_total: int
    human: tuple[float, ...] = ()  # human scores of the pairs used
    model: tuple[float, ...] = ()  # the model's cosine similarities of the same pairs

    @property
    def oov_rate(self) -> float:
        return 1 - self.n_used / self.n_total


def bootstrap_spearman(result: SimilarityResult, n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """Spearman correlations of ``n_boot`` resamples (with replacement) of the scored pairs.

    The resampled pair indices depend only on ``seed`` and ``n_used``, so two models scored on
    the same pairs are resampled alike: the percentiles of the difference of their bootstrap
    arrays give a paired interval for the difference.
    """
    from scipy import stats

    positive_int("n_boot", n_boot)
    n = result.n_used
    if n < 3 or len(result.human) != n:
        raise ValueError(f"need the scores of at least 3 pairs, got {len(result.human)}")
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))  # (n_boot, n)
    human = stats.rankdata(np.asarray(result.human)[idx], axis=1)  # (n_boot, n) ranks
    model = stats.rankdata(np.asarray(result.model)[idx], axis=1)
    human -= human.mean(1, keepdims=True)
    model -= model.mean(1, keepdims=True)
    norm = np.sqrt((human**2).sum(1) * (model**2).sum(1))  # 0 when a resample has no spread
    with np.errstate(invalid="ignore", divide="ignore"):
        return (human * model).sum(1) / norm


def evaluate_similarity(kv, name_or_path: str | Path = "zh_similarity") -> SimilarityResult:
    """Spearman (and Pearson) correlation of cosine similarity with human scores.

    Pairs with an OOV word are left out (as gensim's ``evaluate_word_pairs`` does) and counted
    in ``oov_rate``.
    """
    from scipy import stats

    pairs = read_similarity_pairs(name_or_path)
    model, human = [], []
    for a, b, score in pairs:
        a, b = a.lower(), b.lower()
        if a in kv.key_to_index and b in kv.key_to_index:
            model.append(float(np.nan_to_num(kv.similarity(a, b))))  # a zero vector: cosine 0
            human.append(score)
    if len(model) < 3:
        return SimilarityResult(float("nan"), float("nan"), len(model), len(pairs))
    return SimilarityResult(
        float(stats.spearmanr(human, model)[0]),
        float(stats.pearsonr(human, model)[0]),
        len(model),
        len(pairs),
        tuple(human),
        tuple(model),
    )


@dataclass(frozen=True)
class AnalogyResult:
    accuracy: float  # over in-vocabulary questions
    n_correct: int
    n_used: int
    n_total: int
    sections: dict[str, tuple[int, int]]  # section -> (correct, used)

    @property
    def oov_rate(self) -> float:
        return 1 - self.n_used / self.n_total


def evaluate_analogies(
    kv, name_or_path: str | Path = "zh_analogies", restrict_vocab: int = 300_000
) -> AnalogyResult:
    """Accuracy on ``a : b :: c : d`` questions by 3CosAdd (``b - a + c``, cosine, the three
    question words excluded), like gensim's ``evaluate_word_analogies``.

    Only questions whose four words are among the ``restrict_vocab`` most frequent words count;
    the others are reported in ``oov_rate``. Vectorised: one matrix product per section.
    """
    sections = read_analogies(name_or_path)
    words = kv.index_to_key[:restrict_vocab]
    index = {w: i for i, w in enumerate(words)}
    vectors = np.asarray(kv.vectors[: len(words)], dtype=np.float32)  # (vocab, d)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # (vocab, 1)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)  # zero rows: 0
    unit_t = torch.from_numpy(np.ascontiguousarray(unit))
    per_section: dict[str, tuple[int, int]] = {}
    n_total = 0
    for name, questions in sections.items():
        n_total += len(questions)
        rows = [
            [index[w.lower()] for w in q] for q in questions if all(w.lower() in index for w in q)
        ]
        if not rows:
            per_section[name] = (0, 0)
            continue
        q = torch.tensor(rows)  # (n, 4)
        correct = 0
        for start in range(0, len(q), 1024):
            batch = q[start : start + 1024]
            query = unit_t[batch[:, 1]] - unit_t[batch[:, 0]] + unit_t[batch[:, 2]]  # (n, d)
            sims = query @ unit_t.T  # (n, vocab)
            sims.scatter_(1, batch[:, :3], float("-inf"))  # never answer a question word
            correct += int((sims.argmax(1) == batch[:, 3]).sum())
        per_section[name] = (correct, len(rows))
    n_correct = sum(c for c, _ in per_section.values())
    n_used = sum(u for _, u in per_section.values())
    return AnalogyResult(
        n_correct / n_used if n_used else float("nan"), n_correct, n_used, n_total, per_section
    )
