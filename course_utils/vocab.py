"""A small vocabulary: token <-> id, a frequency cut-off and special tokens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from .tools.checks import positive_int

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
DEFAULT_SPECIALS = (PAD, UNK, BOS, EOS)


class Vocab:
    """Maps tokens to contiguous ids. Special tokens come first, then tokens by
    falling frequency (ties broken by first appearance, so ids are deterministic).

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
        if max_size is not None:
            positive_int("max_size", max_size)
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials must be distinct, got {list(specials)}")
        if unk_token is not None and unk_token not in specials:
            raise ValueError(f"unk_token {unk_token!r} must be one of specials {list(specials)}")
        self.counts: Counter[str] = Counter()
        for i, sent in enumerate(sentences):
            if isinstance(sent, str):
                raise TypeError(
                    f"sentence {i} is a string {sent[:20]!r}; expected a sequence of tokens "
                    "(use list(text) for characters)"
                )
            self.counts.update(sent)
        self.specials = tuple(specials)
        self.unk_token = unk_token
        kept = [t for t, c in self.counts.most_common() if c >= min_freq and t not in self.specials]
        if max_size is not None:
            kept = kept[: max(0, max_size - len(self.specials))]
        self.itos: list[str] = list(self.specials) + kept
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
