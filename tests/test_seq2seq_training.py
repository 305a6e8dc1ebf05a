"""course_utils.seq2seq_training: masks, label smoothing, the Noam schedule, a training step."""

import math

import pytest
import torch

from course_utils.seq2seq_training import (
    Batch,
    LabelSmoothing,
    SimpleLossCompute,
    copy_task_batches,
    noam_optimizer,
    rate,
    run_epoch,
)
from course_utils.transformer import make_model


def test_batch_masks():
    src = torch.tensor([[5, 6, 0]])
    tgt = torch.tensor([[1, 7, 8, 0]])
    b = Batch(src, tgt, pad=0)
    assert b.src_mask.tolist() == [[[True, True, False]]]
    assert b.tgt.tolist() == [[1, 7, 8]] and b.tgt_y.tolist() == [[7, 8, 0]]
    assert b.tgt_mask[0].tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert b.ntokens == 2
    with pytest.raises(ValueError, match="batch, seq"):
        Batch(torch.tensor([1, 2]))


def test_label_smoothing_distribution():
    crit = LabelSmoothing(5, padding_idx=0, smoothing=0.4)
    crit(torch.log_softmax(torch.randn(2, 5), -1), torch.tensor([2, 0]))
    assert torch.allclose(crit.true_dist[0], torch.tensor([0.0, 0.4 / 3, 0.6, 0.4 / 3, 0.4 / 3]))
    assert crit.true_dist[1].sum() == 0  # a padding target contributes nothing
    with pytest.raises(ValueError, match="smoothing"):
        LabelSmoothing(5, 0, 1.5)
    with pytest.raises(ValueError, match="size \\(vocabulary\\) must be >= 3.*got 2"):
        LabelSmoothing(2, 0, 0.1)


def test_noam_rate():
    peak = rate(400, 512, 1.0, 400)
    assert math.isclose(peak, 512**-0.5 * 400**-0.5)
    assert rate(200, 512, 1.0, 400) < peak and rate(800, 512, 1.0, 400) < peak
    assert rate(0, 512, 1.0, 400) == rate(1, 512, 1.0, 400)
    with pytest.raises(ValueError, match="warmup"):
        rate(1, 512, 1.0, 0)


def test_training_lowers_the_loss():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread avoids synchronisation overhead
    try:
        _train_and_check()
    finally:
        torch.set_num_threads(threads)


def _train_and_check():
    torch.manual_seed(0)
    model = make_model(src_vocab=7, tgt_vocab=7, N=1, d_model=16, d_ff=32, h=2, dropout=0.0)
    opt, sched = noam_optimizer(model, 16, factor=1.0, warmup=20)
    loss_fn = SimpleLossCompute(model.generator, LabelSmoothing(7, 0, 0.0))
    gen = torch.Generator().manual_seed(0)
    first, state = run_epoch(copy_task_batches(7, 6, 32, 10, gen), model, loss_fn, opt, sched)
    later, state = run_epoch(
        copy_task_batches(7, 6, 32, 40, gen), model, loss_fn, opt, sched, state
    )
    assert later < first and state.step == 50 and state.tokens == 50 * 32 * 5


def test_noam_rate_exact_values():
    """lr = factor * d^-0.5 * min(step^-0.5, step * warmup^-1.5): linear up to warmup, then
    1/sqrt(step); step 0 counts as step 1."""
    d, factor, warmup = 64, 2.0, 100
    scale = factor * d**-0.5
    assert rate(0, d, factor, warmup) == pytest.approx(scale * warmup**-1.5, rel=1e-12)
    assert rate(1, d, factor, warmup) == pytest.approx(scale * warmup**-1.5, rel=1e-12)
    assert rate(25, d, factor, warmup) == pytest.approx(scale * 25 * warmup**-1.5, rel=1e-12)
    assert rate(warmup, d, factor, warmup) == pytest.approx(scale * warmup**-0.5, rel=1e-12)
    assert rate(400, d, factor, warmup) == pytest.approx(scale * 400**-0.5, rel=1e-12)
    # the two branches meet at the peak: warm-up is linear, decay 1/sqrt(step)
    assert rate(50, d, factor, warmup) == pytest.approx(rate(100, d, factor, warmup) / 2)
    assert rate(400, d, factor, warmup) == pytest.approx(rate(100, d, factor, warmup) / 2)
    # the scheduler applies it: LambdaLR multiplies the base lr 1.0 by rate(step)
    model = torch.nn.Linear(2, 2)
    opt, sched = noam_optimizer(model, d, factor=factor, warmup=warmup)
    assert opt.defaults["betas"] == (0.9, 0.98) and opt.defaults["eps"] == 1e-9
    lrs = []
    for _ in range(3):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([rate(s, d, factor, warmup) for s in range(3)], rel=1e-12)


def test_label_smoothing_loss_value():
    """The loss is KL(true_dist || softmax) summed: sum t * (log t - x) over t > 0."""
    crit = LabelSmoothing(4, padding_idx=0, smoothing=0.2)
    x = torch.log_softmax(torch.tensor([[0.1, 0.5, 1.0, -0.3], [0.2, 0.2, 0.2, 0.2]]), -1)
    loss = crit(x, torch.tensor([2, 3]))
    t = torch.tensor([[0.0, 0.1, 0.8, 0.1], [0.0, 0.1, 0.1, 0.8]])
    expected = (t[t > 0] * (t[t > 0].log() - x[t > 0])).sum()
    assert torch.allclose(loss, expected)


def _padded_batches():
    """Two batches of different lengths, with padding in source and target."""
    src1 = torch.tensor([[1, 4, 5, 0], [1, 6, 0, 0]])
    tgt1 = torch.tensor([[1, 4, 5, 2, 0], [1, 6, 2, 0, 0]])
    src2 = torch.tensor([[1, 3, 3]])
    tgt2 = torch.tensor([[1, 3, 3, 2]])
    return [Batch(src1, tgt1), Batch(src2, tgt2)]  # pad defaults to 0


def test_run_epoch_loss_is_the_token_weighted_mean_of_masked_batches():
    torch.manual_seed(0)
    model = make_model(src_vocab=7, tgt_vocab=7, N=2, d_model=16, d_ff=32, h=2, dropout=0.0)
    model.eval()
    crit = LabelSmoothing(7, 0, 0.0)
    loss_fn = SimpleLossCompute(model.generator, crit)
    batches = _padded_batches()
    assert [b.ntokens for b in batches] == [5, 3]
    got, state = run_epoch(batches, model, loss_fn)  # no optimizer: evaluation only
    total = 0.0
    for b in batches:  # the reference: masks built by hand, NLL summed over real tokens
        src_mask = (b.src != 0)[:, None, :]  # (batch, 1, src_len)
        causal = torch.tril(torch.ones(b.tgt.size(1), b.tgt.size(1), dtype=torch.bool))
        tgt_mask = (b.tgt != 0)[:, None, :] & causal  # (batch, t, t)
        logp = model.generator(model(b.src, b.tgt, src_mask, tgt_mask))  # (batch, t, vocab)
        nll = -logp.gather(-1, b.tgt_y[..., None]).squeeze(-1)  # (batch, t)
        total += float(nll[b.tgt_y != 0].sum().detach())
    assert got == pytest.approx(total / 8, rel=1e-5)
    assert state.step == 0 and state.losses == [] and state.tokens == 8 and state.seconds > 0
    before = state.seconds
    run_epoch(batches, model, loss_fn, state=state)
    assert before < state.seconds < 60  # time adds up over calls
    assert run_epoch([], model, loss_fn)[0] == 0.0  # no batches: no loss, no division by 0


def test_run_epoch_steps_the_optimizer_and_the_schedule_once_per_batch():
    torch.manual_seed(0)
    model = make_model(src_vocab=7, tgt_vocab=7, N=1, d_model=16, d_ff=32, h=2, dropout=0.0)
    opt, sched = noam_optimizer(model, 16, warmup=4)
    loss_fn = SimpleLossCompute(model.generator, LabelSmoothing(7, 0, 0.0))
    batches = _padded_batches()
    expected = []
    for b in batches:  # the per-token loss of each batch, before its update
        with torch.no_grad():
            summed, _ = loss_fn(model(b.src, b.tgt, b.src_mask, b.tgt_mask), b.tgt_y, 1)
        expected.append(float(summed) / b.ntokens)
        break
    _, state = run_epoch(batches, model, loss_fn, opt, sched)
    assert state.step == 2 and len(state.losses) == 2
    assert state.losses[0] == pytest.approx(expected[0], rel=1e-5)  # per token
    assert sched.last_epoch == 2  # the schedule moved once per batch
    assert opt.param_groups[0]["lr"] == pytest.approx(rate(2, 16, 1.0, 4))


def test_noam_optimizer_defaults_are_the_papers():
    opt, sched = noam_optimizer(torch.nn.Linear(2, 2), 512)
    assert opt.param_groups[0]["lr"] == pytest.approx(rate(0, 512, 1.0, 400), rel=1e-12)
    for _ in range(3):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(rate(3, 512, 1.0, 400), rel=1e-12)


def test_simple_loss_compute_returns_the_sum_and_the_mean():
    torch.manual_seed(0)
    gen = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.LogSoftmax(-1))
    crit = LabelSmoothing(5, 0, 0.0)
    x, y = torch.randn(2, 3, 4), torch.tensor([[1, 2, 0], [3, 4, 1]])
    summed, mean = SimpleLossCompute(gen, crit)(x, y, norm=5)
    ref = crit(gen(x).reshape(-1, 5), y.reshape(-1))
    ref = ref.detach()
    assert summed == pytest.approx(float(ref), rel=1e-6)
    assert float(mean.detach()) == pytest.approx(float(ref) / 5, rel=1e-6) and mean.requires_grad


def test_label_smoothing_default_is_no_smoothing():
    crit = LabelSmoothing(4, padding_idx=0)
    crit(torch.log_softmax(torch.randn(1, 4), -1), torch.tensor([3]))
    assert crit.true_dist.tolist() == [[0.0, 0.0, 0.0, 1.0]]


def test_make_std_mask_hides_padding_columns_and_the_future():
    tgt = torch.tensor([[1, 5, 0], [1, 0, 0]])
    mask = Batch.make_std_mask(tgt, pad=0)  # (batch, t, t)
    want = torch.tensor(
        [
            [[1, 0, 0], [1, 1, 0], [1, 1, 0]],
            [[1, 0, 0], [1, 0, 0], [1, 0, 0]],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, want)
    b = Batch(torch.tensor([[2, 0, 3]]))  # pad defaults to 0
    assert b.src_mask.tolist() == [[[True, False, True]]]
    assert b.to("cpu") is b and b.src_mask.device.type == "cpu"
    full = Batch(torch.tensor([[2, 3]]), torch.tensor([[1, 2, 0]])).to("cpu")
    assert full.tgt_mask.shape == (1, 2, 2) and full.tgt_y.tolist() == [[2, 0]]


def test_copy_task_batches_follow_their_generator_and_their_format():
    a = list(copy_task_batches(9, 5, 4, 2, torch.Generator().manual_seed(3)))
    b = list(copy_task_batches(9, 5, 4, 2, torch.Generator().manual_seed(3)))
    c = list(copy_task_batches(9, 5, 4, 2, torch.Generator().manual_seed(4)))
    assert all(torch.equal(x.src, y.src) for x, y in zip(a, b))
    assert not torch.equal(a[0].src, c[0].src)
    seen = torch.cat([x.src for x in a + c])
    assert seen[:, 0].eq(1).all()  # the start symbol
    assert seen[:, 1:].min() == 2 and seen[:, 1:].max() == 8  # words 2..vocab-1, never pad
    assert all(x.ntokens == 4 * 4 and x.src_mask.all() for x in a)  # no padding anywhere
    assert torch.equal(a[0].tgt, a[0].src[:, :-1]) and torch.equal(a[0].tgt_y, a[0].src[:, 1:])
