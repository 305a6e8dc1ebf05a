"""ELMo (Peters et al. 2018), scaled down: a character-CNN token encoder, a two-layer
bidirectional LSTM language model, and the scalar mix of its layers.

The design follows the reference ``bilm`` implementation:

* ``CharCNN``: character embeddings -> convolutions of several widths, max-pooled over
  the characters of a word -> ``Highway`` layers -> a linear projection. Any word, even
  one never seen in training, gets a vector from its characters.
* ``BiLM``: a forward LSTM language model (predicts the next word) and a backward one
  (predicts the previous word), each with ``n_layers`` LSTM layers whose outputs are
  projected (``nn.LSTM(proj_size=...)``) and, from the second layer on, added to the
  layer's input (residual). Both directions share one token softmax.
* ``ScalarMix``: ``ELMo_k = gamma * sum_j s_j * h_{k,j}`` with ``s = softmax(w)``.

Sentences are lists of words (Chinese words from the People's Daily segmentation; their
characters feed the CNN). ``batch_to_ids`` turns them into character ids; padding sits at
the end of each sentence and never changes the vectors of real tokens.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .tools.checks import positive_int
from .vocab import Vocab, check_sentences

BOS, EOS = "<bos>", "<eos>"
# Character specials: padding, unknown, begin/end of word, and one character each for
# the sentence-boundary tokens (ELMo gives <bos>/<eos> their own character ids).
CHAR_PAD, CHAR_UNK, BOW, EOW, CHAR_BOS, CHAR_EOS = "<pad>", "<unk>", "<bow>", "<eow>", "<S>", "</S>"
CHAR_SPECIALS = (CHAR_PAD, CHAR_UNK, BOW, EOW, CHAR_BOS, CHAR_EOS)
IGNORE_INDEX = -100


@dataclass(frozen=True)
class ElmoConfig:
    vocab_size: int  # softmax words, incl. <pad> <unk> <bos> <eos>
    n_chars: int  # size of the character vocabulary
    max_chars: int = 8  # characters per word, incl. <bow> and <eow>
    char_dim: int = 16  # character embedding size
    filters: tuple[tuple[int, int], ...] = ((1, 32), (2, 32), (3, 64), (4, 64))  # (width, channels)
    n_highway: int = 1  # highway layers after the CNN
    proj_dim: int = 64  # token vector size = LSTM projection size
    hidden_dim: int = 256  # LSTM cell size (projected down to proj_dim)
    n_layers: int = 2  # LSTM layers per direction
    dropout: float = 0.1

    def __post_init__(self):
        for name in (
            "vocab_size",
            "n_chars",
            "max_chars",
            "char_dim",
            "proj_dim",
            "hidden_dim",
            "n_layers",
        ):
            positive_int(f"ElmoConfig.{name}", getattr(self, name))
        if self.max_chars < 3:
            raise ValueError(
                f"max_chars must be >= 3 (<bow>, a character, <eow>), got {self.max_chars}"
            )
        if not self.filters or any(w < 1 or c < 1 for w, c in self.filters):
            raise ValueError(
                f"filters must be non-empty (width, channels) pairs, got {self.filters}"
            )
        if max(w for w, _ in self.filters) > self.max_chars:
            raise ValueError(f"a filter is wider than max_chars={self.max_chars}: {self.filters}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def build(self) -> BiLM:
        return BiLM(self)


# --------------------------------------------------------------------------
# Vocabularies and batching
# --------------------------------------------------------------------------


def build_vocabs(
    sentences: Sequence[Sequence[str]], max_words: int, min_char_freq: int = 1
) -> tuple[Vocab, Vocab]:
    """(word vocabulary for the softmax, character vocabulary for the CNN)."""
    words = Vocab(sentences, max_size=max_words, specials=("<pad>", "<unk>", BOS, EOS))
    chars = Vocab(
        ([ch for w in s for ch in w] for s in sentences),
        min_freq=min_char_freq,
        specials=CHAR_SPECIALS,
        unk_token=CHAR_UNK,
    )
    return words, chars


def word_to_char_ids(word: str, chars: Vocab, max_chars: int, truncate: bool = False) -> list[int]:
    """``<bow> c1 c2 ... <eow>`` padded to ``max_chars``; sentence boundaries get their own char."""
    if word == BOS:
        body = [chars[CHAR_BOS]]
    elif word == EOS:
        body = [chars[CHAR_EOS]]
    else:
        body = [chars[ch] for ch in word]
        if len(body) > max_chars - 2:
            if not truncate:
                raise ValueError(
                    f"word {word!r} has {len(word)} characters but "
                    f"max_chars={max_chars} leaves room for {max_chars - 2}; "
                    "pass truncate=True to cut it"
                )
            body = body[: max_chars - 2]
    ids = [chars[BOW], *body, chars[EOW]]
    return ids + [chars[CHAR_PAD]] * (max_chars - len(ids))


def batch_to_ids(
    sentences: Sequence[Sequence[str]],
    chars: Vocab,
    max_chars: int,
    add_boundaries: bool = True,
    truncate: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences of words -> (char_ids (batch, seq, max_chars) long, mask (batch, seq) bool).

    With ``add_boundaries`` every sentence becomes ``<bos> w1 ... wn <eos>``.
    Padding goes at the end of each sentence (mask False there).
    """
    check_sentences(sentences, empty_ok=False)
    seqs = [[BOS, *s, EOS] if add_boundaries else list(s) for s in sentences]
    seq = max(len(s) for s in seqs)
    pad_word = [chars[CHAR_PAD]] * max_chars
    ids = [
        [word_to_char_ids(w, chars, max_chars, truncate) for w in s] + [pad_word] * (seq - len(s))
        for s in seqs
    ]
    mask = torch.tensor([[True] * len(s) + [False] * (seq - len(s)) for s in seqs])
    return torch.tensor(ids, dtype=torch.long), mask  # (batch, seq, max_chars), (batch, seq)


def batch_word_ids(
    sentences: Sequence[Sequence[str]], words: Vocab, add_boundaries: bool = True
) -> torch.Tensor:
    """Word ids for the softmax targets, padded with the <pad> id: (batch, seq) long."""
    check_sentences(sentences, empty_ok=False)
    seqs = [[BOS, *s, EOS] if add_boundaries else list(s) for s in sentences]
    seq = max(len(s) for s in seqs)
    pad = words["<pad>"]
    return torch.tensor([words.encode(s) + [pad] * (seq - len(s)) for s in seqs], dtype=torch.long)


def lm_targets(word_ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What each position predicts: the forward LM the next word, the backward LM the previous.

    Returns (forward_targets, backward_targets), both (batch, seq), ``IGNORE_INDEX`` where
    there is nothing to predict (the last/first real token, and padding).
    """
    fwd = torch.full_like(word_ids, IGNORE_INDEX)
    bwd = torch.full_like(word_ids, IGNORE_INDEX)
    fwd[:, :-1] = word_ids[:, 1:]  # position t predicts t+1
    fwd[:, :-1][~mask[:, 1:]] = IGNORE_INDEX
    bwd[:, 1:] = word_ids[:, :-1]  # position t predicts t-1
    bwd[~mask] = IGNORE_INDEX
    return fwd, bwd


# --------------------------------------------------------------------------
# The character-CNN token encoder
# --------------------------------------------------------------------------


class Highway(nn.Module):
    """y = g * x + (1 - g) * relu(W_h x), with a carry gate g = sigmoid(W_g x + b_g).

    As in ELMo's reference code, g multiplies the input, so the gate bias b_g = +1 starts
    each layer close to carrying its input through (g = sigmoid(1) = 0.73 at initialisation).
    """

    def __init__(self, dim: int, n_layers: int = 1):
        super().__init__()
        layers = [nn.Linear(dim, 2 * dim) for _ in range(n_layers)]
        for layer in layers:  # start by carrying the input through: b_g = +1, g ~ 0.73
            nn.init.constant_(layer.bias[dim:], 1.0)
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h, gate = layer(x).chunk(2, dim=-1)  # (..., dim) each
            g = torch.sigmoid(gate)  # (..., dim) the share of the input carried through
            x = g * x + (1 - g) * F.relu(h)
        return x


class CharCNN(nn.Module):
    """Word vectors from characters: embed -> conv (several widths) -> max over time
    -> highway -> projection."""

    def __init__(self, cfg: ElmoConfig):
        super().__init__()
        self.char_embedding = nn.Embedding(cfg.n_chars, cfg.char_dim, padding_idx=0)
        self.convs = nn.ModuleList(
            nn.Conv1d(cfg.char_dim, channels, width) for width, channels in cfg.filters
        )
        n_filters = sum(c for _, c in cfg.filters)
        self.highway = Highway(n_filters, cfg.n_highway)
        self.projection = nn.Linear(n_filters, cfg.proj_dim)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        batch, seq, n = char_ids.shape
        x = self.char_embedding(char_ids.reshape(batch * seq, n))  # (batch*seq, chars, char_dim)
        x = x.transpose(1, 2)  # (batch*seq, char_dim, max_chars)
        pooled = [conv(x).max(dim=-1).values for conv in self.convs]  # each (batch*seq, channels)
        h = F.relu(torch.cat(pooled, dim=-1))  # (batch*seq, n_filters)
        h = self.projection(self.highway(h))  # (batch*seq, proj_dim)
        return h.reshape(batch, seq, -1)  # (batch, seq, proj_dim)


# --------------------------------------------------------------------------
# The bidirectional LSTM language model
# --------------------------------------------------------------------------


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length; padding stays at the end.

    x (batch, seq, ...) , lengths (batch,). Applying it twice gives x back.
    """
    seq = x.shape[1]
    pos = torch.arange(seq, device=x.device).unsqueeze(0)  # (1, seq)
    lens = lengths.unsqueeze(1)  # (batch, 1)
    index = torch.where(pos < lens, lens - 1 - pos, pos)  # (batch, seq)
    index = index.reshape(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def check_bilm_inputs(cfg: ElmoConfig, char_ids: torch.Tensor, mask: torch.Tensor) -> None:
    """char_ids: torch.long (batch, seq, cfg.max_chars) in [0, cfg.n_chars); mask: torch.bool
    (batch, seq), True on real tokens, at least one per sentence, padding only at the end."""
    if not isinstance(char_ids, torch.Tensor) or char_ids.dtype != torch.long:
        got = char_ids.dtype if isinstance(char_ids, torch.Tensor) else type(char_ids).__name__
        raise TypeError(f"char_ids must be a torch.long tensor (from batch_to_ids), got {got}")
    if char_ids.dim() != 3 or char_ids.shape[-1] != cfg.max_chars:
        raise ValueError(
            f"char_ids must have shape (batch, seq, {cfg.max_chars}), got {tuple(char_ids.shape)}"
        )
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError("mask must be a torch.bool tensor of shape (batch, seq)")
    if mask.shape != char_ids.shape[:2]:
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match char_ids {tuple(char_ids.shape[:2])}"
        )
    if char_ids.is_meta or mask.is_meta:  # shapes only (a memory estimate): no values to read
        return
    if not bool(mask[:, 0].all()):
        raise ValueError("every sentence needs at least one token (mask[:, 0] must be True)")
    if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
        raise ValueError("padding must come at the end of each sentence (mask like 1 1 1 0 0)")
    if int(char_ids.max()) >= cfg.n_chars or int(char_ids.min()) < 0:
        raise ValueError(
            f"char ids must lie in [0, {cfg.n_chars}); got "
            f"[{int(char_ids.min())}, {int(char_ids.max())}]"
        )


class BiLM(nn.Module):
    """Char-CNN tokens -> forward and backward LSTM stacks -> one shared softmax."""

    def __init__(self, cfg: ElmoConfig):
        super().__init__()
        self.cfg = cfg
        self.char_cnn = CharCNN(cfg)

        def stack() -> nn.ModuleList:
            return nn.ModuleList(
                nn.LSTM(cfg.proj_dim, cfg.hidden_dim, proj_size=cfg.proj_dim, batch_first=True)
                for _ in range(cfg.n_layers)
            )

        self.forward_layers = stack()
        self.backward_layers = stack()
        self.dropout = nn.Dropout(cfg.dropout)
        self.softmax = nn.Linear(cfg.proj_dim, cfg.vocab_size)  # shared by both directions

    def _run(self, layers: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for i, lstm in enumerate(layers):
            h, _ = lstm(self.dropout(x))  # (batch, seq, proj_dim)
            x = h + x if i > 0 else h  # residual from layer 2 on
            outputs.append(x)
        return outputs

    def encode(self, char_ids: torch.Tensor, mask: torch.Tensor):
        """-> (tokens (batch, seq, proj_dim), [forward layer outputs], [backward layer outputs])."""
        check_bilm_inputs(self.cfg, char_ids, mask)  # char ids, and padding only at the end
        tokens = self.char_cnn(char_ids)  # (batch, seq, proj_dim)
        lengths = mask.sum(dim=1)  # (batch,)
        forward = self._run(self.forward_layers, tokens)  # each (batch, seq, proj_dim)
        backward_rev = self._run(self.backward_layers, reverse_padded(tokens, lengths))
        backward = [reverse_padded(h, lengths) for h in backward_rev]
        return tokens, forward, backward

    def forward(self, char_ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """ELMo's layers: [char layer, LSTM 1, ..., LSTM n], each (batch, seq, 2*proj_dim),
        zeroed at padding. The char layer is the token vector twice, as in ELMo."""
        tokens, forward, backward = self.encode(char_ids, mask)
        layers = [torch.cat([tokens, tokens], dim=-1)]
        layers += [torch.cat([f, b], dim=-1) for f, b in zip(forward, backward)]
        keep = mask.unsqueeze(-1).to(tokens.dtype)  # (batch, seq, 1)
        return [h * keep for h in layers]

    def lm_loss(
        self, char_ids: torch.Tensor, mask: torch.Tensor, word_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy (nats per word) of the forward and the backward LM."""
        _, forward, backward = self.encode(char_ids, mask)
        fwd_t, bwd_t = lm_targets(word_ids, mask)
        fwd_logits = self.softmax(self.dropout(forward[-1]))  # (batch, seq, vocab)
        bwd_logits = self.softmax(self.dropout(backward[-1]))  # (batch, seq, vocab)
        fwd_loss = F.cross_entropy(
            fwd_logits.flatten(0, 1), fwd_t.flatten(), ignore_index=IGNORE_INDEX
        )
        bwd_loss = F.cross_entropy(
            bwd_logits.flatten(0, 1), bwd_t.flatten(), ignore_index=IGNORE_INDEX
        )
        return fwd_loss, bwd_loss


def check_mix_layers(layers: Sequence[torch.Tensor], n_layers: int) -> None:
    """ScalarMix's input: exactly ``n_layers`` tensors, all of one shape."""
    if len(layers) != n_layers:
        raise ValueError(f"ScalarMix was built for {n_layers} layers, got {len(layers)}")
    if len({tuple(h.shape) for h in layers}) != 1:
        shapes = [tuple(h.shape) for h in layers]
        raise ValueError(f"all layers must have one shape, got {shapes}")


class ScalarMix(nn.Module):
    """ELMo_k = gamma * sum_j softmax(w)_j * h_{k,j}: a learned weighted average of layers."""

    def __init__(self, n_layers: int):
        super().__init__()
        positive_int("n_layers", n_layers)
        self.scalar_parameters = nn.Parameter(torch.zeros(n_layers))
        self.gamma = nn.Parameter(torch.ones(()))

    @property
    def weights(self) -> torch.Tensor:
        """The softmax-normalised layer weights s_j (they sum to 1)."""
        return torch.softmax(self.scalar_parameters, dim=0)

    def forward(self, layers: Sequence[torch.Tensor]) -> torch.Tensor:
        check_mix_layers(layers, len(self.scalar_parameters))
        s = self.weights
        return self.gamma * sum(s[j] * h for j, h in enumerate(layers))


# --------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------


def make_batches(sentences: Sequence[Sequence[str]], batch_size: int, seed: int = 0):
    """Shuffle, then group sentences of similar length (less padding). Returns a list of lists."""
    rng = random.Random(seed)
    order = list(range(len(sentences)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(sentences[i]))
        batches += [
            [sentences[i] for i in chunk[k : k + batch_size]]
            for k in range(0, len(chunk), batch_size)
        ]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def perplexity(
    model: BiLM,
    sentences: Sequence[Sequence[str]],
    chars: Vocab,
    words: Vocab,
    batch_size: int = 64,
) -> tuple[float, float]:
    """Held-out perplexity of the (forward, backward) LM, per predicted word."""
    was_training = model.training
    model.eval()
    totals, count = [0.0, 0.0], 0
    for batch in make_batches(sentences, batch_size, seed=0):
        char_ids, mask = batch_to_ids(batch, chars, model.cfg.max_chars, truncate=True)
        word_ids = batch_word_ids(batch, words)
        n = int((lm_targets(word_ids, mask)[0] != IGNORE_INDEX).sum())
        for k, loss in enumerate(model.lm_loss(char_ids, mask, word_ids)):
            totals[k] += float(loss) * n
        count += n
    model.train(was_training)
    return math.exp(totals[0] / count), math.exp(totals[1] / count)


def unigram_perplexity(
    train: Sequence[Sequence[str]], valid: Sequence[Sequence[str]], words: Vocab
) -> float:
    """Perplexity of an add-one unigram model over the same word vocabulary (words + <eos>).

    Both LM directions predict as many words (forward: w1..wn <eos>; backward: <bos> w1..wn),
    so one number is the baseline for each direction."""
    counts = Counter(words[w] for s in train for w in [*s, EOS])
    total = sum(counts.values()) + len(words)
    nll = sum(-math.log((counts[words[w]] + 1) / total) for s in valid for w in [*s, EOS])
    return math.exp(nll / sum(len(s) + 1 for s in valid))


@torch.no_grad()
def embed_sentences(
    model: BiLM, sentences: Sequence[Sequence[str]], chars: Vocab, batch_size: int = 64
) -> list[list[torch.Tensor]]:
    """ELMo layers for each sentence without the <bos>/<eos> slots:
    one list per layer of (n_words, 2*proj_dim) tensors, one per sentence."""
    was_training = model.training
    model.eval()
    per_layer: list[list[torch.Tensor]] = [[] for _ in range(model.cfg.n_layers + 1)]
    for start in range(0, len(sentences), batch_size):
        batch = sentences[start : start + batch_size]
        char_ids, mask = batch_to_ids(batch, chars, model.cfg.max_chars, truncate=True)
        layers = model(char_ids, mask)
        for j, h in enumerate(layers):
            per_layer[j] += [h[i, 1 : len(s) + 1] for i, s in enumerate(batch)]
    model.train(was_training)
    return per_layer


@torch.no_grad()
def init_unigram_bias(model: BiLM, sentences: Sequence[Sequence[str]], words: Vocab) -> None:
    """Start the shared softmax at the unigram model: bias = log frequency (add-one), so that
    training begins at the unigram baseline and every gain beyond it comes from context."""
    counts = torch.ones(len(words))
    for s in sentences:
        for w in [BOS, *s, EOS]:
            counts[words[w]] += 1
    model.softmax.bias.copy_(counts.log() - counts.sum().log())
