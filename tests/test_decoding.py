"""course_utils.decoding: greedy and beam search on a model whose answers we know."""

import math

import pytest
import torch
from torch import nn

from course_utils.decoding import (
    beam_search,
    beam_search_step,
    greedy_decode,
    hypotheses,
    length_penalty,
    next_word_log_probs,
    sequence_log_prob,
)


class TableModel(nn.Module):
    """A fake encoder-decoder: the next-word distribution depends only on the previous word."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.log(torch.tensor(table))  # (vocab, vocab) rows sum to 1
        self.generator = lambda x: x  # decode already returns log-probabilities

    def encode(self, src, src_mask):
        return torch.zeros(src.size(0), src.size(1), 1)

    def decode(self, memory, src_mask, tgt, tgt_mask):
        return self.table[tgt]  # (batch, t, vocab)


# words: 0 pad, 1 <bos>, 2 <eos>, 3 "a", 4 "b"
TABLE = [
    [0.2, 0.2, 0.2, 0.2, 0.2],
    [1e-9, 1e-9, 0.1, 0.5, 0.4],  # after <bos>: "a" 0.5, "b" 0.4, <eos> 0.1
    [1e-9, 1e-9, 1.0, 1e-9, 1e-9],
    [1e-9, 1e-9, 0.4, 0.3, 0.3],  # after "a": <eos> only 0.4
    [1e-9, 1e-9, 0.9, 0.05, 0.05],
]  # after "b": <eos> 0.9


def test_greedy_is_myopic_and_beam_finds_the_better_sentence():
    model = TableModel(TABLE)
    src = torch.ones(1, 3, dtype=torch.long)
    ys = greedy_decode(model, src, None, 4, start_symbol=1, end_symbol=2)
    assert ys[0, :3].tolist() == [1, 3, 2]  # "a" (0.5) then <eos> (0.4): p = 0.20
    hyps = beam_search(
        model, src, torch.ones(1, 1, 3, dtype=torch.bool), 4, 1, 2, beam_size=2, alpha=0.0
    )
    assert hyps[0].tokens == [1, 4, 2]  # "b" then <eos>: p = 0.36
    assert math.isclose(hyps[0].log_prob, math.log(0.36), rel_tol=1e-5)


def test_beam_search_step():
    scores = torch.tensor([0.0, -1.0])
    log_probs = torch.log(torch.tensor([[0.6, 0.4], [0.9, 0.1]]))
    s, b, w = beam_search_step(scores, log_probs, 3)
    assert b.tolist() == [0, 0, 1] and w.tolist() == [0, 1, 0]
    assert torch.allclose(s, torch.tensor([math.log(0.6), math.log(0.4), -1 + math.log(0.9)]))
    with pytest.raises(ValueError, match="beams, vocab"):
        beam_search_step(scores, log_probs[0], 2)


def test_length_penalty_and_errors():
    assert length_penalty(7, 0.0) == 1.0 and math.isclose(length_penalty(1, 1.0), 1.0)
    model = TableModel(TABLE)
    with pytest.raises(ValueError, match=r"\(1, seq\)"):
        beam_search(model, torch.ones(2, 3, dtype=torch.long), None, 4, 1, 2)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, torch.ones(2, 3, dtype=torch.long), None, 0, 1)


def test_beam_search_steps():
    model = TableModel(TABLE)
    ys = torch.tensor([[1, 3], [1, 4]])  # two live hypotheses: <bos> a, <bos> b
    memory, src_mask = model.encode(torch.ones(1, 3, dtype=torch.long), None), torch.ones(1, 1, 3)
    log_probs = next_word_log_probs(model, memory, src_mask, ys)  # (2, vocab)
    assert torch.allclose(log_probs.exp(), torch.tensor(TABLE)[[3, 4]])
    hyps = hypotheses(torch.tensor([[1, 4, 2]]), torch.tensor([math.log(0.36)]), alpha=1.0)
    assert hyps[0].tokens == [1, 4, 2]
    assert math.isclose(hyps[0].score, math.log(0.36) / ((5 + 2) / 6), rel_tol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(max_len=0), ValueError, "max_len must be a positive int"),
        (dict(beam_size=0), ValueError, "beam_size must be a positive int"),
        (dict(beam_size=2.0), TypeError, "beam_size"),
    ],
)
def test_beam_search_bad_sizes(kwargs, error, match):
    args = dict(max_len=4, beam_size=2) | kwargs
    with pytest.raises(error, match=match):
        beam_search(
            TableModel(TABLE),
            torch.ones(1, 3, dtype=torch.long),
            torch.ones(1, 1, 3),
            args["max_len"],
            1,
            2,
            beam_size=args["beam_size"],
        )


def test_decoding_bad_shapes():
    with pytest.raises(ValueError, match="k must be a positive int"):
        beam_search_step(torch.zeros(2), torch.zeros(2, 5), 0)
    with pytest.raises(ValueError, match=r"log_probs .* beams = 2"):
        beam_search_step(torch.zeros(2), torch.zeros(3, 5), 2)
    with pytest.raises(ValueError, match=r"src must have shape \(batch, seq\)"):
        greedy_decode(TableModel(TABLE), torch.ones(3, dtype=torch.long), None, 4, 1)


def test_sequence_log_prob_tells_a_search_error_from_the_search():
    model = TableModel(TABLE)
    src = torch.ones(2, 3, dtype=torch.long)
    tgt = torch.tensor([[1, 3, 2], [1, 4, 2]])  # greedy's "a <eos>", beam's "b <eos>"
    lp = sequence_log_prob(model, src, None, tgt)
    assert torch.allclose(lp, torch.log(torch.tensor([0.5 * 0.4, 0.4 * 0.9])))
    assert lp[1] > lp[0]  # the model prefers the sentence greedy missed: a search error
    mask = torch.ones(1, 1, 3, dtype=torch.bool)
    hyp = beam_search(model, src[:1], mask, 4, 1, 2, beam_size=2, alpha=0.0)[0]
    assert math.isclose(
        sequence_log_prob(model, src[:1], None, torch.tensor([hyp.tokens])).item(),
        hyp.log_prob,
        rel_tol=1e-6,
    )
    with pytest.raises(ValueError, match="start symbol and at least one word"):
        sequence_log_prob(model, src, None, torch.ones(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tgt .* batch = 2"):
        sequence_log_prob(model, src, None, torch.ones(3, 2, dtype=torch.long))


# ---- a real (random, small) Transformer against step-by-step references ----


def _small_transformer():
    from course_utils.transformer import make_model

    torch.manual_seed(0)
    model = make_model(src_vocab=9, tgt_vocab=7, N=2, d_model=16, d_ff=32, h=2, dropout=0.0)
    src = torch.tensor([[3, 4, 5, 6, 0], [6, 5, 4, 3, 2]])  # (2, 5)
    src_mask = torch.tensor([[[1, 1, 1, 1, 0]], [[1, 1, 1, 1, 1]]], dtype=torch.bool)  # (2, 1, 5)
    return model.eval(), src, src_mask


def _last_log_probs(model, memory, src_mask, ys):
    """log P(next word | ys) of one hypothesis ys (1, t), the slow way."""
    from course_utils.transformer import subsequent_mask

    out = model.decode(memory, src_mask, ys, subsequent_mask(ys.size(1)))  # (1, t, d)
    return model.generator(out[:, -1])[0]  # (vocab,)


def test_next_word_log_probs_of_a_real_model_match_one_hypothesis_at_a_time():
    model, src, src_mask = _small_transformer()
    memory = model.encode(src[:1], src_mask[:1])  # (1, 5, 16), the padded sentence
    ys = torch.tensor([[1, 3], [1, 4], [1, 5]])  # three beams, two tokens: beams != length
    got = next_word_log_probs(model, memory, src_mask[:1], ys)  # (3, 7)
    want = torch.stack([_last_log_probs(model, memory, src_mask[:1], y[None]) for y in ys])
    torch.testing.assert_close(got, want)
    # the source padding and the memory matter: without them the answer changes
    unmasked = next_word_log_probs(model, memory, torch.ones(1, 1, 5, dtype=torch.bool), ys)
    assert not torch.allclose(got, unmasked, atol=1e-4)


def test_greedy_decode_of_a_real_model_matches_a_word_by_word_loop():
    model, src, src_mask = _small_transformer()
    ys = greedy_decode(model, src, src_mask, max_len=5, start_symbol=1)  # (2, 5)
    assert ys.shape == (2, 5)
    for b in range(2):
        memory = model.encode(src[b : b + 1], src_mask[b : b + 1])
        want = torch.tensor([[1]])
        for _ in range(4):
            nxt = _last_log_probs(model, memory, src_mask[b : b + 1], want).argmax()
            want = torch.cat([want, nxt.view(1, 1)], dim=1)
        assert ys[b].tolist() == want[0].tolist()


def test_sequence_log_prob_of_a_real_model_is_the_sum_of_its_word_log_probs():
    model, src, src_mask = _small_transformer()
    tgt = torch.tensor([[1, 2, 3, 4], [1, 6, 5, 2]])  # (2, 4)
    got = sequence_log_prob(model, src, src_mask, tgt)  # (2,)
    for b in range(2):
        memory = model.encode(src[b : b + 1], src_mask[b : b + 1])
        want = sum(
            _last_log_probs(model, memory, src_mask[b : b + 1], tgt[b : b + 1, :t])[tgt[b, t]]
            for t in range(1, 4)
        )
        assert math.isclose(got[b].item(), want.item(), rel_tol=1e-5)


def test_beam_of_one_is_greedy_and_scores_its_own_log_prob():
    model, src, src_mask = _small_transformer()
    greedy = greedy_decode(model, src[:1], src_mask[:1], max_len=6, start_symbol=1, end_symbol=2)
    hyps = beam_search(model, src[:1], src_mask[:1], 6, 1, 2, beam_size=1, alpha=0.0)
    tokens = greedy[0].tolist()
    tokens = tokens[: tokens.index(2) + 1] if 2 in tokens else tokens
    assert hyps[0].tokens == tokens
    lp = sequence_log_prob(model, src[:1], src_mask[:1], torch.tensor([tokens])).item()
    assert math.isclose(hyps[0].log_prob, lp, rel_tol=1e-5)
    # a wider beam never finds a worse best hypothesis at alpha = 0 on this model
    wide = beam_search(model, src[:1], src_mask[:1], 6, 1, 2, beam_size=4, alpha=0.0)
    assert wide[0].log_prob >= hyps[0].log_prob - 1e-6
    scored = beam_search(model, src[:1], src_mask[:1], 6, 1, 2, beam_size=4, alpha=1.0)
    for h in scored:
        n = len(h.tokens) - 1
        assert math.isclose(h.score, h.log_prob / length_penalty(n, 1.0), rel_tol=1e-6)
    assert [h.score for h in scored] == sorted((h.score for h in scored), reverse=True)


class Spy:
    """Wraps a model and records the masks each decoder call receives."""

    def __init__(self, model):
        self.model, self.generator, self.calls = model, model.generator, []

    def encode(self, src, src_mask):
        self.calls.append(("encode", src_mask))
        return self.model.encode(src, src_mask)

    def decode(self, memory, src_mask, tgt, tgt_mask):
        self.calls.append(("decode", src_mask, tgt_mask, tgt.size(1)))
        return self.model.decode(memory, src_mask, tgt, tgt_mask)


def _check_masks(spy, src_mask):
    from course_utils.transformer import subsequent_mask

    assert spy.calls[0][0] == "encode" and torch.equal(spy.calls[0][1], src_mask)
    decodes = [c for c in spy.calls if c[0] == "decode"]
    assert decodes
    for _, s_mask, t_mask, t in decodes:
        assert s_mask is not None and torch.equal(s_mask[:1].expand_as(src_mask), src_mask)
        assert torch.equal(t_mask, subsequent_mask(t))  # causal, over the t tokens so far


def test_every_decoder_passes_the_source_mask_and_a_causal_target_mask():
    model, src, src_mask = _small_transformer()
    for decode in (
        lambda m: greedy_decode(m, src[:1], src_mask[:1], 4, 1),
        lambda m: beam_search(m, src[:1], src_mask[:1], 4, 1, 2, beam_size=2),
        lambda m: sequence_log_prob(m, src[:1], src_mask[:1], torch.tensor([[1, 3, 4]])),
    ):
        spy = Spy(model)
        decode(spy)
        _check_masks(spy, src_mask[:1])


def test_greedy_stops_once_every_row_has_ended():
    model = TableModel(TABLE)  # "a" then <eos> for certain... after <eos> only <eos>
    src = torch.ones(2, 3, dtype=torch.long)
    ys = greedy_decode(model, src, None, 10, start_symbol=1, end_symbol=2)
    assert ys.tolist() == [[1, 3, 2], [1, 3, 2]]  # stopped at length 3, not max_len 10
    ys = greedy_decode(model, src, None, 5, start_symbol=1)  # no end symbol: runs to max_len
    assert ys.shape == (2, 5)


def test_beam_search_defaults_and_a_beam_that_shrinks_as_hypotheses_finish():
    model, src, src_mask = _small_transformer()
    default = beam_search(model, src[:1], src_mask[:1], 6, 1, 2)
    explicit = beam_search(model, src[:1], src_mask[:1], 6, 1, 2, beam_size=4, alpha=0.6)
    assert [(h.tokens, h.score) for h in default] == [(h.tokens, h.score) for h in explicit]
    # beam_size hypotheses in all: each finished one leaves the beam, none is forgotten
    for k in (2, 3, 5):
        assert len(beam_search(model, src[:1], src_mask[:1], 6, 1, 2, beam_size=k)) == k


def test_hypotheses_finished_at_different_steps_are_all_kept():
    mask = torch.ones(1, 1, 3, dtype=torch.bool)
    hyps = beam_search(TableModel(TABLE), torch.ones(1, 3, dtype=torch.long), mask, 6, 1, 2, 3, 0.0)
    # step 1 finishes "<eos>" (0.1); step 2 finishes "b <eos>" (0.36) and "a <eos>" (0.2)
    assert [h.tokens for h in hyps] == [[1, 4, 2], [1, 3, 2], [1, 2]]
    assert [round(math.exp(h.log_prob), 6) for h in hyps] == [0.36, 0.2, 0.1]
