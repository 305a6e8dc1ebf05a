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
