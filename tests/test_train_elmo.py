"""The shipped biLM's command (course_utils.train_elmo): its recipe, a tiny rerun, the checkpoint."""

import math
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from torch import nn

from course_utils.corpora import people_daily
from course_utils.elmo import (
    ElmoConfig,
    batch_to_ids,
    batch_word_ids,
    build_vocabs,
    make_batches,
    perplexity,
    unigram_perplexity,
)
from course_utils.train_elmo import (
    ELMO_FORMAT,
    ElmoTrainConfig,
    _parser,
    elmo_corpus,
    export_elmo,
    load_elmo,
    lr_factor,
    main,
    split_sentences,
    train_bilm,
)
from course_utils.train_gpt import CheckpointError

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")
REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "checkpoints" / "elmo_zh.pt"
TINY = ["--steps", "3", "--batch-size", "8", "--hidden-dim", "16", "--proj-dim", "8"]
TINY += ["--max-words", "300", "--n-train", "200", "--n-valid", "40", "--warmup-steps", "2"]

SENTS = [
    ["我们", "去", "公园", "看", "花", "。"],
    ["他", "花", "了", "三百", "元", "。"],
    ["她", "给", "我", "打", "了", "电话", "。"],
    ["孩子", "们", "在", "操场", "上", "打", "排球", "。"],
] * 3


def test_lr_factor_warms_up_then_follows_a_cosine():
    assert lr_factor(0) == lr_factor(99) == 1.0  # no warm-up, no decay: constant
    assert [lr_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    for step in (0, 10, 50, 99, 100, 150):
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, 100) / 100))
        warm = min(1.0, (step + 1) / 10)
        assert lr_factor(step, 10, 100) == pytest.approx(warm * cosine, abs=1e-12)
    assert lr_factor(50, 0, 100) == pytest.approx(0.5)  # half way down the cosine
    assert lr_factor(100, 0, 100) == pytest.approx(0.0, abs=1e-12)


def test_split_sentences_at_the_ends_and_the_length_cap():
    line = ["a", "b", "。", "c", "d", "e", "！", "f"]
    assert split_sentences([line]) == [["a", "b", "。"], ["c", "d", "e", "！"]]  # "f" < 3 words
    assert split_sentences([line], min_len=1)[-1] == ["f"]
    tagged = [(w, "x") for w in ["一"] * 7]
    assert [len(s) for s in split_sentences([tagged], max_len=3)] == [3, 3]
    assert split_sentences([["甲", "乙", "；", "丙"]], min_len=1) == [["甲", "乙", "；"], ["丙"]]
    # a word is an end only as a whole: "？吗" starts with one but is not one
    assert split_sentences([["？吗", "乙", "丙"]], min_len=1) == [["？吗", "乙", "丙"]]


def _reference_training(model, words, chars, steps, batch_size, lr, warmup, decay=False):
    """The recipe written out once more: Adam, clipping at 1, a linear warm-up, and if ``decay``
    a cosine from the peak to 0 at the last step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, step = [], 0
    model.train()
    while step < steps:
        for batch in make_batches(SENTS, batch_size, seed=step):
            for group in opt.param_groups:
                cosine = 0.5 * (1 + math.cos(math.pi * step / steps)) if decay else 1.0
                group["lr"] = lr * min(1.0, (step + 1) / warmup) * cosine
            char_ids, mask = batch_to_ids(batch, chars, model.cfg.max_chars, truncate=True)
            f, b = model.lm_loss(char_ids, mask, batch_word_ids(batch, words))
            loss = (f + b) / 2
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            step += 1
            if step == steps:
                break
    return losses


def _tiny_pair(sharp: float = 1.0):
    """Two identical tiny biLMs (no dropout); ``sharp`` scales the softmax weights, so that the
    gradients grow large enough for clipping to act."""
    words, chars = build_vocabs(SENTS, max_words=50)
    cfg = ElmoConfig(
        vocab_size=len(words), n_chars=len(chars), hidden_dim=12, proj_dim=6, dropout=0.0
    )
    torch.manual_seed(0)
    a = cfg.build()
    with torch.no_grad():
        a.softmax.weight.mul_(sharp)
    b = cfg.build()
    b.load_state_dict(a.state_dict())
    return a, b, words, chars


@pytest.mark.parametrize("decay", [False, True])
def test_train_bilm_matches_the_reference_step_by_step(decay):
    a, b, words, chars = _tiny_pair()
    # 7 steps of 4 sentences: two passes over the 12 sentences, each in a new order
    kw = {"steps": 7, "batch_size": 4, "lr": 0.01}
    got = train_bilm(a, SENTS, chars, words, warmup_steps=3, decay=decay, **kw)
    want = _reference_training(b, words, chars, warmup=3, decay=decay, **kw)
    assert got == pytest.approx(want, rel=1e-5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def _grad_norm(model, words, chars) -> float:
    char_ids, mask = batch_to_ids(SENTS[:4], chars, model.cfg.max_chars, truncate=True)
    f, b = model.lm_loss(char_ids, mask, batch_word_ids(SENTS[:4], words))
    model.zero_grad()
    ((f + b) / 2).backward()
    norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters() if p.grad is not None))
    model.zero_grad()
    return float(norm)


def test_train_bilm_clips_the_gradient_norm_at_one():
    # a sharp softmax gives gradients far above the threshold, so the clipping decides each step
    a, b, words, chars = _tiny_pair(sharp=30.0)
    assert _grad_norm(a, words, chars) > 4.0
    kw = {"steps": 4, "batch_size": 4, "lr": 0.01}
    got = train_bilm(a, SENTS, chars, words, warmup_steps=1, **kw)
    want = _reference_training(b, words, chars, warmup=1, **kw)
    assert got == pytest.approx(want, rel=1e-5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_train_bilm_defaults_are_a_constant_3e_3_without_warm_up():
    a, b, words, chars = _tiny_pair()
    got = train_bilm(a, SENTS, chars, words, steps=4, batch_size=4)
    want = _reference_training(b, words, chars, 4, 4, lr=3e-3, warmup=1, decay=False)
    assert got == pytest.approx(want, rel=1e-5)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_train_bilm_truncates_long_words():
    # a word longer than the char-CNN's window is cut, as the chapter's batches are, not refused
    long_word = "中华人民共和国国务院"
    words, chars = build_vocabs(SENTS, max_words=50)
    cfg = ElmoConfig(vocab_size=len(words), n_chars=len(chars), hidden_dim=12, proj_dim=6)
    assert len(long_word) > cfg.max_chars - 2
    with pytest.raises(ValueError, match="max_chars"):
        batch_to_ids([[long_word]], chars, cfg.max_chars)
    losses = train_bilm(
        cfg.build(), [[long_word, "。", "我们"]] * 4, chars, words, steps=2, batch_size=2
    )
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)


def test_elmo_corpus_holds_out_the_last_sentences():
    train_sents, valid = elmo_corpus(40)
    everything = [[w for w, _ in s] for s in split_sentences(people_daily(tagged=True))]
    assert len(valid) == 40
    assert train_sents == everything[:-40] and valid == everything[-40:]


def test_export_writes_fp16_weights_on_the_cpu(tmp_path):
    words, chars = build_vocabs(SENTS, max_words=50)
    cfg = ElmoConfig(vocab_size=len(words), n_chars=len(chars), hidden_dim=12, proj_dim=6)
    model = cfg.build()
    export_elmo(tmp_path / "m.pt", model, words, chars, {"model_config": asdict(cfg)})
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert {v.dtype for v in state["model"].values()} == {torch.float16}
    assert state["model"].keys() == model.state_dict().keys()
    export_elmo(tmp_path / "m32.pt", model, words, chars, {}, dtype=torch.float32)
    state = torch.load(tmp_path / "m32.pt", weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(state["model"][k], v), k
    # the record comes back without the weights and vocabularies
    *_, record = load_elmo(tmp_path / "m.pt")
    assert record == {"format": ELMO_FORMAT, "model_config": asdict(cfg)}


def test_config_rejects_bad_values(capsys):
    with pytest.raises(ValueError, match="steps"):
        ElmoTrainConfig(steps=0)
    for bad in (3, 3.0, 0.0, 1.0):  # an int, or a float outside (0, 1)
        with pytest.raises(ValueError, match="lr"):
            ElmoTrainConfig(lr=bad)
    assert ElmoTrainConfig(lr=0.999).lr == 0.999
    with pytest.raises(TypeError, match="decay"):
        ElmoTrainConfig(decay="yes")
    with pytest.raises(ValueError, match="n_valid"):
        elmo_corpus(10**7)
    n_sentences = sum(map(len, elmo_corpus(1000)))
    with pytest.raises(ValueError, match="leaves no training sentences"):
        elmo_corpus(n_sentences)  # every sentence held out
    assert main(["--export", "/dev/null", "--steps", "-1"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "steps" in captured.err and not captured.out


def test_the_command_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--steps", "3"])  # where to write the model is required
    assert exit_.value.code == 2 and "--export" in capsys.readouterr().err
    parser = _parser()
    args = parser.parse_args(["--export", "m.pt", "--no-decay", "--lr", "0.01"])
    assert args.decay is False and args.lr == 0.01 and args.steps is None
    assert parser.parse_args(["--export", "m.pt", "--decay"]).decay is True
    assert parser.parse_args(["--export", "m.pt"]).decay is None  # None: the config's default


def test_elmo_corpus_holds_out_1000_sentences_by_default():
    train_sents, valid = elmo_corpus()
    assert len(valid) == 1000 and (train_sents, valid[-3:]) == (elmo_corpus(1000)[0], valid[-3:])


def test_the_command_reproduces_a_tiny_version(tmp_path, capsys):
    """The shipped model's command, tiny: two runs give the same weights, and the exported
    file loads back to the model that was trained, with its record."""
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    assert main([*TINY, "--export", str(a)]) == 0
    out = capsys.readouterr().out
    assert f"exported {a}" in out
    assert "3 steps on 200 sentences" in out and "held-out perplexity forward" in out
    assert main([*TINY, "--export", str(b)]) == 0
    model_a, words, chars, record = load_elmo(a)
    model_b, *_ = load_elmo(b)
    for (k, p), q in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(p, q), k
    assert record["format"] == ELMO_FORMAT and record["step"] == 3
    assert record["train_sentences"] == 200 and not model_a.training
    assert record["train_config"]["hidden_dim"] == 16 and len(words) == 300
    _, valid = elmo_corpus(40)
    ppl = perplexity(model_a, valid, chars, words)
    assert ppl == pytest.approx(record["valid_perplexity"], rel=0.02)  # fp16 weights


def test_train_is_the_recipe_written_out():
    """``train`` passes every field of its config on: the same steps by hand give the same model."""
    from course_utils.elmo import init_unigram_bias
    from course_utils.tools.device import set_seed
    from course_utils.train_elmo import train

    cfg = ElmoTrainConfig(
        steps=3,
        batch_size=8,
        hidden_dim=16,
        proj_dim=8,
        max_words=300,
        n_train=200,
        n_valid=40,
        warmup_steps=2,
        lr=0.01,
        decay=True,
        seed=3,
    )
    model, words, chars, record = train(cfg, verbose=False)
    sents, _ = elmo_corpus(cfg.n_valid)
    sents = sents[: cfg.n_train]
    words2, chars2 = build_vocabs(sents, max_words=cfg.max_words)
    set_seed(cfg.seed)
    arch = ElmoConfig(vocab_size=len(words2), n_chars=len(chars2), hidden_dim=16, proj_dim=8)
    by_hand = arch.build()
    init_unigram_bias(by_hand, sents, words2)
    losses = train_bilm(
        by_hand, sents, chars2, words2, steps=3, batch_size=8, lr=0.01, warmup_steps=2, decay=True
    )
    assert model.cfg == arch and words.itos == words2.itos
    assert record["final_loss"] == pytest.approx(sum(losses) / len(losses))
    _, valid = elmo_corpus(cfg.n_valid)
    assert record["valid_perplexity"] == [
        round(p, 3) for p in perplexity(model, valid, chars, words)
    ]
    assert record["unigram_perplexity"] == round(unigram_perplexity(sents, valid, words), 3)
    assert record["train_sentences"] == 200 and record["step"] == 3
    seconds = record["train_seconds"]
    assert isinstance(seconds, float) and 0 <= seconds < 600 and seconds == round(seconds, 1)
    for (k, p), q in zip(model.state_dict().items(), by_hand.state_dict().values()):
        assert torch.equal(p, q), k


def test_load_elmo_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_utils.train_elmo"):
        load_elmo(tmp_path / "missing.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an exported course biLM"):
        load_elmo(tmp_path / "other.pt")
    words, chars = build_vocabs(SENTS, max_words=50)
    cfg = ElmoConfig(vocab_size=len(words), n_chars=len(chars), hidden_dim=12, proj_dim=6)
    record = {"model_config": asdict(cfg)}
    export_elmo(tmp_path / "ok.pt", cfg.build(), words, chars, record)
    model, w2, c2, _ = load_elmo(tmp_path / "ok.pt")
    assert w2.itos == words.itos and c2.itos == chars.itos
    assert c2.specials == chars.specials and w2.specials == words.specials
    (tmp_path / "torn.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_elmo(tmp_path / "torn.pt")
    bad = {"model_config": {**asdict(cfg), "hidden_dim": 13}}
    export_elmo(tmp_path / "bad.pt", cfg.build(), words, chars, bad)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_elmo(tmp_path / "bad.pt")


def test_shipped_biLM_is_its_commands_run():
    """checkpoints/elmo_zh.pt: made by ``python -m course_utils.train_elmo`` with the default
    recipe (see checkpoints/README.md), small, and a language model: its held-out perplexity,
    measured again here, is the recorded one and far below the unigram model's."""
    model, words, chars, record = load_elmo(SHIPPED)
    run = ElmoTrainConfig()
    assert record["train_config"] == asdict(run)
    assert record["step"] == run.steps
    assert SHIPPED.stat().st_size < 4_000_000
    assert (model.cfg.hidden_dim, model.cfg.proj_dim) == (run.hidden_dim, run.proj_dim)
    train_sents, valid = elmo_corpus(run.n_valid)
    assert record["train_sentences"] == len(train_sents)
    # its vocabularies are the ones the command builds from that text
    words_again, chars_again = build_vocabs(train_sents, max_words=run.max_words)
    assert words.itos == words_again.itos and chars.itos == chars_again.itos
    ppl = perplexity(model, valid, chars, words)
    assert ppl == pytest.approx(record["valid_perplexity"], rel=0.01)
    assert max(ppl) < 0.5 * record["unigram_perplexity"]


def test_record_final_loss_is_the_mean_of_the_last_100_steps(monkeypatch):
    import course_utils.train_elmo as train_elmo

    losses = [float(i) for i in range(150)]
    monkeypatch.setattr(train_elmo, "train_bilm", lambda *a, **k: list(losses))
    cfg = ElmoTrainConfig(
        steps=150, batch_size=8, hidden_dim=16, proj_dim=8, max_words=300, n_train=200, n_valid=40
    )
    *_, record = train_elmo.train(cfg, verbose=False)
    assert record["final_loss"] == sum(losses[-100:]) / 100 and record["step"] == 150
