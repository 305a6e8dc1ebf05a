"""Idiom chains (成语接龙) and brute-force enumeration (暴力穷举).

An idiom links to another when its last character is the other's first
character (一心一意 -> 意气风发). A chain is a path in that graph that uses no
idiom twice. Counting chains by depth-first search shows how fast the number
of possibilities explodes with the chain length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .tools.checks import positive_int


@dataclass(frozen=True)
class ChainGraph:
    """``words[i]`` links to every ``words[j]`` with ``j in succ[i]``."""

    words: tuple[str, ...]
    succ: tuple[tuple[int, ...], ...]

    @property
    def n_edges(self) -> int:
        return sum(len(s) for s in self.succ)

    def index(self, word: str) -> int:
        try:
            return self.words.index(word)
        except ValueError:
            raise KeyError(f"{word!r} is not one of the graph's {len(self.words)} idioms") from None

    def successors(self, word: str) -> list[str]:
        """The idioms that may follow ``word`` in a chain."""
        return [self.words[j] for j in self.succ[self.index(word)]]

    def adjacency_matrix(self):
        """Sparse 0/1 matrix A with A[i, j] = 1 when idiom i links to idiom j."""
        from scipy.sparse import csr_matrix

        rows = [i for i, s in enumerate(self.succ) for _ in s]
        cols = [j for s in self.succ for j in s]
        n = len(self.words)
        return csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=(n, n))


def build_chain_graph(idioms: Sequence[str]) -> ChainGraph:
    """Link idiom a -> b when a's last character is b's first (no self-links)."""
    if isinstance(idioms, str):
        raise TypeError("idioms must be a list of strings, not one string")
    words = sorted(set(idioms))
    for w in words:
        if not isinstance(w, str) or len(w) < 2:
            raise ValueError(f"every idiom must be a string of at least 2 characters, got {w!r}")
    by_first: dict[str, list[int]] = defaultdict(list)
    for j, w in enumerate(words):
        by_first[w[0]].append(j)
    succ = tuple(tuple(j for j in by_first.get(w[-1], ()) if j != i) for i, w in enumerate(words))
    return ChainGraph(tuple(words), succ)


def _check_length(length: int, name: str = "length") -> None:
    positive_int(f"{name} (idioms in a chain)", length)


def dfs_chains(succ: Sequence[Sequence[int]], start: int, max_length: int) -> Iterator[list[int]]:
    """Depth-first search: yield every chain (a list of idiom ids) that begins at ``start``
    and has at most ``max_length`` idioms, each as soon as it is reached.

    The yielded list is the search's own path, changed as the search goes on:
    copy it (``list(path)``) to keep it.
    """
    path, on_path = [start], {start}
    stack = [iter(succ[start])]  # for each idiom on the path: the successors not yet tried
    yield path
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:  # every successor tried: back up one idiom
            stack.pop()
            on_path.discard(path.pop())
            continue
        if nxt in on_path:  # no idiom twice in one chain
            continue
        path.append(nxt)
        on_path.add(nxt)
        yield path
        if len(path) < max_length:
            stack.append(iter(succ[nxt]))
        else:
            on_path.discard(path.pop())


def count_chains(graph: ChainGraph, max_length: int) -> list[int]:
    """``counts[k - 1]`` = number of chains of k idioms, k = 1..max_length, by brute force.

    The search visits every chain once, so the work grows with the answer
    itself: this is the enumeration whose cost explodes.
    """
    positive_int("max_length", max_length)
    counts = [0] * max_length
    for start in range(len(graph.words)):
        for path in dfs_chains(graph.succ, start, max_length):
            counts[len(path) - 1] += 1
    return counts


def enumerate_chains(
    graph: ChainGraph, length: int, start: str | None = None
) -> Iterator[list[str]]:
    """Yield every chain of exactly ``length`` idioms (optionally from ``start``), depth first."""
    _check_length(length)
    starts = range(len(graph.words)) if start is None else [graph.index(start)]
    for s in starts:
        for path in dfs_chains(graph.succ, s, length):
            if len(path) == length:
                yield [graph.words[i] for i in path]


def count_walks(graph: ChainGraph, max_length: int) -> list[int]:
    """Number of sequences of k linked idioms (repeats allowed), k = 1..max_length.

    Computed without enumerating (a product with the adjacency matrix, A @ ways);
    an upper bound on ``count_chains`` and equal to it while no chain can repeat.
    """
    _check_length(max_length, "max_length")
    ways = [1] * len(graph.words)  # walks of the current length that start at each idiom
    out = []
    for _ in range(max_length):
        out.append(sum(ways))
        ways = [sum(ways[j] for j in s) for s in graph.succ]  # Python ints never overflow
    return out


@dataclass(frozen=True)
class LongestChainResult:
    chain: list[str]
    visits: int  # nodes the search expanded
    exhausted: bool  # True if the search finished before the budget ran out


def longest_chain(
    graph: ChainGraph, budget: int = 100_000, start: str | None = None
) -> LongestChainResult:
    """The longest chain a depth-first search finds within ``budget`` node visits.

    Successors are tried in order of how many ways lead on from them (most first),
    a cheap heuristic; the true longest chain is a hard (NP-hard) problem, which
    is the point: a bounded search returns the best it has seen.
    """
    positive_int("budget (node visits)", budget)
    succ = [sorted(s, key=lambda j: (-len(graph.succ[j]), j)) for s in graph.succ]
    if start is None:
        starts = sorted(range(len(graph.words)), key=lambda i: (-len(succ[i]), i))
    else:
        starts = [graph.index(start)]
    best: list[int] = []
    visits = 0
    for s in starts:
        for path in dfs_chains(succ, s, len(graph.words)):
            visits += 1
            if len(path) > len(best):
                best = list(path)
            if visits >= budget:
                return LongestChainResult([graph.words[i] for i in best], visits, False)
    return LongestChainResult([graph.words[i] for i in best], visits, True)


def is_valid_chain(chain: Sequence[str]) -> bool:
    """True if each idiom starts with the previous one's last character and none repeats."""
    if len(set(chain)) != len(chain):
        return False
    return all(a[-1] == b[0] for a, b in zip(chain, chain[1:]))
