"""Unit tests for course_utils.idiom_chain (成语接龙 graph and brute-force counting)."""

import itertools

import pytest

from course_utils.idiom_chain import (
    build_chain_graph,
    count_chains,
    count_walks,
    enumerate_chains,
    is_valid_chain,
    longest_chain,
)

IDIOMS = [
    "一心一意",
    "意气风发",
    "意味深长",
    "发扬光大",
    "长治久安",
    "大公无私",
    "安居乐业",
    "业精于勤",
    "勤能补拙",
    "大显身手",
    "手到擒来",
    "来日方长",
]


def brute_force(idioms, k):
    """Every ordered k-tuple of distinct idioms that links up (tiny graphs only)."""
    return [p for p in itertools.permutations(idioms, k) if is_valid_chain(p)]


@pytest.fixture(scope="module")
def graph():
    return build_chain_graph(IDIOMS)


def test_graph_links(graph):
    assert graph.successors("一心一意") == ["意味深长", "意气风发"]
    assert graph.successors("发扬光大") == ["大公无私", "大显身手"]
    assert graph.successors("大公无私") == []
    assert graph.n_edges == sum(len(graph.successors(w)) for w in IDIOMS)
    a = graph.adjacency_matrix()
    assert a.shape == (len(IDIOMS), len(IDIOMS)) and a.sum() == graph.n_edges


def test_counts_match_permutation_brute_force(graph):
    counts = count_chains(graph, 6)
    for k in range(1, 7):
        assert counts[k - 1] == len(brute_force(IDIOMS, k)), k
    for k in range(1, 5):
        listed = {tuple(c) for c in enumerate_chains(graph, k)}
        assert listed == set(brute_force(IDIOMS, k))


def test_walks_bound_chains_and_differ_on_loops(graph):
    walks, chains = count_walks(graph, 8), count_chains(graph, 8)
    assert walks == chains  # this little graph has no loop, so no walk repeats an idiom
    loop = build_chain_graph(["甲乙", "乙甲"])
    assert count_walks(loop, 4) == [2, 2, 2, 2]
    assert count_chains(loop, 4) == [2, 2, 0, 0]


def test_enumerate_from_start(graph):
    chains = list(enumerate_chains(graph, 3, start="一心一意"))
    assert chains == [["一心一意", "意味深长", "长治久安"], ["一心一意", "意气风发", "发扬光大"]]
    assert all(is_valid_chain(c) for c in chains)


def test_longest_chain(graph):
    res = longest_chain(graph, budget=10_000)
    assert res.exhausted and is_valid_chain(res.chain)
    counts = count_chains(graph, len(IDIOMS))
    assert len(res.chain) == max(k for k in range(1, 13) if counts[k - 1]) == 10
    cut = longest_chain(graph, budget=3)
    assert not cut.exhausted and cut.visits == 3 and is_valid_chain(cut.chain)


def test_real_idioms_explode():
    from course_utils.corpora import people_daily_idioms

    g = build_chain_graph(people_daily_idioms())
    assert len(g.words) == 2042
    counts = count_chains(g, 5)
    assert counts[:2] == [2042, g.n_edges]
    assert all(b > 2 * a for a, b in zip(counts[1:], counts[2:]))


def test_bad_input(graph):
    with pytest.raises(TypeError, match="list of strings"):
        build_chain_graph("一心一意")
    with pytest.raises(ValueError, match="at least 2 characters"):
        build_chain_graph(["一心一意", "好"])
    with pytest.raises(ValueError, match="positive int"):
        count_chains(graph, 0)
    with pytest.raises(ValueError, match="positive int"):
        list(enumerate_chains(graph, -1))
    with pytest.raises(KeyError, match="not one of"):
        graph.successors("画蛇添足")
    with pytest.raises(ValueError, match="budget"):
        longest_chain(graph, budget=0)
