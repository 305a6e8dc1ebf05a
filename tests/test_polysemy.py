"""course_utils.polysemy: the course's polysemy sets and the sense-separation measures."""

from collections import Counter

import numpy as np
import pytest

from course_utils.polysemy import (
    PolysemyItem,
    cosine_gap,
    load_polysemy,
    loo_1nn_accuracy,
    loo_centroid_accuracy,
    majority_baseline,
    polysemy_path,
    sense_separation,
    silhouette,
    silhouette_values,
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sets_are_well_formed(lang):
    items = load_polysemy(lang)
    header = polysemy_path(lang).read_text(encoding="utf-8").splitlines()[:6]
    assert any("Origin" in line for line in header) and any("Licence" in line for line in header)
    by_word = Counter(it.word for it in items)
    for word in by_word:
        senses = Counter(it.sense for it in items if it.word == word)
        assert len(senses) >= 2, word
        assert min(senses.values()) >= 5, (word, senses)
    for it in items:
        assert it.tokens[it.index] == it.word
        assert all(t == t.strip() and t for t in it.tokens)


def test_sets_are_big_enough():
    zh, en = load_polysemy("zh"), load_polysemy("en")
    assert len({it.word for it in zh + en}) >= 8
    assert len(zh) + len(en) >= 100
    assert {"打", "花", "行", "东西", "意思", "制服"} <= {it.word for it in zh}
    assert {"bank", "spring", "bat"} <= {it.word for it in en}
    assert all(it.tokens == tuple(t.lower() for t in it.tokens) for it in en)


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="lang must be one of"):
        polysemy_path("fr")
    bad = tmp_path / "bad.tsv"
    bad.write_text("word\tsense\tsentence\n花\tflower\t公园 里 有 鲜花\n", encoding="utf-8")
    with pytest.raises(ValueError, match="exactly once"):
        load_polysemy(path=bad)
    bad.write_text("word\tsense\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        load_polysemy(path=bad)
    with pytest.raises(FileNotFoundError):
        load_polysemy(path=tmp_path / "missing.tsv")


def _clusters(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(4)[:2] * 5
    labels = ["a"] * 6 + ["b"] * 6
    x = np.stack([centres[0 if s == "a" else 1] + 0.1 * rng.normal(size=4) for s in labels])
    return x, labels


def test_separated_senses_score_high():
    x, labels = _clusters()
    assert loo_centroid_accuracy(x, labels) == 1.0
    assert loo_1nn_accuracy(x, labels) == 1.0
    assert silhouette(x, labels) > 0.9
    within, across, gap = cosine_gap(x, labels)
    assert within > 0.9 and abs(across) < 0.2 and gap > 0.7


def test_static_vectors_score_the_majority_baseline():
    labels = ["a"] * 7 + ["b"] * 5
    x = np.tile(np.array([[0.3, -1.0, 2.0]]), (12, 1))
    assert loo_centroid_accuracy(x, labels) == pytest.approx(7 / 12)
    assert loo_1nn_accuracy(x, labels) == pytest.approx(7 / 12)
    assert silhouette(x, labels) == 0.0
    assert cosine_gap(x, labels)[2] == pytest.approx(0.0, abs=1e-12)


def test_silhouette_matches_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(15, 5))
    labels = ["a"] * 5 + ["b"] * 5 + ["c"] * 5
    ours = silhouette_values(x, labels)
    ref = sklearn_metrics.silhouette_samples(x, labels, metric="cosine")
    assert np.allclose(ours, ref, atol=1e-9)


def test_sense_separation_is_per_word():
    x, labels = _clusters()
    items = [PolysemyItem("w", s, ("w",), 0) for s in labels]
    items += [PolysemyItem("v", s, ("v",), 0) for s in labels]
    static = np.ones((12, 4))
    res = sense_separation(np.concatenate([x, static]), items)
    assert res["centroid_acc"] == pytest.approx((12 + 6) / 24)  # v scores its majority, 6 of 12
    assert majority_baseline(items) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "x, labels, match",
    [
        (np.ones((3, 2)), ["a", "a", "a"], "two senses"),
        (np.ones((3, 2)), ["a", "a", "b"], "at least two sentences"),
        (np.ones((4, 2)), ["a", "b"], "2 labels for 4 vectors"),
        (np.ones(4), ["a", "a", "b", "b"], "2-D"),
        (np.full((4, 2), np.nan), ["a", "a", "b", "b"], "NaN"),
    ],
)
def test_bad_input(x, labels, match):
    with pytest.raises(ValueError, match=match):
        loo_centroid_accuracy(x, labels)


def _brute_force(x, items):
    """sense_separation written out the long way, for random vectors (no ties)."""
    from sklearn.metrics import silhouette_samples

    words = list(dict.fromkeys(it.word for it in items))
    acc_c = acc_1 = sil = 0.0
    within, across = [], []
    for w in words:
        idx = [i for i, it in enumerate(items) if it.word == w]
        xw = x[idx] / np.linalg.norm(x[idx], axis=1, keepdims=True)
        lw = np.array([items[i].sense for i in idx])
        for i in range(len(idx)):
            rest = np.arange(len(idx)) != i
            centroid = {
                s: xw[rest & (lw == s)].mean(0) / np.linalg.norm(xw[rest & (lw == s)].mean(0))
                for s in set(lw)
            }
            acc_c += max(centroid, key=lambda s: xw[i] @ centroid[s]) == lw[i]
            sims = np.where(rest, xw @ xw[i], -np.inf)
            acc_1 += lw[int(np.argmax(sims))] == lw[i]
        sil += silhouette_samples(x[idx], lw, metric="cosine").sum()
        sim = xw @ xw.T
        pairs = [(a, b) for a in range(len(idx)) for b in range(len(idx)) if a != b]
        within.append(np.mean([sim[a, b] for a, b in pairs if lw[a] == lw[b]]))
        across.append(np.mean([sim[a, b] for a, b in pairs if lw[a] != lw[b]]))
    n = len(items)
    return {
        "centroid_acc": acc_c / n,
        "1nn_acc": acc_1 / n,
        "silhouette": sil / n,
        "within_cos": float(np.mean(within)),
        "across_cos": float(np.mean(across)),
        "cos_gap": float(np.mean(np.subtract(within, across))),
    }


def test_sense_separation_matches_a_brute_force_reference():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(7)
    senses = {  # three words: with two, swapping each word's sentences for the other's
        "w": ["a"] * 4 + ["b"] * 3 + ["c"] * 2,  # would give the same pooled totals
        "v": ["x"] * 3 + ["y"] * 5,
        "u": ["p"] * 2 + ["q"] * 4,
    }
    items = [PolysemyItem(w, s, (w,), 0) for w, ss in senses.items() for s in ss]
    centres = rng.normal(size=(5, 6))
    sense_id = {"a": 0, "b": 1, "c": 2, "x": 3, "y": 4, "p": 0, "q": 2}
    x = np.stack([centres[sense_id[it.sense]] + 0.9 * rng.normal(size=6) for it in items])
    got, want = sense_separation(x, items), _brute_force(x, items)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
    assert 0 < got["centroid_acc"] < 1 and 0 < got["1nn_acc"] < 1  # neither trivial case
    within, across, gap = cosine_gap(x[:9], senses["w"])
    assert (within, across) == pytest.approx(
        (_brute_force(x[:9], items[:9])["within_cos"], _brute_force(x[:9], items[:9])["across_cos"])
    )


def test_ties_go_to_the_majority_sense_even_when_it_is_not_first():
    labels = ["b"] * 3 + ["a"] * 2  # the majority "b" sorts after "a"
    x = np.ones((5, 3))  # a static vector: every similarity ties
    assert loo_centroid_accuracy(x, labels) == pytest.approx(3 / 5)
    assert loo_1nn_accuracy(x, labels) == pytest.approx(3 / 5)
    tie = ["b", "b", "a", "a"]  # equal counts: the first sense in sorted order
    assert loo_centroid_accuracy(np.ones((4, 3)), tie) == pytest.approx(2 / 4)


def test_majority_baseline_counts_each_word_separately():
    items = [PolysemyItem("w", s, ("w",), 0) for s in ["x", "x", "y"]]
    items += [PolysemyItem("v", s, ("v",), 0) for s in ["y", "y", "z"]]
    assert majority_baseline(items) == pytest.approx(4 / 6)  # pooled senses would give 3 / 6


def test_bad_rows_are_numbered_from_the_header_as_row_1(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text(
        "# a comment\nword\tsense\tsentence\n花\tflower\t我 买 花\n花\tflower\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="row 3: expected 3 tab-separated columns"):
        load_polysemy(path=bad)


def test_centroid_predictions_are_what_the_accuracy_counts():
    from course_utils.polysemy import loo_centroid_predictions

    x, labels = _clusters()
    assert loo_centroid_predictions(x, labels) == labels
    static = loo_centroid_predictions(np.ones((5, 3)), ["b", "b", "b", "a", "a"])
    assert static == ["b"] * 5  # every similarity ties: the majority sense
    rng = np.random.default_rng(3)
    noisy = x + 3 * rng.normal(size=x.shape)
    pred = loo_centroid_predictions(noisy, labels)
    assert loo_centroid_accuracy(noisy, labels) == pytest.approx(
        np.mean([p == s for p, s in zip(pred, labels)])
    )


def test_majority_sense_breaks_ties_by_name():
    from course_utils.polysemy import majority_sense

    assert majority_sense(["b", "b", "a"]) == "b"
    assert majority_sense(["b", "a", "a", "b"]) == "a"  # a tie: the first by name
    assert majority_sense(np.array(["x", "y", "y"])) == "y"
    with pytest.raises(ValueError, match="labels is empty"):
        majority_sense([])


def test_silhouette_by_sentence_is_sklearn_within_each_word():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from course_utils.polysemy import silhouette_by_sentence

    rng = np.random.default_rng(11)
    senses = {"w": ["a"] * 3 + ["b"] * 4, "v": ["x"] * 2 + ["y"] * 3 + ["z"] * 2}
    items = [PolysemyItem(w, s, (w,), 0) for w, ss in senses.items() for s in ss]
    items = [items[i] for i in rng.permutation(len(items))]  # the words interleaved
    x = rng.normal(size=(len(items), 5))
    got = silhouette_by_sentence(x, items)
    for w in senses:
        idx = [i for i, it in enumerate(items) if it.word == w]
        ref = sklearn_metrics.silhouette_samples(
            x[idx], [items[i].sense for i in idx], metric="cosine"
        )
        np.testing.assert_allclose(got[idx], ref, atol=1e-9)
    assert sense_separation(x, items)["silhouette"] == pytest.approx(got.mean(), abs=1e-12)
    with pytest.raises(ValueError, match="got 3 vectors for 14 items"):
        silhouette_by_sentence(x[:3], items)
