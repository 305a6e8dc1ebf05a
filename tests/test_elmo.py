"""course_utils.elmo: shapes, masks, causality of each LM direction, the scalar mix, bad input."""

import math

import pytest
import torch

from course_utils.elmo import (
    IGNORE_INDEX,
    ElmoConfig,
    ScalarMix,
    batch_to_ids,
    batch_word_ids,
    build_vocabs,
    embed_sentences,
    init_unigram_bias,
    lm_targets,
    make_batches,
    perplexity,
    reverse_padded,
    unigram_perplexity,
)

# PyTorch notes once that oneDNN has no LSTM projections and uses its default kernel.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")

SENTS = [
    ["我们", "去", "公园", "看", "花"],
    ["他", "花", "了", "三百", "元"],
    ["这", "是", "什么", "东西"],
    ["我们", "明天", "去", "北京"],
]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    words, chars = build_vocabs(SENTS, max_words=50)
    cfg = ElmoConfig(
        vocab_size=len(words),
        n_chars=len(chars),
        max_chars=6,
        char_dim=8,
        filters=((1, 8), (2, 8)),
        proj_dim=8,
        hidden_dim=16,
        dropout=0.0,
    )
    model = cfg.build().eval()
    return model, words, chars


def test_shapes(tiny):
    model, _, chars = tiny
    char_ids, mask = batch_to_ids(SENTS[:2], chars, 6)
    assert char_ids.shape == (2, 7, 6) and char_ids.dtype == torch.long
    assert mask.tolist()[0] == [True] * 7
    layers = model(char_ids, mask)
    assert len(layers) == 3
    assert all(h.shape == (2, 7, 16) for h in layers)
    # the char layer is the token vector twice
    assert torch.equal(layers[0][..., :8], layers[0][..., 8:])


def test_padding_does_not_change_real_tokens(tiny):
    model, _, chars = tiny
    short = [["这", "是", "东西"]]
    alone = model(*batch_to_ids(short, chars, 6))
    batched = model(*batch_to_ids(short + [SENTS[0] + SENTS[3]], chars, 6))
    n = len(short[0]) + 2
    for a, b in zip(alone, batched):
        assert torch.allclose(a[0], b[0, :n], atol=1e-6)
        assert torch.all(b[0, n:] == 0)  # padding positions are zeroed


def test_forward_lm_does_not_see_the_future(tiny):
    model, _, chars = tiny
    a = [["我们", "去", "公园", "看", "花"]]
    b = [["我们", "去", "北京", "吃", "东西"]]  # differs from position 3 (after <bos>) on
    _, fa, ba = model.encode(*batch_to_ids(a, chars, 6))
    _, fb, bb = model.encode(*batch_to_ids(b, chars, 6))
    t = 2  # positions 0..2 = <bos> 我们 去 are shared
    for ha, hb in zip(fa, fb):
        assert torch.allclose(ha[0, : t + 1], hb[0, : t + 1], atol=1e-6)
        assert not torch.allclose(ha[0, t + 1], hb[0, t + 1])
    # the backward LM does see the future, so it differs there
    assert not torch.allclose(ba[0][0, t], bb[0][0, t])


def test_backward_lm_does_not_see_the_past(tiny):
    model, _, chars = tiny
    a = [["我们", "去", "公园", "看", "花"]]
    b = [["他", "们", "也", "看", "花"]]  # shares the last two words
    _, fa, ba = model.encode(*batch_to_ids(a, chars, 6))
    _, fb, bb = model.encode(*batch_to_ids(b, chars, 6))
    t = 4  # positions 4..6 = 看 花 <eos>
    for ha, hb in zip(ba, bb):
        assert torch.allclose(ha[0, t:], hb[0, t:], atol=1e-6)
        assert not torch.allclose(ha[0, t - 1], hb[0, t - 1])
    assert not torch.allclose(fa[0][0, t], fb[0][0, t])


def test_lm_targets_never_include_the_own_token():
    ids = torch.tensor([[2, 10, 11, 3, 0], [2, 12, 3, 0, 0]])
    mask = ids != 0
    fwd, bwd = lm_targets(ids, mask)
    assert fwd.tolist() == [
        [10, 11, 3, IGNORE_INDEX, IGNORE_INDEX],
        [12, 3, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX],
    ]
    assert bwd.tolist() == [
        [IGNORE_INDEX, 2, 10, 11, IGNORE_INDEX],
        [IGNORE_INDEX, 2, 12, IGNORE_INDEX, IGNORE_INDEX],
    ]


def test_reverse_padded_is_an_involution():
    x = torch.arange(10.0).reshape(2, 5, 1)
    lengths = torch.tensor([5, 3])
    r = reverse_padded(x, lengths)
    assert r[1, :, 0].tolist() == [7.0, 6.0, 5.0, 8.0, 9.0]
    assert torch.equal(reverse_padded(r, lengths), x)


def test_scalar_mix_weights_sum_to_one():
    mix = ScalarMix(3)
    with torch.no_grad():
        mix.scalar_parameters.copy_(torch.tensor([0.3, -2.0, 1.1]))
        mix.gamma.fill_(2.0)
    assert math.isclose(mix.weights.detach().sum().item(), 1.0, rel_tol=1e-6)
    layers = [torch.full((2, 3), float(j)) for j in range(3)]
    s = torch.softmax(torch.tensor([0.3, -2.0, 1.1]), 0)
    expected = 2.0 * (s[1] * 1 + s[2] * 2)
    assert torch.allclose(mix(layers), expected.expand(2, 3))
    with pytest.raises(ValueError, match="built for 3 layers"):
        mix(layers[:2])
    with pytest.raises(ValueError, match="positive int"):
        ScalarMix(0)


def test_oov_word_gets_a_vector_from_its_characters(tiny):
    model, words, chars = tiny
    assert "公花" not in words
    layers = model(*batch_to_ids([["公花"], ["公园"]], chars, 6))
    assert layers[0][0, 1].abs().sum() > 0
    assert not torch.allclose(layers[0][0, 1], layers[0][1, 1])


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        ([], ValueError, "empty"),
        ([[]], ValueError, "sentence 0 is empty"),
        (["我们 去"], TypeError, "list of words"),
        ([["我们", 3]], TypeError, "non-empty str"),
        ([["中华人民共和国"]], ValueError, "max_chars=6"),
    ],
)
def test_bad_sentences(tiny, bad, exc, match):
    _, _, chars = tiny
    with pytest.raises(exc, match=match):
        batch_to_ids(bad, chars, 6)


def test_over_long_word_can_be_truncated(tiny):
    _, _, chars = tiny
    ids, _ = batch_to_ids([["中华人民共和国"]], chars, 6, truncate=True)
    assert ids.shape == (1, 3, 6)


def test_bad_tensors(tiny):
    model, _, chars = tiny
    char_ids, mask = batch_to_ids(SENTS[:2], chars, 6)
    with pytest.raises(TypeError, match="torch.long"):
        model(char_ids.float(), mask)
    with pytest.raises(ValueError, match=r"shape \(batch, seq, 6\)"):
        model(char_ids[..., :4], mask)
    with pytest.raises(TypeError, match="torch.bool"):
        model(char_ids, mask.long())
    holes = mask.clone()
    holes[0, 2] = False
    with pytest.raises(ValueError, match="end of each sentence"):
        model(char_ids, holes)
    with pytest.raises(ValueError, match="char ids must lie"):
        model(char_ids + 1000, mask)


def test_config_validation():
    with pytest.raises(ValueError, match="vocab_size"):
        ElmoConfig(vocab_size=0, n_chars=10)
    with pytest.raises(ValueError, match="wider than max_chars"):
        ElmoConfig(vocab_size=10, n_chars=10, max_chars=4, filters=((5, 4),))
    with pytest.raises(ValueError, match="dropout"):
        ElmoConfig(vocab_size=10, n_chars=10, dropout=1.0)


def test_training_beats_the_unigram_baseline():
    torch.manual_seed(0)
    corpus = [["我们", "去", "公园", "看", "花"], ["他们", "去", "北京", "看", "朋友"]] * 20
    words, chars = build_vocabs(corpus, max_words=50)
    cfg = ElmoConfig(
        vocab_size=len(words),
        n_chars=len(chars),
        max_chars=6,
        char_dim=8,
        filters=((1, 8), (2, 8)),
        proj_dim=16,
        hidden_dim=32,
        dropout=0.0,
    )
    model = cfg.build()
    init_unigram_bias(model, corpus, words)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(30):
        for batch in make_batches(corpus, 40, seed=step):
            char_ids, mask = batch_to_ids(batch, chars, 6)
            fwd, bwd = model.lm_loss(char_ids, mask, batch_word_ids(batch, words))
            opt.zero_grad()
            ((fwd + bwd) / 2).backward()
            opt.step()
    ppl_f, ppl_b = perplexity(model, corpus[:2], chars, words)
    base = unigram_perplexity(corpus, corpus[:2], words)
    assert ppl_f < base / 2 and ppl_b < base / 2


def test_embed_sentences_drops_boundaries(tiny):
    model, _, chars = tiny
    per_layer = embed_sentences(model, SENTS, chars, batch_size=3)
    assert len(per_layer) == 3
    assert [h.shape for h in per_layer[2]] == [(len(s), 16) for s in SENTS]


def test_highway_gate_carries_the_input():
    """g multiplies the input: a large gate bias passes x through, a very negative one gives relu(W_h x)."""
    from course_utils.elmo import Highway

    torch.manual_seed(0)
    hw = Highway(4)
    x = torch.randn(3, 4)
    with torch.no_grad():
        hw.layers[0].bias[4:] = 50.0  # g = 1: carry
        assert torch.allclose(hw(x), x, atol=1e-6)
        hw.layers[0].bias[4:] = -50.0  # g = 0: transform
        w, b = hw.layers[0].weight[:4], hw.layers[0].bias[:4]
        assert torch.allclose(hw(x), torch.relu(x @ w.T + b), atol=1e-6)
    fresh = Highway(4)
    assert torch.all(fresh.layers[0].bias[4:] == 1.0)  # starts closer to carrying (g = 0.73)


def test_bilm_inputs_on_the_meta_device_are_checked_for_shape_only():
    from course_utils.elmo import check_bilm_inputs

    cfg = ElmoConfig(vocab_size=10, n_chars=12, hidden_dim=8, proj_dim=4)
    ids = torch.empty(2, 3, cfg.max_chars, dtype=torch.long, device="meta")
    mask = torch.empty(2, 3, dtype=torch.bool, device="meta")
    check_bilm_inputs(cfg, ids, mask)  # a memory estimate: shapes, and no values to read
    with pytest.raises(ValueError, match="shape"):
        check_bilm_inputs(cfg, ids[..., :2], mask)
