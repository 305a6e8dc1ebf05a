"""course_utils.gpt_classifier: GPT-1's head on the last token, its loss and its fine-tuning."""

import time

import pytest
import torch
import torch.nn.functional as F

from course_utils import gpt_classifier
from course_utils.gpt import GPTConfig
from course_utils.gpt_classifier import (
    GPTClassifier,
    classifier_loss,
    encode_batch,
    fine_tune,
    hidden_states,
    predict,
)
from course_utils.gpt_compared import new_gpt
from course_utils.vocab import CharTokenizer

TOK = CharTokenizer.from_texts(["abcdefgxyz好差评"])
V, BLOCK = len(TOK), 12
TEXTS = ["abc", "好", "xyzzyabcde", "差评差评差评"]


def tiny_gpt(seed=0, **kw):
    return new_gpt(V, 16, 2, BLOCK, seed=seed, **kw)


def batch(texts=TEXTS):
    """Right-padded ids and lengths, written out here: text + "\\n", then zeros."""
    rows = [TOK.encode(t + "\n") for t in texts]
    T = max(map(len, rows))
    idx = torch.zeros(len(rows), T, dtype=torch.long)  # (batch, seq)
    for i, r in enumerate(rows):
        idx[i, : len(r)] = torch.tensor(r)
    return idx, torch.tensor([len(r) for r in rows])


@torch.no_grad()
@pytest.mark.parametrize("norm_first", [True, False])
def test_hidden_states_are_gpt_forward_before_the_head(norm_first):
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=V, block_size=BLOCK, n_layer=2, n_head=2, d_model=16)
    gpt = GPTConfig(**{**cfg.to_dict(), "norm_first": norm_first}).build().eval()
    idx = torch.randint(0, V, (3, 9))
    h = hidden_states(gpt, idx)
    assert h.shape == (3, 9, 16)
    torch.testing.assert_close(gpt.lm_head(h), gpt(idx)[0])
    # causal: the hidden state at t depends on tokens 0..t only
    idx2 = idx.clone()
    idx2[:, 5:] = (idx2[:, 5:] + 1) % V
    h2 = hidden_states(gpt, idx2)
    torch.testing.assert_close(h2[:, :5], h[:, :5])
    assert not torch.allclose(h2[:, 5:], h[:, 5:])


@torch.no_grad()
@pytest.mark.parametrize("pool", ["last", "mean"])
def test_classifier_logits_equal_a_loop_over_unpadded_rows(pool):
    clf = GPTClassifier(tiny_gpt(), n_classes=3, pool=pool).eval()
    with torch.no_grad():
        clf.head.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    idx, lengths = batch()
    logits, lm_logits = clf(idx, lengths)
    assert logits.shape == (4, 3) and lm_logits.shape == (4, idx.size(1), V)
    torch.testing.assert_close(lm_logits, clf.gpt(idx)[0])
    for i, n in enumerate(lengths.tolist()):
        h = hidden_states(clf.gpt, idx[i : i + 1, :n])[0]  # (n, d_model), no padding at all
        feat = h[n - 1] if pool == "last" else h.sum(0) / n  # h_l^m, or the mean of real ones
        want = feat @ clf.head.weight.T + clf.head.bias
        torch.testing.assert_close(logits[i], want, atol=1e-5, rtol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("pool", ["last", "mean"])
def test_padding_after_the_end_token_changes_nothing(pool):
    clf = GPTClassifier(tiny_gpt(), n_classes=2, pool=pool).eval()
    idx, lengths = batch()
    logits = clf(idx, lengths)[0]
    g = torch.Generator().manual_seed(0)
    longer = torch.cat([idx, torch.randint(1, V, (4, 1), generator=g)], dim=1)  # (batch, seq + 1)
    for i, n in enumerate(lengths.tolist()):
        longer[i, n:] = torch.randint(1, V, (longer.size(1) - n,), generator=g)  # not zeros
    torch.testing.assert_close(clf(longer, lengths)[0], logits, atol=1e-5, rtol=1e-5)


def test_classifier_head_and_arguments():
    torch.manual_seed(0)
    gpt = new_gpt(V, 64, 1, BLOCK)
    clf = GPTClassifier(gpt, n_classes=5)
    assert clf.pool == "last" and clf.gpt is gpt
    assert GPTClassifier(gpt).head.out_features == 2  # two classes by default
    assert clf.head.weight.shape == (5, 64)
    assert torch.equal(clf.head.bias, torch.zeros(5))
    assert 0.015 < clf.head.weight.std().item() < 0.025  # N(0, 0.02), as GPT's own layers
    with pytest.raises(ValueError, match="pool"):
        GPTClassifier(gpt, pool="max")
    with pytest.raises(ValueError, match="n_classes"):
        GPTClassifier(gpt, n_classes=0)
    with pytest.raises(TypeError, match="gpt"):
        GPTClassifier(torch.nn.Linear(2, 2))


def test_encode_batch_cuts_and_appends_the_end_token():
    idx, lengths = encode_batch(TOK, ["abc", "abcdefgxyz", "abcd"], block_size=5)
    # "abcdefgxyz" keeps block_size - 1 = 4 characters, then "\n": 5 positions
    assert lengths.tolist() == [4, 5, 5]
    assert idx.shape == (3, 5) and idx.dtype == torch.long
    assert idx[0].tolist() == TOK.encode("abc\n") + [0]
    assert idx[1].tolist() == TOK.encode("abcd\n")
    assert idx[2].tolist() == TOK.encode("abcd\n")
    idx, lengths = encode_batch(TOK, ["ab"], block_size=5, end="z")
    assert idx.tolist() == [TOK.encode("abz")] and lengths.tolist() == [3]
    want_idx, want_len = batch()
    idx, lengths = encode_batch(TOK, TEXTS, block_size=BLOCK)
    assert torch.equal(idx, want_idx) and torch.equal(lengths, want_len)
    with pytest.raises(ValueError, match="texts"):
        encode_batch(TOK, [], block_size=5)


def hand_losses(clf, idx, lengths, labels):
    """L2 = mean -log P(y | x); L1 = mean over every real next character, padding skipped."""
    logits, lm_logits = clf(idx, lengths)
    l2 = -sum(F.log_softmax(logits[i], -1)[y] for i, y in enumerate(labels.tolist())) / len(labels)
    total, count = 0.0, 0
    for i, n in enumerate(lengths.tolist()):
        logp = F.log_softmax(lm_logits[i], -1)  # (seq, vocab)
        for t in range(n - 1):  # position t predicts the real character t + 1
            total -= logp[t, idx[i, t + 1]]
            count += 1
    return l2, total / count


@torch.no_grad()
def test_classifier_loss_is_l2_plus_lambda_l1():
    clf = GPTClassifier(tiny_gpt(), n_classes=3).eval()
    with torch.no_grad():
        clf.head.weight.mul_(50)  # class logits far from uniform
    idx, lengths = batch()
    labels = torch.tensor([2, 0, 1, 2])
    l2, l1 = hand_losses(clf, idx, lengths, labels)
    for lam in (0.5, 2.0):
        l3, got_l2, got_l1 = classifier_loss(clf, idx, lengths, labels, aux_weight=lam)
        torch.testing.assert_close(got_l2, l2)
        torch.testing.assert_close(got_l1, l1)
        torch.testing.assert_close(l3, l2 + lam * l1)
    assert classifier_loss(clf, idx, lengths, labels)[0].item() == pytest.approx(
        (l2 + 0.5 * l1).item(), rel=1e-5
    )  # GPT-1's lambda = 0.5 by default
    l3, got_l2, got_l1 = classifier_loss(clf, idx, lengths, labels, aux_weight=0)
    torch.testing.assert_close(l3, l2)
    torch.testing.assert_close(got_l2, l2)
    assert got_l1.item() == 0.0


def toy_task(n=24):
    """Separable: texts of a, b, c are class 0; of x, y, z class 1; of varied lengths."""
    g = torch.Generator().manual_seed(1)
    texts, labels = [], []
    for i in range(n):
        y = i % 2
        chars = "abc" if y == 0 else "xyz"
        length = 2 + int(torch.randint(0, 8, (1,), generator=g))
        texts.append("".join(chars[int(j)] for j in torch.randint(0, 3, (length,), generator=g)))
        labels.append(y)
    return texts, labels


def test_fine_tune_learns_a_separable_task():
    texts, labels = toy_task()
    clf = GPTClassifier(tiny_gpt(seed=1))
    idx, lengths = encode_batch(TOK, texts, BLOCK)
    y = torch.tensor(labels)
    with torch.no_grad():
        before = classifier_loss(clf.eval(), idx, lengths, y)[1].item()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fine_tune(clf, TOK, texts, labels, steps=40, batch_size=8, lr=3e-3)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert set(out) == {"cpu_s", "wall_s"}
    assert 0 < out["wall_s"] <= wall and 0 < out["cpu_s"] <= cpu
    assert not clf.training  # left in eval mode
    with torch.no_grad():
        after = classifier_loss(clf, idx, lengths, y)[1].item()
    assert after < 0.5 * before
    assert predict(clf, TOK, texts).tolist() == labels


REAL = (encode_batch, classifier_loss, torch.nn.utils.clip_grad_norm_, torch.optim.AdamW)


class Recorder:
    """Stand-ins that record what fine_tune passes on, then call the real functions."""

    def __init__(self, monkeypatch):
        self.lrs, self.batches, self.labels, self.aux, self.clips, self.decay = (
            [],
            [],
            [],
            [],
            [],
            [],
        )
        real_encode, real_loss, real_clip, real_adamw = REAL
        rec = self

        class AdamW(real_adamw):
            def __init__(self, params, **kw):
                super().__init__(params, **kw)
                rec.decay.append(kw.get("weight_decay"))

            def step(self, closure=None):
                rec.lrs.append([g["lr"] for g in self.param_groups])
                return super().step(closure)

        def encode(tok, texts, block_size, *a, **k):
            self.batches.append(list(texts))
            return real_encode(tok, texts, block_size, *a, **k)

        def loss(clf, idx, lengths, labels, aux_weight=0.5):
            self.labels.append(labels.tolist())
            self.aux.append(aux_weight)
            return real_loss(clf, idx, lengths, labels, aux_weight)

        def clip(params, max_norm, *a, **k):
            self.clips.append(max_norm)
            return real_clip(params, max_norm, *a, **k)

        monkeypatch.setattr(gpt_classifier, "encode_batch", encode)
        monkeypatch.setattr(gpt_classifier, "classifier_loss", loss)
        monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip)
        monkeypatch.setattr(torch.optim, "AdamW", AdamW)


def reference_lr(step, steps, lr):
    """Linear warm-up over the first 10% of the steps (at least one), then linear decay."""
    warm = max(1, steps // 10)
    if step < warm:
        return lr * (step + 1) / warm
    return lr * (steps - step) / (steps - warm)


@pytest.mark.parametrize("steps", [20, 5, 33])
def test_fine_tune_schedule_batches_and_options(monkeypatch, steps):
    rec = Recorder(monkeypatch)
    texts, labels = toy_task(10)
    clf = GPTClassifier(new_gpt(V, 16, 1, BLOCK))
    fine_tune(
        clf,
        TOK,
        texts,
        labels,
        steps=steps,
        batch_size=3,
        lr=0.01,
        aux_weight=0.25,
        weight_decay=0.2,
    )
    want = [reference_lr(s, steps, 0.01) for s in range(steps)]
    assert len(rec.lrs) == steps
    for got, w in zip(rec.lrs, want):
        assert got == pytest.approx([w] * len(got))
    assert max(want) == pytest.approx(0.01) and want[-1] > 0
    assert rec.decay == [0.2] and set(rec.aux) == {0.25} and set(rec.clips) == {1.0}
    assert all(len(b) == 3 for b in rec.batches)
    label_of = dict(zip(texts, labels))
    for b, ys in zip(rec.batches, rec.labels):
        assert ys == [label_of[t] for t in b]  # each text with its own label
    assert len({tuple(b) for b in rec.batches}) > steps // 2  # a new batch at each step


def test_fine_tune_batches_and_defaults(monkeypatch):
    texts, labels = toy_task(10)
    runs = []
    for seed in (None, 0, 1):
        rec = Recorder(monkeypatch)
        kw = {} if seed is None else {"seed": seed}
        fine_tune(GPTClassifier(new_gpt(V, 16, 1, BLOCK)), TOK, texts, labels, steps=4, **kw)
        runs.append(rec)
    for rec, seed in zip(runs, (0, 0, 1)):
        g = torch.Generator().manual_seed(seed)  # the batches' own seeded generator
        picks = [torch.randint(len(texts), (32,), generator=g).tolist() for _ in range(4)]
        assert rec.batches == [[texts[i] for i in p] for p in picks]  # default batch size 32
    assert runs[0].batches != runs[2].batches
    # defaults: lr 1e-3 (reached after the one warm-up step), GPT-1's lambda 0.5, decay 0.01
    default = runs[0]
    assert [g[0] for g in default.lrs] == pytest.approx([1e-3, 1e-3, 2e-3 / 3, 1e-3 / 3])
    assert set(default.aux) == {0.5} and default.decay == [0.01]


def test_fine_tune_bad_input():
    clf = GPTClassifier(new_gpt(V, 16, 1, BLOCK))
    with pytest.raises(ValueError, match="3 texts but 2 labels"):
        fine_tune(clf, TOK, ["a", "b", "c"], [0, 1], steps=1)
    with pytest.raises(ValueError, match="texts"):
        fine_tune(clf, TOK, [], [], steps=1)
    with pytest.raises(ValueError, match="steps"):
        fine_tune(clf, TOK, ["a"], [0], steps=0)
    with pytest.raises(ValueError, match="aux_weight"):
        fine_tune(clf, TOK, ["a"], [0], steps=1, aux_weight=-0.5)


@torch.no_grad()
def test_predict_is_the_argmax_of_each_text_alone():
    clf = GPTClassifier(tiny_gpt(seed=2), n_classes=3)
    with torch.no_grad():
        clf.head.weight.mul_(100)
    texts = ["abc", "好差评", "xyzzy", "a", "差评差评差评差评差评差评差评"]  # the last is cut
    clf.train()
    got = predict(clf, TOK, texts, batch_size=2)
    assert not clf.training
    want = []
    for t in texts:
        ids = TOK.encode(t[: BLOCK - 1] + "\n")
        h = hidden_states(clf.gpt, torch.tensor([ids]))[0, -1]  # (d_model,)
        want.append(int(clf.head(h).argmax()))
    assert got.tolist() == want
    assert len(set(want)) > 1  # the texts are not all one class
