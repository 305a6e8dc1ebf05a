"""course_utils.elmo: shapes, masks, causality of each LM direction, the scalar mix, bad input."""

import math

import pytest
import torch

from course_utils.elmo import (
    CHAR_SPECIALS,
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


def _tiny_config(words, chars, **overrides):
    """A biLM small enough for a unit test: 6 characters a word, 8-dim tokens, no dropout."""
    sizes = dict(max_chars=6, char_dim=8, filters=((1, 8), (2, 8)), proj_dim=8, hidden_dim=16)
    return ElmoConfig(
        vocab_size=len(words), n_chars=len(chars), **{**sizes, "dropout": 0.0, **overrides}
    )


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    words, chars = build_vocabs(SENTS, max_words=50)
    model = _tiny_config(words, chars).build().eval()
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


# ------------------------------------------- formulas checked against references by hand

TRAIN = SENTS + [
    ["你", "去", "哪里"],
    ["花", "开", "了"],
    ["我们", "看", "中华人民共和国", "的", "花"],
]


def _layer_by_hand(lstms, x):
    """The stack written out: LSTM 1's output, then LSTM k's output plus its input (residual)."""
    outputs = []
    for i, lstm in enumerate(lstms):
        h, _ = lstm(x)  # (batch, seq, proj_dim), batch first
        x = h if i == 0 else h + x
        outputs.append(x)
    return outputs


def _three_layer_model(words, chars):
    torch.manual_seed(1)
    return _tiny_config(words, chars, n_layers=3).build().eval()


@torch.no_grad()
def test_bilm_layers_by_hand():
    """Each direction is a residual LSTM stack; the backward one reads each sentence reversed."""
    words, chars = build_vocabs(TRAIN, max_words=50)
    model = _three_layer_model(words, chars)
    batch = [SENTS[0], SENTS[2]]  # 7 and 6 tokens with <bos>/<eos>: the second is padded
    char_ids, mask = batch_to_ids(batch, chars, 6)
    tokens, forward, backward = model.encode(char_ids, mask)
    assert torch.equal(tokens, model.char_cnn(char_ids))
    for i, s in enumerate(batch):
        n = len(s) + 2
        x = tokens[i : i + 1, :n]  # (1, n, proj_dim): this sentence alone, no padding
        fwd = _layer_by_hand(model.forward_layers, x)
        bwd = [h.flip(1) for h in _layer_by_hand(model.backward_layers, x.flip(1))]
        for got, want in zip(forward, fwd, strict=True):
            assert torch.allclose(got[i, :n], want[0], atol=1e-5)
        for got, want in zip(backward, bwd, strict=True):
            assert torch.allclose(got[i, :n], want[0], atol=1e-5)
    layers = model(char_ids, mask)
    assert torch.allclose(layers[3][..., :8], forward[2] * mask.unsqueeze(-1), atol=1e-6)


@torch.no_grad()
def test_lm_loss_reads_the_top_layer_by_hand():
    words, chars = build_vocabs(TRAIN, max_words=50)
    model = _three_layer_model(words, chars)
    batch = [SENTS[1], SENTS[3][:2]]
    char_ids, mask = batch_to_ids(batch, chars, 6)
    _, forward, backward = model.encode(char_ids, mask)
    nll_f, nll_b, n = 0.0, 0.0, 0
    for i, s in enumerate(batch):
        ids = words.encode(["<bos>", *s, "<eos>"])
        logp_f = torch.log_softmax(model.softmax(forward[-1][i]), -1)  # (seq, vocab)
        logp_b = torch.log_softmax(model.softmax(backward[-1][i]), -1)
        for t in range(len(ids) - 1):  # forward: position t predicts t+1; backward: t+1 -> t
            nll_f -= float(logp_f[t, ids[t + 1]])
            nll_b -= float(logp_b[t + 1, ids[t]])
            n += 1
    fwd, bwd = model.lm_loss(char_ids, mask, batch_word_ids(batch, words))
    assert math.isclose(float(fwd), nll_f / n, rel_tol=1e-5)
    assert math.isclose(float(bwd), nll_b / n, rel_tol=1e-5)


@torch.no_grad()
def test_perplexity_is_per_predicted_word_over_all_batches():
    """exp(total NLL / predicted words), whatever the batching (an over-long word included)."""
    words, chars = build_vocabs(TRAIN, max_words=50)
    model = _three_layer_model(words, chars)
    total, n = [0.0, 0.0], 0
    for s in TRAIN:  # one sentence at a time: no padding, no batching
        char_ids, mask = batch_to_ids([s], chars, 6, truncate=True)
        losses = model.lm_loss(char_ids, mask, batch_word_ids([s], words))
        for k in (0, 1):
            total[k] += float(losses[k]) * (len(s) + 1)  # len(s) + 1 words predicted
        n += len(s) + 1
    want = (math.exp(total[0] / n), math.exp(total[1] / n))
    assert want[0] != pytest.approx(want[1], rel=1e-3)  # the two directions differ
    for batch_size in (2, 3, 64):
        got = perplexity(model, TRAIN, chars, words, batch_size=batch_size)
        assert got == pytest.approx(want, rel=1e-5)
    assert perplexity(model, TRAIN, chars, words) == pytest.approx(want, rel=1e-5)
    assert model.training is False
    model.train()
    perplexity(model, TRAIN[:2], chars, words)
    assert model.training is True  # the mode is given back


def test_unigram_perplexity_by_hand():
    words, _ = build_vocabs(TRAIN, max_words=50)
    train, valid = TRAIN[:4], [["花", "开", "了"], ["我们", "去"]]  # 开 and 了 unseen in train
    counts = {}
    for s in train:
        for w in [*s, "<eos>"]:
            counts[w] = counts.get(w, 0) + 1
    total = sum(counts.values()) + len(words)  # add-one over the whole vocabulary
    valid_words = [w for s in valid for w in [*s, "<eos>"]]
    nll = -sum(math.log((counts.get(w, 0) + 1) / total) for w in valid_words)
    assert unigram_perplexity(train, valid, words) == pytest.approx(
        math.exp(nll / len(valid_words)), rel=1e-12
    )


def test_unigram_bias_is_the_add_one_log_frequency():
    words, chars = build_vocabs(TRAIN, max_words=50)
    model = _three_layer_model(words, chars)
    init_unigram_bias(model, TRAIN, words)
    counts = torch.ones(len(words))
    for s in TRAIN:
        for w in ["<bos>", *s, "<eos>"]:
            counts[words[w]] += 1
    assert torch.allclose(model.softmax.bias, torch.log(counts / counts.sum()), atol=1e-6)
    assert float(torch.logsumexp(model.softmax.bias.detach(), 0)) == pytest.approx(0.0, abs=1e-5)


def test_make_batches_pools_of_fifty_batches_sorted_by_length():
    """Shuffle (seeded), cut into pools of 50 batches, sort each pool by length, cut into batches."""
    import random

    sentences = [[f"s{i}"] + ["w"] * (i * 7 % 13) for i in range(700)]
    index = {id(s): i for i, s in enumerate(sentences)}
    batch_size = 3
    order = list(range(len(sentences)))
    random.Random(0).shuffle(order)
    pool = 50 * batch_size
    want = set()
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(sentences[i]))
        want |= {tuple(chunk[k : k + batch_size]) for k in range(0, len(chunk), batch_size)}
    batches = make_batches(sentences, batch_size)
    got = [tuple(index[id(s)] for s in b) for b in batches]
    assert set(got) == want and len(got) == len(want)  # every sentence once, in its pool's batch
    assert got != sorted(got, key=lambda b: len(sentences[b[0]]))  # the batches are shuffled too
    again = [tuple(index[id(s)] for s in b) for b in make_batches(sentences, batch_size, seed=0)]
    other = [tuple(index[id(s)] for s in b) for b in make_batches(sentences, batch_size, seed=1)]
    assert again == got and set(other) != set(got)


def test_char_ids_at_the_length_limit_and_truncated(tiny):
    _, _, chars = tiny
    from course_utils.elmo import BOW, CHAR_PAD, EOW, word_to_char_ids

    four = word_to_char_ids("中华人民", chars, 6)  # max_chars - 2 characters fit exactly
    assert four[0] == chars[BOW] and four[-1] == chars[EOW] and chars[CHAR_PAD] not in four
    with pytest.raises(ValueError, match="truncate=True"):
        word_to_char_ids("中华人民共", chars, 6)  # one more: refused unless asked to cut
    cut = word_to_char_ids("中华人民共和国", chars, 6, truncate=True)
    assert cut == four  # the first max_chars - 2 characters


def test_vocabularies_and_ids_without_boundaries():
    words, chars = build_vocabs(TRAIN, max_words=9)
    assert len(words) == 9 and words.lookup_token(0) == "<pad>"
    assert words["<bos>"] != words["<eos>"] != words["<unk>"]
    assert words["花"] != words["<unk>"]  # the most frequent words are kept
    assert chars["开"] != chars["<unk>"]  # characters seen once are kept (min_char_freq = 1)
    _, frequent = build_vocabs(TRAIN, max_words=9, min_char_freq=2)
    assert frequent["开"] == frequent["<unk>"] and frequent["花"] != frequent["<unk>"]
    assert chars["龘"] == chars["<unk>"] and chars.lookup_token(0) == "<pad>"
    ids, mask = batch_to_ids([["花"], ["我们", "去"]], chars, 6, add_boundaries=False)
    assert ids.shape == (2, 2, 6) and mask.tolist() == [[True, False], [True, True]]
    assert ids[0, 1].tolist() == [chars["<pad>"]] * 6  # a padding word is all <pad> chars
    wids = batch_word_ids([["花"], ["我们", "去"]], words, add_boundaries=False)
    assert wids.tolist() == [[words["花"], words["<pad>"]], [words["我们"], words["去"]]]
    assert [chars.lookup_token(i) for i in range(6)] == list(CHAR_SPECIALS)
    # a fresh model (not the shared fixture), so that this test is the one that builds it
    cfg = ElmoConfig(vocab_size=len(words), n_chars=len(chars), max_chars=6, n_highway=2)
    cnn = cfg.build().char_cnn
    assert cnn.char_embedding.padding_idx == 0
    assert torch.all(cnn.char_embedding.weight[0] == 0)  # the <pad> character is a zero vector
    assert len(cnn.highway.layers) == 2


def test_embed_sentences_cuts_over_long_words(tiny):
    model, _, chars = tiny
    per_layer = embed_sentences(model, [["中华人民共和国", "花"]], chars)
    assert [h.shape for h in per_layer[1]] == [(2, 16)]
