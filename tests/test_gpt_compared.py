"""course_utils.gpt_compared: the comparison data, balanced samples, and the shared LM recipe."""

import copy
import inspect
import random
import time

import pytest
import torch
import torch.nn.functional as F

from course_utils import gpt_compared
from course_utils.corpus_cleaning import (
    is_held_out,
    people_daily_clean,
    reviews_clean,
    shared_char_vocab,
)
from course_utils.gpt_compared import (
    ComparisonData,
    LMBudget,
    balanced_sample,
    build_comparison_data,
    lm_loss,
    new_gpt,
    train_lm,
)
from course_utils.train_gpt import TrainConfig, evaluate, get_batch, lr_at
from course_utils.vocab import CharTokenizer

# 3 negatives and 4 positives of at most 4 characters; the others are longer
ITEMS = [
    ("差", 0),
    ("很差很差", 0),  # exactly max_len = 4
    ("太差了", 0),
    ("差差差差差", 0),
    ("好", 1),
    ("很好", 1),
    ("好好好好好好", 1),
    ("不错", 1),
    ("真不错", 1),
]


def reference_sample(items, per_class, max_len, seed):
    rng = random.Random(seed)
    out = []
    for label in (0, 1):
        out += rng.sample(
            [it for it in items if it[1] == label and len(it[0]) <= max_len], per_class
        )
    rng.shuffle(out)
    return out


def test_balanced_sample():
    got = balanced_sample(ITEMS, 3, 4, seed=0)
    assert sorted(t for t, y in got if y == 0) == sorted(["差", "很差很差", "太差了"])
    assert len([1 for _, y in got if y == 1]) == 3
    assert all(len(t) <= 4 for t, _ in got) and set(got) <= set(ITEMS)
    for seed in range(5):
        assert balanced_sample(ITEMS, 2, 4, seed) == reference_sample(ITEMS, 2, 4, seed)
    assert balanced_sample(ITEMS, 2, 6, seed=3) == balanced_sample(ITEMS, 2, 6, seed=3)
    draws = {tuple(balanced_sample(ITEMS, 2, 6, seed)) for seed in range(10)}
    assert len(draws) > 5  # the seed matters
    orders = {tuple(y for _, y in balanced_sample(ITEMS, 2, 6, seed)) for seed in range(10)}
    assert len(orders) > 1  # shuffled, not all negatives first


def test_balanced_sample_too_few():
    with pytest.raises(
        ValueError,
        match="asked for 4 reviews of label 0 with at most 4 characters, but only 3 exist",
    ):
        balanced_sample(ITEMS, 4, 4, seed=0)
    with pytest.raises(ValueError, match="label 1 with at most 4 characters, but only 1 exist"):
        balanced_sample([("差", 0), ("坏", 0), ("好", 1), ("好好好好好", 1)], 2, 4, seed=0)
    with pytest.raises(ValueError, match="per_class"):
        balanced_sample(ITEMS, 0, 4, seed=0)


def test_build_comparison_data():
    # one test, not one per property: building the data takes seconds, and a module-scoped
    # fixture would let a mutation tool credit its call to the first test only
    data = build_comparison_data(n_labelled=40, n_test=60, max_len=30, seed=1)
    assert isinstance(data, ComparisonData)
    # each corpus split by the hash of the text
    news = people_daily_clean()
    assert data.news_train == [t for t in news if not is_held_out(t)]
    assert data.news_held == [t for t in news if is_held_out(t)]
    reviews = reviews_clean()
    assert data.reviews_train == [r for r in reviews if not is_held_out(r[0])]
    assert data.reviews_held == [r for r in reviews if is_held_out(r[0])]
    assert not {t for t, _ in data.reviews_train} & {t for t, _ in data.reviews_held}
    # the labelled set from the training reviews, the test set from the held-out ones
    for sample, n, source in (
        (data.labelled, 40, data.reviews_train),
        (data.test, 60, data.reviews_held),
    ):
        assert len(sample) == n and sum(y for _, y in sample) == n // 2
        assert all(len(t) <= 30 for t, _ in sample)
        assert set(sample) <= set(source)
    assert not {t for t, _ in data.labelled} & {t for t, _ in data.test}
    assert data.labelled == balanced_sample(data.reviews_train, 20, 30, seed=1)
    assert data.test == balanced_sample(data.reviews_held, 30, 30, seed=1)
    # one vocabulary over both training sets, characters seen 5+ times
    want = shared_char_vocab(data.news_train, [t for t, _ in data.reviews_train], min_count=5)
    assert data.tok.itos == want.itos
    ids = data.ids(["你好", "再见"])
    assert ids.dtype == torch.long
    assert ids.tolist() == data.tok.encode("你好\n再见\n")


def test_build_comparison_data_defaults():
    defaults = {
        k: p.default for k, p in inspect.signature(build_comparison_data).parameters.items()
    }
    assert defaults == dict(min_count=5, n_labelled=500, n_test=1000, max_len=50, seed=0)
    # and the same defaults in what a call without them builds (chapter 07b relies on
    # max_len, seed and min_count): checked on the result, not only on the signature
    data = build_comparison_data()
    assert data.labelled == balanced_sample(data.reviews_train, 250, 50, seed=0)
    assert data.test == balanced_sample(data.reviews_held, 500, 50, seed=0)
    assert data.labelled != balanced_sample(data.reviews_train, 250, 50, seed=1)
    assert max(len(t) for t, _ in data.labelled + data.test) > 30  # 50, not a shorter cap
    want = shared_char_vocab(data.news_train, [t for t, _ in data.reviews_train], min_count=5)
    assert data.tok.itos == want.itos


def test_lm_budget():
    b = LMBudget(steps=7, batch_size=3, block_size=5, lr=0.01, min_lr=0.001, warmup=2, seed=4)
    assert b.tokens == 7 * 3 * 5
    cfg = b.train_config()
    assert isinstance(cfg, TrainConfig)
    got = (cfg.steps, cfg.batch_size, cfg.block_size, cfg.lr, cfg.min_lr, cfg.warmup, cfg.seed)
    assert got == (7, 3, 5, 0.01, 0.001, 2, 4)
    assert LMBudget(steps=5, warmup=20).train_config().warmup == 5  # never past the last step
    assert LMBudget(steps=20, warmup=20).train_config().warmup == 20
    d = LMBudget(steps=100)
    assert (d.batch_size, d.block_size, d.lr, d.min_lr, d.warmup, d.seed) == (
        16,
        128,
        3e-3,
        3e-4,
        20,
        0,
    )
    assert d.tokens == 100 * 16 * 128


def test_new_gpt():
    m = new_gpt(30, 32, 3, 40, seed=5)
    c = m.config
    assert (c.vocab_size, c.d_model, c.n_layer, c.block_size, c.n_head) == (30, 32, 3, 40, 2)
    assert not c.tie_weights and m.lm_head.weight is not m.wte.weight
    assert new_gpt(30, 8, 1, 10).config.n_head == 1  # narrower than one head of 16
    assert new_gpt(30, 48, 1, 10).config.n_head == 3
    assert new_gpt(30, 32, 1, 10, n_head=4).config.n_head == 4
    assert torch.equal(new_gpt(30, 32, 1, 10).wte.weight, new_gpt(30, 32, 1, 10, seed=0).wte.weight)
    same = new_gpt(30, 32, 3, 40, seed=5)
    other = new_gpt(30, 32, 3, 40, seed=6)
    assert torch.equal(m.wte.weight, same.wte.weight)
    assert not torch.equal(m.wte.weight, other.wte.weight)
    with pytest.raises(ValueError, match="d_model"):
        new_gpt(30, 0, 1, 10)


TOK = CharTokenizer.from_texts(["abcdefgh"])
IDS = TOK.encode_lines(["abcdefgh" * 3, "hgfedcba" * 3] * 20)  # (n_chars,) repetitive


class Bar:
    def __init__(self):
        self.n = 0

    def update(self, k):
        self.n += k


def test_train_lm_lowers_the_loss():
    model = new_gpt(len(TOK), 16, 1, 16, seed=0)
    before = lm_loss(model, IDS)
    bar = Bar()
    budget = LMBudget(steps=30, batch_size=8, block_size=16, lr=0.02, min_lr=0.002, warmup=5)
    t0, c0 = time.perf_counter(), time.process_time()
    out = train_lm(model, IDS, budget, progress=bar)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert set(out) == {"losses", "cpu_s", "wall_s"}
    assert 0 < out["wall_s"] <= wall and 0 < out["cpu_s"] <= cpu
    assert len(out["losses"]) == 30 and bar.n == 30
    assert sum(out["losses"][-5:]) / 5 < 0.5 * out["losses"][0]  # ~0.6 nats from ln 10
    assert lm_loss(model, IDS) < 0.5 * before
    assert not model.training


def test_train_lm_follows_the_recipe(monkeypatch):
    budget = LMBudget(steps=12, batch_size=4, block_size=8, lr=0.01, min_lr=0.002, warmup=3, seed=7)
    cfg = budget.train_config()
    model = new_gpt(len(TOK), 16, 1, 8, seed=0)
    first = copy.deepcopy(model)
    lrs, batches, clips = [], [], []
    real_make, real_batch, real_clip = (
        gpt_compared.make_optimizer,
        gpt_compared.get_batch,
        torch.nn.utils.clip_grad_norm_,
    )

    def make(m, c):
        opt = real_make(m, c)
        real_step = opt.step

        def step(*a, **k):
            lrs.append([g["lr"] for g in opt.param_groups])
            return real_step(*a, **k)

        opt.step = step
        return opt

    def batch(data, block_size, batch_size, seed, step, *a):
        batches.append((block_size, batch_size, seed, step))
        return real_batch(data, block_size, batch_size, seed, step, *a)

    def clip(params, max_norm, *a, **k):
        clips.append(max_norm)
        return real_clip(params, max_norm, *a, **k)

    monkeypatch.setattr(gpt_compared, "make_optimizer", make)
    monkeypatch.setattr(gpt_compared, "get_batch", batch)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
    out = train_lm(model, IDS, budget)
    assert len(lrs) == 12
    for step, got in enumerate(lrs):
        assert got == pytest.approx([lr_at(step, cfg)] * 2)  # both groups (decay, no decay)
    assert lrs[0][0] == pytest.approx(0.01 / 3) and lrs[2][0] == pytest.approx(0.01)
    assert batches == [(8, 4, 7, s) for s in range(12)]  # a new batch at every step
    assert clips == [1.0] * 12
    x, y = get_batch(IDS, 8, 4, 7, 0)
    with torch.no_grad():
        want = F.cross_entropy(first(x)[0].flatten(0, 1), y.flatten()).item()
    assert out["losses"][0] == pytest.approx(want, rel=1e-5)  # the loss of step 0's batch


def test_lm_loss_is_the_mean_over_consecutive_windows():
    model = new_gpt(len(TOK), 16, 1, 16, seed=3)
    with torch.no_grad():
        model.lm_head.weight.mul_(20)
    ids = IDS[:200]
    for max_tokens in (0, 50, 1000):
        n = len(ids) - 1 if max_tokens == 0 else min(len(ids) - 1, max_tokens)
        total, count = 0.0, 0
        with torch.no_grad():
            for s in range(0, n // 16 * 16, 16):
                x, y = ids[s : s + 16], ids[s + 1 : s + 17]
                logp = F.log_softmax(model(x[None])[0][0], -1)  # (16, vocab)
                total -= logp[torch.arange(16), y].sum().item()
                count += 16
        got = lm_loss(model, ids, max_tokens)
        assert got == pytest.approx(total / count, rel=1e-5)
        assert got == pytest.approx(evaluate(model, ids, 16, max_tokens), rel=1e-6)
    assert lm_loss(model, ids, 50) != pytest.approx(lm_loss(model, ids), rel=1e-3)
    with pytest.raises(ValueError, match="max_tokens"):
        lm_loss(model, ids, -1)
