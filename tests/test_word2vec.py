"""Unit tests for course_utils.word2vec (kept small: the whole file runs in seconds)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from course_utils import word2vec as w2v
from course_utils.similarity import OOVError, nearest_neighbours
from course_utils.word2vec import (
    NegativeSampler,
    Word2VecConfig,
    Word2VecCorpus,
    context_windows,
    evaluate_analogies,
    evaluate_similarity,
    evaluation_path,
    keep_probabilities,
    noise_distribution,
    random_baseline,
    read_analogies,
    read_similarity_pairs,
    sgns_grads,
    sgns_loss,
    skipgram_pairs,
    to_keyed_vectors,
    train_gensim_word2vec,
    train_word2vec,
)


def topic_corpus(n_sentences=600, seed=0):
    """Sentences drawn from one of three disjoint topics: words of a topic co-occur."""
    rng = np.random.default_rng(seed)
    topics = [[f"{name}{i}" for i in range(8)] for name in ("fruit", "car", "city")]
    return [list(rng.choice(topics[s % 3], size=10)) for s in range(n_sentences)], topics


def topic_margin(kv, topics):
    """Mean cosine within topics minus mean cosine across topics."""
    within, across = [], []
    for t, words in enumerate(topics):
        for other_t, others in enumerate(topics):
            for a in words[:4]:
                for b in others[4:]:
                    (within if t == other_t else across).append(kv.similarity(a, b))
    return float(np.mean(within) - np.mean(across))


# --- corpus pipeline ---------------------------------------------------------


def test_keep_probabilities_formula_and_sample_zero():
    counts = np.array([900, 90, 9, 1])
    keep = keep_probabilities(counts, sample=0.01)
    f = counts / counts.sum()
    expected = np.minimum(1, (np.sqrt(f / 0.01) + 1) * 0.01 / f)
    assert np.allclose(keep, expected)
    assert keep[0] < keep[1] <= keep[2] == 1.0
    assert np.all(keep_probabilities(counts, sample=0) == 1)


@pytest.mark.parametrize("counts", [[], [1, 0, 3], [[1, 2]]])
def test_keep_probabilities_bad_counts(counts):
    with pytest.raises(ValueError, match="positive word counts"):
        keep_probabilities(counts)


def test_keep_probabilities_rejects_a_negative_or_non_numeric_sample():
    with pytest.raises(ValueError, match="sample"):
        keep_probabilities([3, 2], sample=-1e-3)
    with pytest.raises(TypeError, match="sample"):
        keep_probabilities([3, 2], sample="1e-3")


def test_skipgram_pairs_respects_window_and_sentences():
    ids = np.array([0, 1, 2, 3, 4])
    sent = np.array([0, 0, 0, 1, 1])
    centers, contexts = skipgram_pairs(ids, sent, window=1, rng=np.random.default_rng(0))
    pairs = sorted(zip(centers.tolist(), contexts.tolist()))
    assert pairs == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)]  # no pair crosses 2 -> 3


def test_skipgram_pairs_dynamic_window_distances():
    n, c = 50_000, 4
    centers, contexts = skipgram_pairs(
        np.arange(n), np.zeros(n, dtype=np.int64), c, np.random.default_rng(0)
    )
    measured = np.bincount(np.abs(contexts - centers), minlength=c + 1)[1:] / (2 * n)
    assert np.allclose(measured, (c - np.arange(c)) / c, atol=0.02)
    with pytest.raises(ValueError, match="window"):
        skipgram_pairs(np.arange(3), np.zeros(3, dtype=np.int64), 0, np.random.default_rng(0))


def test_context_windows_padding_and_boundaries():
    ids = np.array([10, 11, 12, 13])
    sent = np.array([0, 0, 1, 1])
    centers, ctx = context_windows(ids, sent, window=2, rng=np.random.default_rng(0))
    assert ctx.shape == (len(centers), 4)
    for c, row in zip(centers.tolist(), ctx.tolist()):
        real = {x for x in row if x >= 0}
        assert c not in real and real  # a center is never its own context, and has one
        same_sentence = {10, 11} if c in (10, 11) else {12, 13}
        assert real <= same_sentence


def test_noise_distribution_and_sampler():
    counts = np.array([900, 90, 9, 1])
    p = noise_distribution(counts)
    assert np.isclose(p.sum(), 1) and p[-1] > counts[-1] / counts.sum()
    draws = NegativeSampler(p, seed=0, table_size=100_000).sample(200_000)
    assert np.allclose(np.bincount(draws, minlength=4) / len(draws), p, atol=0.005)
    with pytest.raises(ValueError, match="probability vector"):
        NegativeSampler(np.array([0.5, 0.2]))
    with pytest.raises(ValueError, match="not all zero"):
        noise_distribution([0, 0])


def test_corpus_drops_rare_words_and_rejects_bad_input():
    corpus = Word2VecCorpus([["a", "b", "a"], ["a", "c"]], min_count=2)
    assert corpus.words == ["a"] and corpus.ids.tolist() == [0, 0, 0]
    assert corpus.sentence_ids.tolist() == [0, 0, 1] and corpus.n_raw_tokens == 5
    with pytest.raises(ValueError, match="empty"):
        Word2VecCorpus([])
    with pytest.raises(TypeError, match="not one string"):
        Word2VecCorpus("一个字符串")
    with pytest.raises(ValueError, match="min_count"):
        Word2VecCorpus([["a", "b"]], min_count=5)


@pytest.mark.parametrize("kwargs", [{"sg": 2}, {"window": 0}, {"negative": 1.5}, {"alpha": 0}])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises((TypeError, ValueError)):
        Word2VecConfig(**kwargs)


# --- loss and training ---------------------------------------------------------


def _window_batch(seed=0, batch=6, m=4, k=5, d=4):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(batch, m, d, dtype=torch.float64, generator=g)  # (batch, m, d)
    u = torch.randn(batch, 1 + k, d, dtype=torch.float64, generator=g)  # (batch, 1 + k, d)
    mask = torch.rand(batch, m, generator=g) < 0.7  # (batch, m)
    return v, u, mask


def test_sgns_grads_match_autograd():
    v, u, mask = _window_batch()
    v.requires_grad_(True)
    u.requires_grad_(True)
    sgns_loss(v, u, mask).sum().backward()
    dv, du = sgns_grads(v.detach(), u.detach(), mask)
    assert torch.allclose(dv, v.grad) and torch.allclose(du, u.grad)
    assert torch.all(dv[~mask] == 0)  # padding gets no gradient


def test_sgns_loss_is_the_sum_of_the_per_pair_losses():
    """Reference: the textbook loss, one (context word, center word) pair at a time."""
    v, u, mask = _window_batch(seed=1)
    expected = torch.zeros(len(v), dtype=torch.float64)
    for i in range(len(v)):
        for j in range(v.shape[1]):
            if mask[i, j]:
                expected[i] -= torch.log(torch.sigmoid(u[i, 0] @ v[i, j]))
                for noise in u[i, 1:]:
                    expected[i] -= torch.log(torch.sigmoid(-noise @ v[i, j]))
    assert torch.allclose(sgns_loss(v, u, mask), expected)
    assert torch.allclose(sgns_loss(v, u), sgns_loss(v, u, torch.ones_like(mask)))


def test_sgns_loss_value():
    v = torch.zeros(1, 1, 3)
    u = torch.zeros(1, 3, 3)  # every score 0: loss = 3 log 2
    assert torch.allclose(sgns_loss(v, u), torch.tensor([3 * np.log(2)], dtype=torch.float32))


def test_skipgram_pairs_are_the_windows_flattened():
    ids, sent = np.arange(40) % 7, np.repeat(np.arange(8), 5)
    centers, ctx = context_windows(ids, sent, 3, np.random.default_rng(5))
    pc, po = skipgram_pairs(ids, sent, 3, np.random.default_rng(5))
    expected = [(c, o) for c, row in zip(centers.tolist(), ctx.tolist()) for o in row if o >= 0]
    assert list(zip(pc.tolist(), po.tolist())) == expected


@pytest.mark.parametrize("sg", [1, 0])
def test_training_learns_topics_like_gensim(sg):
    sentences, topics = topic_corpus()
    config = Word2VecConfig(
        vector_size=16, window=3, min_count=1, sg=sg, epochs=5, sample=0, batch_size=256, seed=0
    )
    result = train_word2vec(sentences, config, show_progress=False)
    assert result.vectors.shape == (24, 16) and result.words_per_second > 0
    assert np.all(np.isfinite(result.vectors)) and len(result.losses) > 0
    ours = topic_margin(result.keyed_vectors(), topics)
    reference = topic_margin(
        train_gensim_word2vec(
            sentences, vector_size=16, window=3, min_count=1, epochs=5, sg=sg, sample=0
        ),
        topics,
    )
    assert ours > 0.3 and reference > 0.3, (ours, reference)


def test_training_is_deterministic():
    """Same seed, same vectors; another seed, other vectors. Small batches and two epochs, so
    that the input vectors are updated (the first batch only moves the output vectors, which
    start at zero) and the epoch's draws (subsampling, windows, order) matter."""
    sentences, _ = topic_corpus(120)
    config = Word2VecConfig(vector_size=8, min_count=1, epochs=2, batch_size=32, seed=3)
    a = train_word2vec(sentences, config, show_progress=False)
    b = train_word2vec(sentences, config, show_progress=False)
    assert np.array_equal(a.vectors, b.vectors) and np.array_equal(a.out_vectors, b.out_vectors)
    other = train_word2vec(sentences, replace(config, seed=4), show_progress=False)
    assert not np.allclose(a.vectors, other.vectors)


def test_gensim_wrapper_rejects_empty_corpus():
    with pytest.raises(ValueError, match="empty"):
        train_gensim_word2vec([])
    with pytest.raises(ValueError, match="empty"):
        w2v.gensim_from_config([], Word2VecConfig())


def test_gensim_wrapper_is_gensims_own_constructor():
    """Vocabulary, checks, then training: the same vectors as ``Word2Vec(sentences=...)``."""
    from gensim.models import Word2Vec

    sentences, _ = topic_corpus(120)
    ours = train_gensim_word2vec(sentences, vector_size=8, min_count=1, epochs=2, seed=3)
    theirs = Word2Vec(
        sentences=sentences, vector_size=8, min_count=1, epochs=2, seed=3, sg=1, workers=1
    ).wv
    assert ours.index_to_key == theirs.index_to_key
    assert np.array_equal(ours.vectors, theirs.vectors)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        # one string, not token lists: gensim would train on its characters
        (lambda: train_gensim_word2vec("北京 上海"), TypeError, "not one string"),
        (lambda: train_gensim_word2vec(["北京 上海"]), TypeError, "sentence 0 is a string"),
        (lambda: train_gensim_word2vec([["北京", 3]]), TypeError, "non-empty str"),
        (lambda: train_gensim_word2vec(iter([["a", "b"]])), TypeError, "list"),
        # gensim's own message would be "you must first build vocabulary"
        (lambda: train_gensim_word2vec([["a", "b"]] * 3, min_count=5), ValueError, "min_count=5"),
        # one word per sentence: no (center, context) pair, gensim would return untrained vectors
        (
            lambda: train_gensim_word2vec([["a"], ["b"]] * 5, min_count=1),
            ValueError,
            "no sentence keeps two words",
        ),
        (lambda: train_gensim_word2vec([["a", "b"]], min_count=1, sg=2), ValueError, "sg"),
        (lambda: train_gensim_word2vec([["a", "b"]], min_count=1, window=0), ValueError, "window"),
        (
            lambda: train_gensim_word2vec([["a", "b"]], min_count=1, vector_size=2.5),
            TypeError,
            "vector_size",
        ),
        (
            lambda: train_word2vec([["a"], ["b"]] * 5, Word2VecConfig(min_count=1)),
            ValueError,
            "no sentence keeps two words",
        ),
        (
            lambda: train_word2vec([["a", "b"], ["c"]], Word2VecConfig(min_count=2)),
            ValueError,
            "min_count=2",
        ),
        (lambda: train_word2vec("北京 上海"), TypeError, "not one string"),
        (lambda: Word2VecCorpus([["a", None]]), TypeError, "non-empty str"),
    ],
)
def test_bad_corpora_get_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_rare_words_dropped_across_sentences_still_leave_pairs():
    corpus = Word2VecCorpus([["a", "x", "b"], ["a", "b"]], min_count=2)
    assert corpus.has_pairs and corpus.ids.tolist() == [0, 1, 0, 1]
    assert not Word2VecCorpus([["a"], ["a"], ["b"], ["b"]], min_count=1).has_pairs


# --- evaluation ---------------------------------------------------------------


@pytest.fixture(scope="module")
def random_kv():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    return to_keyed_vectors(words, rng.standard_normal((60, 8)))


def test_to_keyed_vectors_checks_shape():
    with pytest.raises(ValueError, match="shape"):
        to_keyed_vectors(["a", "b"], np.zeros((3, 4)))


def test_similarity_matches_gensim(random_kv, tmp_path):
    path = tmp_path / "pairs.tsv"
    rng = np.random.default_rng(1)
    lines = ["# a comment"] + [
        f"w{a}\tw{b}\t{s:.2f}"
        for a, b, s in zip(rng.integers(0, 60, 40), rng.integers(0, 60, 40), rng.random(40) * 10)
    ]
    lines.append("w1\tunknownword\t5.0")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ours = evaluate_similarity(random_kv, path)
    _, spearman, oov = random_kv.evaluate_word_pairs(str(path))
    assert ours.spearman == pytest.approx(spearman.statistic)
    assert 100 * ours.oov_rate == pytest.approx(oov) and ours.n_total == 41


def test_analogies_match_gensim(random_kv, tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "questions.txt"
    lines = [": first"] + [" ".join(f"w{i}" for i in rng.integers(0, 60, 4)) for _ in range(30)]
    lines += [": second"] + [" ".join(f"w{i}" for i in rng.integers(0, 60, 4)) for _ in range(30)]
    lines.append("w1 w2 w3 nosuchword")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ours = evaluate_analogies(random_kv, path)
    score, sections = random_kv.evaluate_word_analogies(str(path))
    assert ours.accuracy == pytest.approx(score)
    assert ours.n_total == 61 and ours.n_used == 60
    assert ours.sections["first"] == (
        len(sections[0]["correct"]),
        len(sections[0]["correct"]) + len(sections[0]["incorrect"]),
    )


def test_unknown_and_malformed_evaluation_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected one of"):
        evaluation_path("zh_simlarity")
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        read_similarity_pairs(bad)
    bad.write_text("a b c d\n", encoding="utf-8")
    with pytest.raises(ValueError, match="section"):
        read_analogies(bad)
    bad.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no analogy"):
        read_analogies(bad)


def test_oov_error_suggests_spellings():
    kv = to_keyed_vectors(["北京", "上海", "平", "computer", "country"], np.eye(5))
    with pytest.raises(OOVError, match="did you mean: 平, 北京") as err:
        nearest_neighbours(kv.vectors, kv.index_to_key, "北平")
    assert isinstance(err.value, KeyError)
    with pytest.raises(OOVError, match="computer"):
        nearest_neighbours(kv.vectors, kv.index_to_key, "computr")


def test_random_baseline_keeps_vocabulary(random_kv):
    base = random_baseline(random_kv, seed=1)
    assert base.index_to_key == random_kv.index_to_key
    assert not np.allclose(base.vectors, random_kv.vectors)


# --- the course's Chinese evaluation set ---------------------------------------


def test_chinese_sets_parse_and_state_their_origin():
    pairs = read_similarity_pairs("zh_similarity")
    sections = read_analogies("zh_analogies")
    assert len(pairs) >= 100 and all(0 <= s <= 10 for _, _, s in pairs)
    assert {"capital-country", "province-capital", "opposite-adjectives"} <= set(sections)
    assert sum(map(len, sections.values())) > 1000
    for name in ("zh_similarity", "zh_analogies"):
        head = evaluation_path(name).read_text(encoding="utf-8")[:800]
        assert "course authors" in head and "CC0" in head


def test_chinese_sets_only_use_words_of_the_corpus():
    from collections import Counter

    from course_utils.corpora import people_daily

    counts = Counter(w for line in people_daily() for w in line)
    words = {w for a, b, _ in read_similarity_pairs("zh_similarity") for w in (a, b)}
    words |= {w for qs in read_analogies("zh_analogies").values() for q in qs for w in q}
    rare = sorted(w for w in words if counts[w] < 5)
    assert not rare, f"words with fewer than 5 occurrences in People's Daily: {rare}"


# --- evaluation against references, on vectors that score between 0 and 1 ------------------


def _analogy_kv(seed: int = 0):
    """Countries and capitals: capital = country + one shared offset + noise, plus distractors;
    3CosAdd then answers most questions right and some wrong (a score strictly inside (0, 1))."""
    rng = np.random.default_rng(seed)
    n, d = 12, 16
    countries = rng.standard_normal((n, d))
    capitals = countries + 1.5 * rng.standard_normal(d) + 0.9 * rng.standard_normal((n, d))
    distract = rng.standard_normal((20, d))
    words = [f"c{i}" for i in range(n)] + [f"k{i}" for i in range(n)] + [f"x{i}" for i in range(20)]
    return to_keyed_vectors(words, np.vstack([countries, capitals, distract]))


def test_analogies_match_gensim_on_a_solvable_set(tmp_path):
    kv = _analogy_kv()
    path = tmp_path / "capitals.txt"
    pairs = [(i, j) for i in range(12) for j in range(12) if i != j]
    lines = [": capitals"] + [f"c{i} k{i} c{j} k{j}" for i, j in pairs[:70]]
    lines += [": reversed"] + [f"k{i} c{i} k{j} c{j}" for i, j in pairs[70:120]]
    lines += ["C1 K1 C2 K2", "c1 k1 c2 unknown"]  # upper case is looked up lower-cased; OOV
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for restrict in (300_000, 30):  # 30: the 20 distractors and k6..k11 fall outside
        ours = evaluate_analogies(kv, path, restrict_vocab=restrict)
        score, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=restrict)
        assert 0.1 < ours.accuracy < 0.95  # neither all wrong nor all right: the test can see
        assert ours.accuracy == pytest.approx(score)
        for name, got in zip(["capitals", "reversed"], sections):
            n_right, n_wrong = len(got["correct"]), len(got["incorrect"])
            assert ours.sections[name] == (n_right, n_right + n_wrong)
        assert ours.n_total == 122
    full = evaluate_analogies(kv, path)
    assert full.n_used == 121 and full.n_correct == sum(c for c, _ in full.sections.values())
    assert full.accuracy == pytest.approx(full.n_correct / full.n_used)
    assert full.oov_rate == pytest.approx(1 / 122)


def test_analogy_answers_are_3cosadd_by_hand(tmp_path):
    """The answer is argmax over all words but the three question words of cos(w, b - a + c)."""
    kv = _analogy_kv(seed=3)
    unit = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    questions = [
        (f"c{i}", f"k{i}", f"c{j}", f"k{j}") for i in range(12) for j in range(12) if i != j
    ]
    correct = 0
    for q in questions:
        ia, ib, ic, id_ = (kv.key_to_index[w] for w in q)
        sims = unit @ (unit[ib] - unit[ia] + unit[ic])
        sims[[ia, ib, ic]] = -np.inf
        correct += int(np.argmax(sims) == id_)
    path = tmp_path / "q.txt"
    path.write_text(": all\n" + "\n".join(" ".join(q) for q in questions) + "\n", encoding="utf-8")
    got = evaluate_analogies(kv, path)
    assert got.n_correct == correct and 0 < correct < len(questions)


def test_similarity_by_hand_with_scipy(tmp_path):
    from scipy import stats

    kv = _analogy_kv()
    rng = np.random.default_rng(5)
    rows = [
        (f"c{a}", f"k{b}", float(s))
        for a, b, s in zip(rng.integers(0, 12, 30), rng.integers(0, 12, 30), rng.random(30) * 10)
    ]
    path = tmp_path / "pairs.tsv"
    text = [f"{a}\t{b}\t{s}" for a, b, s in rows] + ["C1\tK2\t7.5", "c1\tnope\t3.0"]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    human = [s for _, _, s in rows] + [7.5]
    model = [float(kv.similarity(a, b)) for a, b, _ in rows] + [float(kv.similarity("c1", "k2"))]
    got = evaluate_similarity(kv, path)
    assert got.spearman == pytest.approx(stats.spearmanr(human, model)[0], abs=1e-12)
    assert got.pearson == pytest.approx(stats.pearsonr(human, model)[0], abs=1e-12)
    assert (got.n_used, got.n_total) == (31, 32) and got.oov_rate == pytest.approx(1 / 32)
    assert got.human == tuple(human) and got.model == pytest.approx(tuple(model))
    # fewer than 3 scored pairs: no correlation, but the counts
    few = tmp_path / "few.tsv"
    few.write_text("c1\tk1\t1.0\nc2\tk2\t2.0\nc1\tnope\t3.0\n", encoding="utf-8")
    short = evaluate_similarity(kv, few)
    assert (
        np.isnan(short.spearman)
        and np.isnan(short.pearson)
        and (short.n_used, short.n_total) == (2, 3)
    )


def test_bootstrap_spearman_is_spearman_of_each_paired_resample():
    from scipy import stats

    from course_utils.word2vec import SimilarityResult, bootstrap_spearman

    rng = np.random.default_rng(0)
    human = rng.random(25)
    model = human + 0.5 * rng.random(25)
    result = SimilarityResult(0.0, 0.0, 25, 30, tuple(human), tuple(model))
    boots = bootstrap_spearman(result, n_boot=50, seed=4)
    idx = np.random.default_rng(4).integers(0, 25, size=(50, 25))  # the resamples, by seed
    want = [stats.spearmanr(human[i], model[i])[0] for i in idx]
    assert boots.shape == (50,) and np.allclose(boots, want)
    assert np.array_equal(bootstrap_spearman(result, n_boot=50), bootstrap_spearman(result, 50, 0))
    assert len(bootstrap_spearman(result)) == 2000  # the default number of resamples
    # paired: another model on the same pairs is resampled alike (same seed, same n)
    same = SimilarityResult(0.0, 0.0, 25, 30, tuple(human), tuple(human))
    assert np.allclose(bootstrap_spearman(same, n_boot=50, seed=4), 1.0)
    flat = SimilarityResult(0.0, 0.0, 3, 3, (1.0, 1.0, 1.0), (1.0, 2.0, 3.0))
    assert np.isnan(bootstrap_spearman(flat, n_boot=5)).all()  # no spread: no correlation
    with pytest.raises(ValueError, match="at least 3 pairs"):
        bootstrap_spearman(SimilarityResult(0.0, 0.0, 2, 2, (1.0, 2.0), (1.0, 2.0)))
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_spearman(result, n_boot=0)


@pytest.mark.parametrize("sg", [0, 1])
def test_gensim_from_config_passes_every_setting(sg):
    """gensim_from_config(config) = gensim's Word2Vec with each of config's values (none at
    its default here), timed: words/s x seconds = raw words x epochs."""
    from gensim.models import Word2Vec

    sentences, _ = topic_corpus(120)
    cfg = Word2VecConfig(
        vector_size=12, window=3, min_count=2, sg=sg, negative=3, sample=1e-2, epochs=2, seed=7
    )
    kv, seconds, words_per_s = w2v.gensim_from_config(sentences, cfg)
    theirs = Word2Vec(
        sentences=sentences,
        vector_size=12,
        window=3,
        min_count=2,
        sg=sg,
        negative=3,
        sample=1e-2,
        epochs=2,
        seed=7,
        workers=1,
    ).wv
    assert kv.index_to_key == theirs.index_to_key
    assert np.array_equal(kv.vectors, theirs.vectors)
    n_raw = sum(len(s) for s in sentences)
    assert seconds > 0 and words_per_s * seconds == pytest.approx(n_raw * 2)


def _batch_tables(seed=0):
    g = torch.Generator().manual_seed(seed)
    w_in, w_out = torch.randn(9, 4, generator=g), torch.randn(9, 4, generator=g)
    center = torch.tensor([3, 0, 5])
    ctx = torch.tensor([[0, 1, 2, 4], [3, 3, -1, -1], [0, 8, 7, -1]])  # word 0 is real; -1 pads
    negatives = torch.tensor([[6, 7], [0, 2], [1, 1]])
    return w_in, w_out, center, ctx, negatives


def test_skipgram_batch_step_is_sgd_on_the_sgns_loss():
    """One update = plain SGD on the summed SGNS loss of the batch (autograd as the reference),
    repeated rows summed; word id 0 is a real word, -1 is padding."""
    w_in, w_out, center, ctx, negatives = _batch_tables()
    ref_in, ref_out = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    mask = ctx >= 0
    v = ref_in[ctx.clamp(min=0)]  # (3, 4, d)
    u = ref_out[torch.cat([center.unsqueeze(1), negatives], 1)]  # (3, 3, d)
    loss = sgns_loss(v, u, mask).sum()
    loss.backward()
    got = w2v._train_batch_sg(w_in, w_out, center, ctx, negatives, lr=0.1, want_loss=True)
    assert got == pytest.approx(float(loss.detach()) / int(mask.sum()), rel=1e-5)
    assert torch.allclose(w_in, ref_in.detach() - 0.1 * ref_in.grad, atol=1e-6)
    assert torch.allclose(w_out, ref_out.detach() - 0.1 * ref_out.grad, atol=1e-6)
    assert w2v._train_batch_sg(w_in, w_out, center, ctx, negatives, lr=0.1) is None


def test_cbow_batch_step_gives_each_context_word_the_mean_vectors_gradient():
    """CBOW: h = mean of the real context vectors; W_out by SGD on the loss, and every context
    word moves by the whole gradient of h (word2vec.c with cbow_mean=1)."""
    w_in, w_out, center, ctx, negatives = _batch_tables(seed=1)
    mask = ctx >= 0
    h = torch.stack([w_in[c[c >= 0]].mean(0) for c in ctx]).unsqueeze(1)  # (3, 1, d)
    h.requires_grad_()
    ref_out = w_out.clone().requires_grad_()
    u = ref_out[torch.cat([center.unsqueeze(1), negatives], 1)]  # (3, 3, d)
    loss = sgns_loss(h, u)  # (3,)
    loss.sum().backward()
    want_in = w_in.clone()
    for b in range(3):
        for word in ctx[b][mask[b]]:
            want_in[word] -= 0.1 * h.grad[b, 0]
    got = w2v._train_batch_cbow(w_in, w_out, center, ctx, negatives, lr=0.1, want_loss=True)
    assert got == pytest.approx(float(loss.detach().mean()), rel=1e-5)
    assert torch.allclose(w_in, want_in, atol=1e-6)
    assert torch.allclose(w_out, ref_out.detach() - 0.1 * ref_out.grad, atol=1e-6)
    assert w2v._train_batch_cbow(w_in, w_out, center, ctx, negatives, lr=0.1) is None


def test_gensim_wrapper_defaults_and_hierarchical_softmax():
    from gensim.models import Word2Vec

    sentences, _ = topic_corpus(120)
    ours = train_gensim_word2vec(sentences)
    theirs = Word2Vec(sentences=sentences, sg=1, seed=0, workers=1).wv  # gensim's own seed is 1
    assert ours.vector_size == 100 and ours.index_to_key == theirs.index_to_key
    assert np.array_equal(ours.vectors, theirs.vectors)
    hs = train_gensim_word2vec(sentences, vector_size=8, min_count=1, epochs=1, hs=1, negative=0)
    ref = Word2Vec(
        sentences=sentences, vector_size=8, min_count=1, epochs=1, hs=1, negative=0, sg=1, seed=0
    ).wv
    assert np.array_equal(hs.vectors, ref.vectors)
    assert len(hs.get_vecattr(hs.index_to_key[0], "code")) > 0  # Huffman codes were built
    with pytest.raises(ValueError, match="needs hs=1"):
        train_gensim_word2vec(sentences, hs=0, negative=0)


@pytest.mark.parametrize("window", [1, 3, 9])
def test_context_windows_against_a_loop(window):
    """Column window - d holds the word d to the left, window + d - 1 the word d to the right,
    for d up to each center's own draw b (the same seeded draw), within its sentence; -1 pads;
    centers without context are dropped. Word id 0 is a word like any other."""
    ids = np.array([0, 5, 0, 7, 3, 0, 2, 4, 6])
    sent = np.array([0, 0, 0, 0, 1, 2, 2, 2, 2])  # sentence 1 is one word: no context
    centers, ctx = context_windows(ids, sent, window, np.random.default_rng(7))
    b = np.random.default_rng(7).integers(1, window + 1, size=len(ids))
    want_c, want_ctx = [], []
    for i in range(len(ids)):
        row = [-1] * (2 * window)
        for d in range(1, b[i] + 1):
            if i - d >= 0 and sent[i - d] == sent[i]:
                row[window - d] = ids[i - d]
            if i + d < len(ids) and sent[i + d] == sent[i]:
                row[window + d - 1] = ids[i + d]
        if any(x >= 0 for x in row):
            want_c.append(ids[i])
            want_ctx.append(row)
    assert centers.tolist() == want_c and ctx.tolist() == want_ctx
    assert ctx.dtype == np.int64 and centers.dtype == ids.dtype
    only_zero = context_windows(np.array([0, 9]), np.array([0, 0]), 1, np.random.default_rng(0))
    assert only_zero[0].tolist() == [0, 9] and only_zero[1].tolist() == [[-1, 9], [0, -1]]


@pytest.mark.parametrize("sg", [1, 0])
def test_training_loop_schedule_and_result(monkeypatch, sg):
    """The loop written out: one step per batch of windows with the linearly decaying rate,
    the loss of every 50th batch recorded, word2vec.c's initialisation, the configured noise
    exponent and seed, and the result's timing."""
    sentences, _ = topic_corpus(60)  # 600 tokens, all kept with sample=0
    cfg = Word2VecConfig(
        vector_size=6,
        min_count=1,
        epochs=2,
        sample=0.0,
        batch_size=8,
        alpha=0.05,
        min_alpha=0.001,
        ns_exponent=0.5,
        seed=5,
        negative=3,
    )
    name = "_train_batch_sg" if sg else "_train_batch_cbow"
    calls, first = [], {}
    real_step = getattr(w2v, name)

    def spy(w_in, w_out, center, ctx, negatives, lr, want_loss=False):
        if not first:
            first.update(w_in=w_in.clone(), w_out=w_out.clone())
        first["tables"] = (w_in, w_out)
        loss = real_step(w_in, w_out, center, ctx, negatives, lr, want_loss)
        calls.append((lr, want_loss, len(center), tuple(negatives.shape), loss))
        return loss

    def other(*args, **kwargs):
        raise AssertionError(f"sg={sg} must not train with the other objective")

    monkeypatch.setattr(w2v, name, spy)
    monkeypatch.setattr(w2v, "_train_batch_cbow" if sg else "_train_batch_sg", other)
    exponents, seeds = [], []
    real_noise = noise_distribution
    monkeypatch.setattr(
        w2v, "noise_distribution", lambda c, e=0.75: exponents.append(e) or real_noise(c, e)
    )

    class Sampler(NegativeSampler):
        def __init__(self, probs, seed=0, **kw):
            seeds.append(seed)
            super().__init__(probs, seed=seed, **kw)

    monkeypatch.setattr(w2v, "NegativeSampler", Sampler)
    result = train_word2vec(sentences, Word2VecConfig(**{**cfg.__dict__, "sg": sg}), False)

    n, per_epoch = 600, 75  # windows per epoch, batches of 8
    assert len(calls) == 2 * per_epoch
    for j, (lr, want_loss, size, neg_shape, _) in enumerate(calls):
        epoch, b = divmod(j, per_epoch)
        done = (epoch + 8 * b / n) / 2
        assert lr == pytest.approx(0.05 - (0.05 - 0.001) * done, rel=1e-12)
        assert want_loss is (b % 50 == 0) and size == 8 and neg_shape == (8, 3)
    assert result.losses == [c[4] for c in calls if c[1]] and len(result.losses) == 4
    d = 6
    assert torch.all(first["w_out"] == 0)
    assert first["w_in"].abs().max() < 0.5 / d and first["w_in"].min() < -0.4 / d
    assert first["w_in"].max() > 0.4 / d
    assert np.array_equal(result.out_vectors, first["tables"][1].numpy())
    assert exponents == [0.5] and seeds == [5]
    assert result.seconds > 0
    assert result.words_per_second * result.seconds == pytest.approx(600 * 2)


def test_subsampling_flips_a_coin_per_token_and_defaults():
    from course_utils.word2vec import subsample

    keep = np.full(3, 0.5)
    kept = subsample(np.zeros(10_000, dtype=np.int64), keep, np.random.default_rng(0))
    assert kept.shape == (10_000,) and 0.47 < kept.mean() < 0.53  # one coin per token
    counts = np.array([5000, 50, 5])
    assert np.array_equal(keep_probabilities(counts), keep_probabilities(counts, 1e-3))
    kv = to_keyed_vectors(["a", "b", "c"], np.eye(3))
    base = random_baseline(kv)
    assert np.allclose(base.vectors, np.random.default_rng(0).standard_normal((3, 3)))


def test_evaluation_files_tabs_sections_and_line_numbers(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("new york\tcity\t6.5\n", encoding="utf-8")  # a tab separates, not a space
    assert read_similarity_pairs(pairs) == [("new york", "city", 6.5)]
    questions = tmp_path / "q.txt"
    questions.write_text(":capitals\na b c d\n", encoding="utf-8")
    assert read_analogies(questions) == {"capitals": [("a", "b", "c", "d")]}
    questions.write_text(": s\na b c\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_analogies(questions)


def test_analogies_with_a_zero_vector_an_empty_section_and_many_questions(tmp_path):
    kv = _analogy_kv()
    words = list(kv.index_to_key)
    with_zero = to_keyed_vectors([*words, "zero"], np.vstack([kv.vectors, np.zeros(16)]))
    questions = [f"c{i} k{i} c{j} k{j}" for i in range(12) for j in range(12) if i != j]
    path = tmp_path / "q.txt"
    text = [": none", "c1 k1 c2 nosuch", ": capitals", *questions]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    plain = evaluate_analogies(kv, path)
    assert plain.sections["none"] == (0, 0) and plain.sections["capitals"][1] == 132
    zero = evaluate_analogies(with_zero, path)  # a zero vector scores 0, never NaN
    assert zero.sections == plain.sections
    many = tmp_path / "many.txt"  # more questions than one batch of 1024
    many.write_text(": capitals\n" + "\n".join(questions * 9) + "\n", encoding="utf-8")
    assert evaluate_analogies(kv, many).sections["capitals"] == (
        9 * plain.sections["capitals"][0],
        9 * 132,
    )
    assert np.isnan(evaluate_analogies(kv, tmp_path / "q.txt", restrict_vocab=1).accuracy)


def test_similarity_needs_three_pairs(tmp_path):
    kv = _analogy_kv()
    three = tmp_path / "three.tsv"
    three.write_text("c1\tk1\t1.0\nc2\tk5\t2.0\nc3\tk3\t3.0\n", encoding="utf-8")
    assert not np.isnan(evaluate_similarity(kv, three).spearman)
