import pytest

from course_utils.vocab import BOS, EOS, PAD, UNK, Vocab


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
