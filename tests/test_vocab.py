import pytest
import torch

from course_utils.vocab import (
    BOS,
    EOS,
    PAD,
    UNK,
    CharTokenizer,
    Vocab,
    check_sentence,
    check_sentences,
)


def test_specials_first_then_by_frequency_deterministic():
    v = Vocab([list("床前明月光"), list("明月")])
    assert v.itos[:4] == [PAD, UNK, BOS, EOS]
    assert v.itos[4:6] == ["明", "月"]  # frequency 2, in order of first appearance
    assert v.itos[6:] == ["床", "前", "光"]
    assert len(v) == 9
    assert v.decode(v.encode(list("床前明月光"))) == list("床前明月光")


def test_unknown_tokens_map_to_unk_and_min_freq_cuts():
    v = Vocab([list("aab")], min_freq=2)
    assert "b" not in v
    assert v["b"] == v.unk_index == v[UNK]
    assert v.encode("zz") == [v.unk_index] * 2


def test_max_size_counts_specials():
    v = Vocab([list("aaabbc")], max_size=5)
    assert len(v) == 5 and v.itos[4] == "a"
    assert len(Vocab([list("aaabbc")], max_size=4)) == 4  # the specials only
    for size in (1, 2, 3):  # fewer than the 4 specials: an error, never 4 tokens
        with pytest.raises(ValueError, match="max_size counts the specials too"):
            Vocab([list("abc")], max_size=size)
    assert len(Vocab([list("abc")], max_size=2, specials=(UNK,))) == 2


def test_from_itos_keeps_the_ids():
    v = Vocab([list("床前明月光")])
    w = Vocab.from_itos(v.itos)
    assert w.itos == v.itos and w.encode(list("月光")) == v.encode(list("月光"))
    with pytest.raises(ValueError, match="start with the specials"):
        Vocab.from_itos(["a", PAD, UNK, BOS, EOS])
    with pytest.raises(ValueError, match="twice"):
        Vocab.from_itos([PAD, UNK, BOS, EOS, "a", "a"])


def test_no_unk_raises_keyerror_with_message():
    v = Vocab([["x"]], specials=(PAD,), unk_token=None)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        v["y"]


def test_bad_inputs_are_clear():
    with pytest.raises(TypeError, match="not one string"):
        Vocab("床前明月光")
    with pytest.raises(TypeError, match="sentence 1 is a string"):
        Vocab([["a"], "bc"])
    with pytest.raises(ValueError, match="min_freq"):
        Vocab([["a"]], min_freq=0)
    with pytest.raises(ValueError, match="unk_token"):
        Vocab([["a"]], specials=(PAD,), unk_token=UNK)
    with pytest.raises(IndexError, match="outside the vocabulary"):
        Vocab([["a"]]).lookup_token(99)


def test_char_tokenizer_is_a_vocab_of_sorted_characters():
    tok = CharTokenizer.from_texts(["新年好", "好年"])
    assert isinstance(tok, Vocab)
    assert tok.itos == [UNK, "\n", *sorted("新年好")]  # the ids a checkpoint stores
    assert tok.decode(tok.encode("新年快乐")) == "新年??"  # unknown characters: <unk>, shown "?"
    assert CharTokenizer(tok.itos).itos == tok.itos
    ids = tok.encode_lines(["新年", "好"])
    assert ids.dtype == torch.long and tok.decode(ids.tolist()) == "新年\n好\n"
    with pytest.raises(ValueError, match="must start with '<unk>'"):
        CharTokenizer(["a", UNK])
    with pytest.raises(IndexError, match="outside the vocabulary"):
        tok.decode([-1])


@pytest.mark.parametrize(
    "sentences, exc, match",
    [
        ("我们 去", TypeError, "not one string"),
        (None, TypeError, "list of token lists, got NoneType"),
        (iter([["a"]]), TypeError, "list"),
        ([], ValueError, "the corpus is empty"),
        (["我们 去"], TypeError, "sentence 0 is a string"),
        ([["a"], 5], TypeError, "sentence 1 is of type int"),
        ([["a", ""]], TypeError, "non-empty str"),
        ([["a", 3]], TypeError, "non-empty str"),
    ],
)
def test_check_sentences(sentences, exc, match):
    with pytest.raises(exc, match=match):
        check_sentences(sentences)


def test_check_sentences_empty_sentence_only_when_asked():
    assert check_sentences([["a"], []]) == [["a"], []]
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        check_sentences([["a"], []], empty_ok=False)
    check_sentence(0, ("a", "b"))  # a tuple is a sequence of words too


def test_right_pad_pads_on_the_right_and_returns_lengths():
    from course_utils.vocab import right_pad

    idx, lengths = right_pad([[5, 6, 7], [8], [9, 1]], pad_id=0)
    assert idx.tolist() == [[5, 6, 7], [8, 0, 0], [9, 1, 0]]
    assert lengths.tolist() == [3, 1, 2]
    assert idx.dtype == torch.long
