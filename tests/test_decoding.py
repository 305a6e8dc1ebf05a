"""course_utils.decoding: greedy and beam search on a model whose answers we know."""

import math

import pytest
import torch
from torch import nn

from course_utils.decoding import beam_search, beam_search_step, greedy_decode, length_penalty


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
TABLE = [[0.2, 0.2, 0.2, 0.2, 0.2],
         [1e-9, 1e-9, 0.1, 0.5, 0.4],   # after <bos>: "a" 0.5, "b" 0.4, <eos> 0.1
         [1e-9, 1e-9, 1.0, 1e-9, 1e-9],
         [1e-9, 1e-9, 0.4, 0.3, 0.3],   # after "a": <eos> only 0.4
         [1e-9, 1e-9, 0.9, 0.05, 0.05]]  # after "b": <eos> 0.9


def test_greedy_is_myopic_and_beam_finds_the_better_sentence():
    model = TableModel(TABLE)
    src = torch.ones(1, 3, dtype=torch.long)
    ys = greedy_decode(model, src, None, 4, start_symbol=1, end_symbol=2)
    assert ys[0, :3].tolist() == [1, 3, 2]  # "a" (0.5) then <eos> (0.4): p = 0.20
    hyps = beam_search(model, src, torch.ones(1, 1, 3, dtype=torch.bool), 4, 1, 2, beam_size=2, alpha=0.0)
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
