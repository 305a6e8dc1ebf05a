"""Tokens and ids (词表): a vocabulary with a frequency cut-off and special tokens, and the
character tokenizer of the GPT chapter built on it.

* ``check_sentences``: the one check of a tokenised corpus (a list of sentences, each a list
  of word strings) that every module taking sentences uses;
* ``Vocab``: token <-> id, special tokens first, then tokens by falling frequency;
* ``CharTokenizer``: a ``Vocab`` of characters whose ``encode`` takes a text and whose
  ``decode`` gives one back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

from .tools.checks import positive_int

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
DEFAULT_SPECIALS = (PAD, UNK, BOS, EOS)


def check_sentence(index: int, sentence, *, empty_ok: bool = True) -> None:
    """Sentence ``index`` must be a list of non-empty word strings (empty only if ``empty_ok``)."""
    if isinstance(sentence, str) or not isinstance(sentence, Sequence):
        what = (
            f"a string {sentence[:20]!r}"
            if isinstance(sentence, str)
            else f"of type {type(sentence).__name__}"
        )
        raise TypeError(
            f"sentence {index} is {what}; expected a list of words (tokens): split a "
            "segmented string with .split(), or use list(text) for characters"
        )
    if not empty_ok and len(sentence) == 0:
        raise ValueError(f"sentence {index} is empty: every sentence needs at least one word")
    if not all(isinstance(w, str) and w for w in sentence):
        bad = next(w for w in sentence if not (isinstance(w, str) and w))
        raise TypeError(f"sentence {index} holds {bad!r}; every word must be a non-empty str")


def check_sentences(sentences, *, empty_ok: bool = True):
    """``sentences`` if it is a non-empty list of sentences, each a list of word strings.

    ``empty_ok=False`` also rejects an empty sentence. Returns ``sentences`` unchanged.
    """
    if isinstance(sentences, str):
        raise TypeError(
            "sentences must be a list of token lists, not one string; "
            "use [text.split()] for words or [list(text)] for characters"
        )
    if not isinstance(sentences, Sequence):
        raise TypeError(
            "sentences must be a list of token lists, got "
            f"{type(sentences).__name__} (wrap an iterator as list(...))"
        )
    if len(sentences) == 0:
        raise ValueError("the corpus is empty: expected a non-empty list of token lists")
    for i, sentence in enumerate(sentences):
        check_sentence(i, sentence, empty_ok=empty_ok)
    return sentences


class Vocab:
    """Maps tokens to contiguous ids. Special tokens come first, then tokens by
    falling frequency (ties broken by first appearance, so ids are deterministic).

    ``max_size`` is the size of the whole vocabulary, specials included, so it must be
    at least the number of specials; ``min_freq`` drops tokens seen fewer times.

    >>> v = Vocab([["床", "前", "明", "月", "光"]], specials=("<unk>",))
    >>> v["月"], v.lookup_token(1)
    (4, '床')
    """

    def __init__(
        self,
        sentences: Iterable[Sequence[str]] = (),
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = DEFAULT_SPECIALS,
        unk_token: str | None = UNK,
    ) -> None:
        if isinstance(sentences, str):
            raise TypeError(
                "sentences must be an iterable of token sequences, not one string; "
                "wrap it as [list(text)] for characters or [text.split()] for words"
            )
        positive_int("min_freq", min_freq)
        if max_size is not None and positive_int("max_size", max_size) < len(specials):
            raise ValueError(
                f"max_size counts the specials too, so it must be >= "
                f"{len(specials)} (the specials {list(specials)}), got {max_size}"
            )
        counts: Counter[str] = Counter()
        for i, sent in enumerate(sentences):
            check_sentence(i, sent)
            counts.update(sent)
        kept = [t for t, c in counts.most_common() if c >= min_freq and t not in specials]
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        self._set_tokens([*specials, *kept], specials, unk_token)
        self.counts = counts

    @classmethod
    def from_itos(
        cls,
        itos: Sequence[str],
        specials: Sequence[str] = DEFAULT_SPECIALS,
        unk_token: str | None = UNK,
    ) -> Vocab:
        """A vocabulary with exactly the ids of ``itos`` (e.g. read back from a checkpoint)."""
        vocab = cls.__new__(cls)
        Vocab._set_tokens(vocab, list(itos), specials, unk_token)
        vocab.counts = Counter()
        return vocab

    def _set_tokens(self, itos: list[str], specials: Sequence[str], unk_token: str | None) -> None:
        specials = tuple(specials)
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials must be distinct, got {list(specials)}")
        if unk_token is not None and unk_token not in specials:
            raise ValueError(f"unk_token {unk_token!r} must be one of specials {list(specials)}")
        if tuple(itos[: len(specials)]) != specials:
            raise ValueError(
                f"the vocabulary must start with the specials {list(specials)}, "
                f"got {itos[: len(specials)]}"
            )
        if len(set(itos)) != len(itos):
            raise ValueError("the vocabulary lists a token twice")
        self.specials, self.unk_token = specials, unk_token
        self.itos: list[str] = list(itos)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        if token in self.stoi:
            return self.stoi[token]
        if self.unk_token is None:
            raise KeyError(
                f"token {token!r} is not in the vocabulary (size {len(self)}) "
                "and this Vocab has no <unk> token"
            )
        return self.stoi[self.unk_token]

    @property
    def unk_index(self) -> int | None:
        return None if self.unk_token is None else self.stoi[self.unk_token]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token sequence -> list of ids (unknown tokens map to <unk>)."""
        if isinstance(tokens, str) and len(tokens) != 1:
            tokens = list(tokens)
        return [self[t] for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> tokens; an id outside the vocabulary is an error."""
        return [self.lookup_token(int(i)) for i in ids]

    def lookup_token(self, index: int) -> str:
        if not 0 <= index < len(self.itos):
            raise IndexError(f"id {index} is outside the vocabulary [0, {len(self.itos)})")
        return self.itos[index]

    def __repr__(self) -> str:
        preview = ", ".join(self.itos[:8])
        return f"Vocab(size={len(self)}, specials={list(self.specials)}, first=[{preview}])"


class CharTokenizer(Vocab):
    """A ``Vocab`` of characters for a character-level language model.

    ``encode`` takes a text and ``decode`` returns a text (a str, not a token list). Id 0 is
    ``<unk>``, a character never seen (decoded as "?"); the other ids are the characters in
    sorted order, "\\n" (end of line) among them, so that the ids depend only on which
    characters occur. A GPT checkpoint stores this list as ``itos``.
    """

    UNK = UNK

    def __init__(self, itos: Sequence[str]) -> None:
        itos = list(itos)
        if not itos or itos[0] != UNK:
            raise ValueError(f"itos must start with {UNK!r}, got {itos[:3]}")
        self._set_tokens(itos, specials=(UNK,), unk_token=UNK)
        self.counts = Counter()

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> CharTokenizer:
        """The characters of ``texts`` and "\\n", sorted, after <unk>."""
        return cls([UNK, *sorted({c for t in texts for c in t} | {"\n"})])

    def decode(self, ids: Iterable[int]) -> str:  # type: ignore[override]
        return "".join("?" if tok == UNK else tok for tok in super().decode(ids))

    def encode_lines(self, texts: Sequence[str]) -> torch.Tensor:
        """The lines joined with newlines, as one (n_chars,) LongTensor."""
        return torch.tensor(self.encode("\n".join(texts) + "\n"), dtype=torch.long)

    def __repr__(self) -> str:
        return f"CharTokenizer(size={len(self)}, first={self.itos[1:9]})"


def right_pad(rows: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists of different lengths as one (batch, longest) LongTensor, padded on the right
    with ``pad_id``, and their lengths (batch,)."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # (batch,)
    idx = torch.full((len(rows), int(lengths.max())), pad_id, dtype=torch.long)  # (batch, seq)
    for i, r in enumerate(rows):
        idx[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return idx, lengths
