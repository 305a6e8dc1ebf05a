"""course_utils.numeral_dataset (the number-translation data) and numeral_translation (decoding)."""

import math
import random

import pytest
import torch

from course_utils.decoding import sequence_log_prob
from course_utils.numeral_dataset import (
    held_out_numbers,
    numbers_of_length,
    numeral_tensors,
    numeral_vocabs,
    sample_training_numbers,
)
from course_utils.numeral_translation import ids_to_text, translate_numbers
from course_utils.numerals import to_chinese


def test_data_set_helpers():
    test = held_out_numbers(5, 30, seed=0)
    assert len(test[1]) == 2 and len(test[5]) == 30
    exclude = {x for v in test.values() for x in v}
    train = sample_training_numbers(2000, 5, exclude, random.Random(0))
    assert not exclude & set(train) and max(train) < 10**5
    assert {len(str(x)) for x in train} == {1, 2, 3, 4, 5}
    src_vocab, tgt_vocab = numeral_vocabs()
    src, tgt = numeral_tensors([7, 20305], src_vocab, tgt_vocab)
    assert src.shape == (2, 5) and tgt.shape == (2, 9)
    assert "".join(tgt_vocab.decode(tgt[1, 1:-1].tolist())) == "二万零三百零五"
    assert src[0, 1:].eq(src_vocab["<pad>"]).all()  # 7 is padded after its one digit
    assert numbers_of_length(1) == range(0, 10) and numbers_of_length(3) == range(100, 1000)


def test_ids_to_text():
    _, tgt_vocab = numeral_vocabs()
    ids = (
        [tgt_vocab["<bos>"]]
        + tgt_vocab.encode(list("十五"))
        + [tgt_vocab["<eos>"], tgt_vocab["五"]]
    )
    assert ids_to_text(ids, tgt_vocab) == "十五"


def _tiny_model(src_vocab, tgt_vocab):
    from course_utils.transformer import make_model

    torch.manual_seed(0)
    return make_model(
        src_vocab=len(src_vocab),
        tgt_vocab=len(tgt_vocab),
        N=1,
        d_model=16,
        d_ff=32,
        h=2,
        dropout=0.0,
    )


def test_translate_numbers_one_output_per_number_and_none_for_none():
    src_vocab, tgt_vocab = numeral_vocabs()
    model = _tiny_model(src_vocab, tgt_vocab)
    greedy = translate_numbers(model, [7, 20305, 15], src_vocab, tgt_vocab, max_len=6)
    beam = translate_numbers(model, [7, 20305, 15], src_vocab, tgt_vocab, beam_size=2, max_len=6)
    assert len(greedy) == len(beam) == 3 and all(isinstance(t, str) for t in greedy + beam)
    assert all(len(t) <= 6 for t in greedy)
    assert translate_numbers(model, [], src_vocab, tgt_vocab) == []  # no numbers, no outputs


def test_translation_log_prob_scores_what_the_decoders_return():
    from course_utils.decoding import beam_search
    from course_utils.numeral_translation import translation_log_prob

    src_vocab, tgt_vocab = numeral_vocabs()
    model = _tiny_model(src_vocab, tgt_vocab).eval()
    src, _ = numeral_tensors([20305], src_vocab, tgt_vocab)
    mask = (src != 0).unsqueeze(-2)
    bos, eos = tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    best = beam_search(model, src, mask, 30, bos, eos, beam_size=3, alpha=0.0)[0]
    assert best.tokens[-1] == eos  # a finished hypothesis: its text, then <eos>
    text = "".join(tgt_vocab.decode(best.tokens[1:-1]))
    assert math.isclose(
        translation_log_prob(model, 20305, text, src_vocab, tgt_vocab), best.log_prob, rel_tol=1e-5
    )
    with pytest.raises(ValueError, match="lacks"):
        translation_log_prob(model, 7, "seven", src_vocab, tgt_vocab)


def test_an_output_with_unk_reads_back_as_the_ids_it_came_from():
    from course_utils.numeral_translation import text_to_tokens, translation_log_prob

    src_vocab, tgt_vocab = numeral_vocabs()
    assert "<unk>" in tgt_vocab.specials
    ids = [tgt_vocab[t] for t in ("<bos>", "三", "<unk>", "十", "<eos>")]
    text = ids_to_text(ids, tgt_vocab)
    assert text == "三<unk>十" and text_to_tokens(text, tgt_vocab) == ["三", "<unk>", "十"]
    assert text_to_tokens("<un", tgt_vocab) == ["<", "u", "n"]  # not a special: characters
    model = _tiny_model(src_vocab, tgt_vocab).eval()
    src, _ = numeral_tensors([30], src_vocab, tgt_vocab)
    want = sequence_log_prob(model, src, (src != 0).unsqueeze(-2), torch.tensor([ids])).item()
    got = translation_log_prob(model, 30, text, src_vocab, tgt_vocab)
    assert math.isclose(got, want, rel_tol=1e-6)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda v: numeral_tensors([], *v), ValueError, "numbers must not be empty"),
        (lambda v: numeral_tensors([-1], *v), ValueError, "10\\*\\*12"),
        (lambda v: numeral_tensors([1.5], *v), TypeError, "int"),
        (lambda v: numeral_tensors([1], "0123", v[1]), TypeError, "src_vocab"),
        (lambda v: numbers_of_length(0), ValueError, "n_digits"),
        (lambda v: numbers_of_length(13), ValueError, "at most 12"),
        (lambda v: held_out_numbers(3, 0), ValueError, "per_length"),
        (lambda v: held_out_numbers(3, 5, max_fraction=0), ValueError, "max_fraction"),
        (
            lambda v: sample_training_numbers(5, 1, set(range(10)), random.Random(0)),
            ValueError,
            "nothing is left",
        ),
        (lambda v: sample_training_numbers(0, 2, set(), random.Random(0)), ValueError, "n must"),
        (lambda v: translate_numbers(None, [1], *v, beam_size=-1), ValueError, "beam_size"),
        (lambda v: translate_numbers(None, 7, *v), TypeError, "numbers"),
        (lambda v: translate_numbers(None, [1], *v, max_len=0), ValueError, "max_len"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(numeral_vocabs())


def test_targets_are_the_converter_s_numerals():
    src_vocab, tgt_vocab = numeral_vocabs()
    numbers = sample_training_numbers(50, 8, set(), random.Random(1))
    _, tgt = numeral_tensors(numbers, src_vocab, tgt_vocab)
    for n, row in zip(numbers, tgt):
        assert ids_to_text(row.tolist(), tgt_vocab) == to_chinese(n)
