"""course_utils.train_gpt: DDP on 2 CPU processes matches 1 process, resume, bad checkpoints, CLI."""

import json
import math
import os
import random
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch

from course_utils.train_gpt import (
    WEIGHTS_FORMAT,
    CheckpointError,
    TrainConfig,
    export_weights,
    get_batch,
    load_checkpoint,
    load_texts,
    load_weights,
    lr_at,
    main,
    make_optimizer,
    prepare_data,
    read_log,
    resolve_device,
    save_checkpoint,
    setup_run,
    train,
    train_step,
)
from course_utils.vocab import CharTokenizer

REPO = Path(__file__).resolve().parent.parent
SMALL = dict(
    n_layer=1,
    n_head=2,
    d_model=16,
    block_size=16,
    batch_size=8,
    lr=1e-2,
    min_lr=1e-3,
    warmup=2,
    log_interval=1,
    eval_interval=100,
    eval_tokens=512,
    save_interval=100,
)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """120 lines cut from one repeated sentence (no corpus parsing: these tests must stay fast)."""
    rng = random.Random(0)
    text = "中国人民迎接新年，经济发展和改革开放取得了新的成就。" * 4
    lines = [text[(i := rng.randrange(26)) : i + rng.randint(20, 60)] for _ in range(120)]
    path = tmp_path_factory.mktemp("data") / "lines.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


def _cfg(data_file, out_dir, **kw):
    return TrainConfig(**{**SMALL, "data": data_file, "out_dir": str(out_dir), "steps": 4, **kw})


def test_ddp_two_processes_match_one(data_file, tmp_path):
    one = train(_cfg(data_file, tmp_path / "one"), show_progress=False, verbose=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_NO_PROGRESS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "course_utils.train_gpt",
        "--data",
        data_file,
        "--out-dir",
        str(tmp_path / "two"),
        "--steps",
        "4",
    ] + [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 process(es) on cpu" in proc.stdout
    two = _read(tmp_path / "two" / "log.csv")
    losses_one = [r["train_loss"] for r in one.history]
    losses_two = [r["train_loss"] for r in two]
    assert len(losses_one) == len(losses_two) == 4
    assert losses_one == pytest.approx(losses_two, abs=1e-4)
    assert losses_one[-1] < losses_one[0]


def _read(path):
    import csv

    with open(path, encoding="utf-8") as f:
        return [
            {"step": int(r["step"]), "train_loss": float(r["train_loss"])}
            for r in csv.DictReader(f)
        ]


def test_resume_continues_where_it_stopped(data_file, tmp_path):
    full = train(_cfg(data_file, tmp_path / "full", steps=6), show_progress=False, verbose=False)
    part = _cfg(data_file, tmp_path / "part", steps=6, stop_after=3)
    first = train(part, show_progress=False, verbose=False)
    assert [r["step"] for r in first.history] == [1, 2, 3]
    rest = train(
        _cfg(data_file, tmp_path / "part", steps=6, resume=True), show_progress=False, verbose=False
    )
    assert [r["step"] for r in rest.history] == [1, 2, 3, 4, 5, 6]
    a = [r["train_loss"] for r in full.history]
    b = [r["train_loss"] for r in rest.history]
    assert a == b  # bit-exact
    assert [r["step"] for r in _read(tmp_path / "part" / "log.csv")] == [1, 2, 3, 4, 5, 6]


def test_resume_is_bit_exact_with_dropout(data_file, tmp_path):
    """Dropout masks come from a generator seeded by (seed, step, rank), like the batches."""
    full = train(
        _cfg(data_file, tmp_path / "full", steps=4, dropout=0.2), show_progress=False, verbose=False
    )
    train(
        _cfg(data_file, tmp_path / "part", steps=4, dropout=0.2, stop_after=2),
        show_progress=False,
        verbose=False,
    )
    rest = train(
        _cfg(data_file, tmp_path / "part", steps=4, dropout=0.2, resume=True),
        show_progress=False,
        verbose=False,
    )
    assert [r["train_loss"] for r in full.history] == [r["train_loss"] for r in rest.history]
    for a, b in zip(full.model.state_dict().values(), rest.model.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_after_sigkill_is_bit_exact(data_file, tmp_path):
    """Kill the CLI with SIGKILL once it has written a checkpoint; resume; compare the log."""
    import signal
    import time

    args = [
        "--data",
        data_file,
        "--steps",
        "60",
        "--save-interval",
        "5",
        "--eval-interval",
        "1000",
        "--device",
        "cpu",
    ] + [
        f"--{k.replace('_', '-')}={v}"
        for k, v in SMALL.items()
        if k not in ("save_interval", "eval_interval")
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_NO_PROGRESS": "1"}
    cmd = [sys.executable, "-m", "course_utils.train_gpt", *args]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*cmd, "--out-dir", str(killed)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (killed / "ckpt.pt").exists() and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # at once: the run is mid-way, between checkpoints
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    step = load_checkpoint(killed / "ckpt.pt")["step"]
    assert 0 < step < 60
    resumed = subprocess.run(
        [*cmd, "--out-dir", str(killed), "--resume"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed from {killed / 'ckpt.pt'} at step {step}" in resumed.stdout
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses run: the same arithmetic, bit for bit
    try:
        whole = _cfg(
            data_file,
            tmp_path / "whole",
            steps=60,
            save_interval=5,
            eval_interval=1000,
            device="cpu",
        )
        train(whole, show_progress=False, verbose=False)
    finally:
        torch.set_num_threads(threads)
    a = [(r["step"], r["train_loss"]) for r in read_log(killed / "log.csv")]
    b = [(r["step"], r["train_loss"]) for r in read_log(tmp_path / "whole" / "log.csv")]
    assert a == b and len(a) == 60


def test_checkpoint_write_is_atomic(data_file, tmp_path, monkeypatch):
    out = tmp_path / "run"
    train(_cfg(data_file, out, steps=2), show_progress=False, verbose=False)
    before = (out / "ckpt.pt").read_bytes()
    run = setup_run(_cfg(data_file, out, steps=2))

    def crash(obj, f, *a, **k):
        Path(f).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt  # killed while writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(out / "ckpt.pt", run.model, run.optimizer, 9, run.cfg, run.tokenizer)
    assert (out / "ckpt.pt").read_bytes() == before
    assert load_checkpoint(out / "ckpt.pt")["step"] == 2


def test_corrupt_and_mismatched_checkpoints(data_file, tmp_path):
    out = tmp_path / "run"
    train(_cfg(data_file, out, steps=2), show_progress=False, verbose=False)
    with pytest.raises(
        CheckpointError, match="another model .*d_model: checkpoint 16, this run 32"
    ):
        train(
            _cfg(data_file, out, steps=3, d_model=32, resume=True),
            show_progress=False,
            verbose=False,
        )
    state = load_checkpoint(out / "ckpt.pt")
    with pytest.raises(CheckpointError, match="another vocabulary"):
        load_checkpoint(out / "ckpt.pt", itos=state["itos"][:-1])
    (out / "ckpt.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        train(_cfg(data_file, out, steps=3, resume=True), show_progress=False, verbose=False)
    torch.save({"weights": 1}, out / "other.pt")
    with pytest.raises(CheckpointError, match="not a course GPT checkpoint"):
        load_checkpoint(out / "other.pt")
    with pytest.raises(FileNotFoundError, match="without --resume"):
        load_checkpoint(tmp_path / "missing.pt")


def test_cli_config_file_and_errors(data_file, tmp_path, capsys):
    cfg_path = tmp_path / "c.json"
    cfg_path.write_text(
        json.dumps({**SMALL, "data": data_file, "steps": 2, "out_dir": str(tmp_path / "cli")})
    )
    assert main(["--config", str(cfg_path), "--sample", "5"]) == 0
    out = capsys.readouterr().out
    assert "final validation loss" in out
    assert (tmp_path / "cli" / "log.csv").read_text().startswith("step,train_loss,val_loss")
    (tmp_path / "cli" / "ckpt.pt").write_bytes(b"\0" * 10)
    assert main(["--config", str(cfg_path), "--resume"]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    cfg_path.write_text(json.dumps({"n_layers": 2}))
    with pytest.raises(ValueError, match="unknown fields \\['n_layers'\\]"):
        TrainConfig.from_json(cfg_path)


def test_normalize_makes_full_width_ascii(tmp_path):
    lines = ["１９９８年，ＧＤＰ增长８％。", "  ", "新年 ２０００"] * 20
    cfg = TrainConfig(**{**SMALL, "data": "unused", "out_dir": str(tmp_path), "steps": 1})
    tok, _, _ = prepare_data(cfg, lines)
    assert "１" in tok.itos and "1" not in tok.itos
    tok, train_ids, _ = prepare_data(replace(cfg, normalize=True), lines)
    assert "１" not in tok.itos and {"1", "9", "G", "%"} <= set(tok.itos)
    # the blank line is dropped, the others keep their characters (NFKC maps one to one here)
    assert " " in tok.itos and "　" not in tok.itos


def test_export_reproduces_the_model_small(data_file, tmp_path, capsys):
    """The base model's command on a tiny config: train, export fp16, load, same outputs."""
    out = tmp_path / "w.pt"
    flags = ["--data", data_file, "--out-dir", str(tmp_path / "run"), "--steps", "3"]
    flags += ["--n-layer", "1", "--n-head", "2", "--d-model", "16", "--block-size", "16"]
    assert main([*flags, "--normalize", "--export", str(out)]) == 0
    assert f"exported {out} ({out.stat().st_size / 1e6:.2f} MB)" in capsys.readouterr().out
    model, tok, meta = load_weights(out)
    state = load_checkpoint(tmp_path / "run" / "ckpt.pt")
    assert meta["format"] == WEIGHTS_FORMAT and meta["step"] == state["step"] == 3
    assert meta["train_config"]["normalize"] is True and tok.itos == state["itos"]
    assert math.isfinite(meta["val_loss"]) and not model.training
    full = TrainConfig(**state["train_config"]).model_config(len(tok)).build()
    full.load_state_dict(state["model"])
    x = torch.tensor([tok.encode("中国人民迎接新年")])
    with torch.no_grad():
        assert torch.allclose(model(x)[0], full.eval()(x)[0], atol=2e-2)
    # fp16 and no optimizer state: well under a third of the training checkpoint
    assert out.stat().st_size < (tmp_path / "run" / "ckpt.pt").stat().st_size / 3
    fp32 = export_weights(
        tmp_path / "w32.pt",
        full,
        tok,
        TrainConfig(**SMALL),
        step=3,
        val_loss=1.0,
        dtype=torch.float32,
    )
    assert fp32 > out.stat().st_size
    with pytest.raises(CheckpointError, match="not an exported course GPT"):
        load_weights(tmp_path / "run" / "ckpt.pt")
    (tmp_path / "torn.pt").write_bytes(out.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read as an exported model"):
        load_weights(tmp_path / "torn.pt")
    with pytest.raises(FileNotFoundError, match="no exported model"):
        load_weights(tmp_path / "missing.pt")


def test_people_daily_train_leaves_out_the_held_out_lines():
    from course_utils.corpus_cleaning import is_held_out, people_daily_clean

    kept = load_texts("people_daily_train")
    clean = people_daily_clean()
    assert 0.8 * len(clean) < len(kept) < len(clean)
    assert not any(is_held_out(t) for t in kept)
    assert load_texts("people_daily_train", limit=5) == kept[:5]


def test_committed_base_model_is_its_configs_run():
    """checkpoints/gpt_base_zh.pt: made by configs/gpt_base_zh.json's command (see its README),
    small, and trained: it completes a phrase that People's Daily writes hundreds of times."""
    path = REPO / "checkpoints" / "gpt_base_zh.pt"
    model, tok, meta = load_weights(path)
    cfg = TrainConfig.from_json(REPO / "configs" / "gpt_base_zh.json")
    assert meta["train_config"] == asdict(cfg) and meta["step"] == cfg.steps
    assert model.config == cfg.model_config(len(tok))
    assert path.stat().st_size < 6_000_000
    assert "１" not in tok.itos and "1" in tok.itos  # normalised text: ASCII digits
    assert not any(t.startswith("<|") for t in tok.itos)  # chapter 09 adds the chat markers
    prompt = torch.tensor([tok.encode("中华人民共和")])  # (1, 6)
    with torch.no_grad():
        out = model.generate(prompt, 1, temperature=0.0)  # (1, 7), greedy
    assert tok.decode(out[0, -1:].tolist()) == "国"
    assert meta["val_loss"] < 4.5  # nats/char; the training text's unigram entropy is 6.54


def test_configs_in_repo_load():
    for path in sorted((REPO / "configs").glob("gpt_*.json")):
        TrainConfig.from_json(path)


def test_batches_split_across_processes():
    data = torch.arange(100)
    x, y = get_batch(data, 5, 4, seed=0, step=3)
    halves = [get_batch(data, 5, 4, seed=0, step=3, rank=r, world_size=2)[0] for r in range(2)]
    assert torch.equal(torch.cat(halves), x)
    assert torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="divisible"):
        get_batch(data, 5, 3, seed=0, step=0, world_size=2)


def test_bad_config_and_tokenizer():
    with pytest.raises(ValueError, match="positive int"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)
    tok = CharTokenizer.from_texts(["新年好"])
    assert tok.decode(tok.encode("新年快乐")) == "新年??"
    with pytest.raises(ValueError, match="people_daily"):
        train(TrainConfig(data="no-such-corpus"), show_progress=False)


@pytest.mark.parametrize(
    "field, value, exc, match",
    [
        (
            "grad_clip",
            -1.0,
            ValueError,
            "TrainConfig.grad_clip .* got -1",
        ),  # training would diverge
        ("weight_decay", -1.0, ValueError, "TrainConfig.weight_decay"),
        ("eval_tokens", -5, ValueError, "TrainConfig.eval_tokens must be a non-negative int"),
        ("eval_tokens", 10, ValueError, "TrainConfig.eval_tokens must be 0 .* or >= block_size"),
        ("stop_after", -1, ValueError, "TrainConfig.stop_after must be a positive int"),
        ("stop_after", 0, ValueError, "TrainConfig.stop_after"),
        ("limit", 0, ValueError, "TrainConfig.limit"),
        ("warmup", -1, ValueError, "TrainConfig.warmup"),
        ("lr", float("nan"), ValueError, "TrainConfig.lr"),
        ("dropout", 1.0, ValueError, "TrainConfig.dropout"),
        ("valid_fraction", 0.0, ValueError, "TrainConfig.valid_fraction"),
        ("device", "gpu", ValueError, "TrainConfig.device must be one of"),
        ("n_head", 3, ValueError, r"d_model \(128\) must be divisible"),
        (
            "tie_weights",
            "false",
            TypeError,
            "TrainConfig.tie_weights must be bool, got str 'false'",
        ),
        ("lr", "0.1", TypeError, "TrainConfig.lr must be float, got str"),
        ("steps", 10.0, TypeError, "TrainConfig.steps must be int"),
        ("steps", True, TypeError, "TrainConfig.steps must be int"),
        ("limit", "300", TypeError, "TrainConfig.limit must be int or None"),
        ("data", None, TypeError, "TrainConfig.data must be str"),
    ],
)
def test_config_fields_are_checked(field, value, exc, match):
    with pytest.raises(exc, match=match):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    "content, exc, match",
    [
        ('{"tie_weights": "false"}', TypeError, "c.json: TrainConfig.tie_weights must be bool"),
        ('{"lr": "0.1"}', TypeError, "c.json: TrainConfig.lr must be float"),
        ('{"grad_clip": -1}', ValueError, "c.json: TrainConfig.grad_clip"),
        ("[1, 2]", TypeError, "c.json must hold a JSON object .* got a JSON list"),
        ('"steps"', TypeError, "got a JSON str"),
        ('{"steps": 5', ValueError, "not valid JSON"),
    ],
)
def test_json_config_errors_name_the_file_and_field(tmp_path, content, exc, match):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(exc, match=match):
        TrainConfig.from_json(path)
    assert (
        TrainConfig.from_json(_write(tmp_path / "ok.json", '{"lr": 1}')).lr == 1
    )  # int is a float


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "flags, match",
    [
        (["--grad-clip", "-1"], "grad_clip"),
        (["--weight-decay", "-1"], "weight_decay"),
        (["--eval-tokens", "-5"], "eval_tokens"),
        (["--stop-after", "-1"], "stop_after"),
        (["--sample", "-3"], "--sample"),
    ],
)
def test_cli_rejects_bad_flags_before_training(tmp_path, capsys, flags, match):
    assert main([*flags, "--out-dir", str(tmp_path / "x")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing was written


def test_cuda_on_a_machine_without_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(ValueError, match="device 'cuda' .* CPU-only build"):
        resolve_device("cuda")
    assert main(["--device", "cuda", "--out-dir", str(tmp_path / "x")]) == 2
    assert "CPU-only" in capsys.readouterr().err
    assert resolve_device("cpu") == torch.device("cpu")


def test_checkpoint_missing_parts_and_torn_log(data_file, tmp_path):
    out = tmp_path / "run"
    train(_cfg(data_file, out, steps=2), show_progress=False, verbose=False)
    good = torch.load(out / "ckpt.pt", weights_only=True)
    resume = _cfg(data_file, out, steps=3, resume=True)
    cases = [
        ({k: v for k, v in good.items() if k != "optimizer"}, "has no \\['optimizer'\\]"),
        ({k: v for k, v in good.items() if k != "itos"}, "no \\['itos'\\] \\(the vocabulary\\)"),
        ({**good, "step": "2"}, "'step' must be a non-negative int"),
        ({**good, "itos": "abc"}, "'itos' \\(the vocabulary\\) must be a list"),
        ({**good, "model": {}}, "the model weights do not fit"),
        (
            {**good, "model": {**good["model"], "extra.weight": torch.zeros(1)}},
            "the model weights do not fit",
        ),
        ({**good, "optimizer": {"state": {}, "param_groups": []}}, "optimiser state does not fit"),
    ]
    for state, match in cases:
        torch.save(state, out / "ckpt.pt")
        with pytest.raises(CheckpointError, match=f"{out / 'ckpt.pt'}.*{match}"):
            train(resume, show_progress=False, verbose=False)
    torch.save(good, out / "ckpt.pt")
    log = (out / "log.csv").read_text()
    (out / "log.csv").write_text(log + "3,2.9")  # a run killed while appending a row
    with pytest.raises(CheckpointError, match="log.csv, line 4 is torn"):
        train(resume, show_progress=False, verbose=False)
    (out / "log.csv").write_text("step,loss\n1,2.0\n")
    with pytest.raises(CheckpointError, match="log.csv is not a training log"):
        read_log(out / "log.csv")
    (out / "log.csv").write_text("")  # killed before the header was written: no rows
    assert train(resume, show_progress=False, verbose=False).history[-1]["step"] == 3


def test_named_steps_of_the_recipe(data_file, tmp_path):
    """setup_run and train_step are the loop's parts: one step moves every parameter."""
    cfg = _cfg(data_file, tmp_path / "steps", steps=10, warmup=4, weight_decay=0.1)
    assert lr_at(0, cfg) == pytest.approx(cfg.lr / 4)  # warm-up starts at lr / warmup
    assert lr_at(3, cfg) == pytest.approx(cfg.lr)  # and reaches lr at its end
    assert lr_at(10, cfg) == pytest.approx(cfg.min_lr)  # cosine decay ends at min_lr
    run = setup_run(cfg)
    decay, no_decay = make_optimizer(run.model, cfg).param_groups
    assert all(p.dim() >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(p.dim() < 2 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    before = [p.detach().clone() for p in run.model.parameters()]
    loss, lr = train_step(run, 0)
    assert lr == lr_at(0, cfg) and run.optimizer.param_groups[0]["lr"] == lr
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert all(not torch.equal(a, b) for a, b in zip(before, run.model.parameters()))
    x0, _ = get_batch(run.train_data, cfg.block_size, cfg.batch_size, cfg.seed, 0)
    x1, _ = get_batch(run.train_data, cfg.block_size, cfg.batch_size, cfg.seed, 1)
    assert not torch.equal(x0, x1)  # every step draws its own batch


# ---------------------------------------------------------------- the recipe's formulas


def test_batches_differ_across_steps_and_ranks():
    """get_batch is seeded with (seed, step): each step, each seed and each rank's slice differ,
    and the same (seed, step, rank) gives the same batch again."""
    data = torch.arange(10_000)
    x0, _ = get_batch(data, 8, 8, seed=0, step=0)
    x1, _ = get_batch(data, 8, 8, seed=0, step=1)
    assert not torch.equal(x0, x1)  # a new batch every step
    assert not torch.equal(x0, get_batch(data, 8, 8, seed=1, step=0)[0])  # and every seed
    assert torch.equal(x0, get_batch(data, 8, 8, seed=0, step=0)[0])  # reproducible
    # twenty steps, twenty different batches
    batches = {tuple(get_batch(data, 8, 8, seed=0, step=s)[0][:, 0].tolist()) for s in range(20)}
    assert len(batches) == 20
    # two processes: each takes its own half of the step's global batch
    r0, y0 = get_batch(data, 8, 8, seed=0, step=5, rank=0, world_size=2)
    r1, y1 = get_batch(data, 8, 8, seed=0, step=5, rank=1, world_size=2)
    assert r0.shape == r1.shape == (4, 8)
    assert not torch.equal(r0, r1)
    assert torch.equal(torch.cat([r0, r1]), get_batch(data, 8, 8, seed=0, step=5)[0])
    assert torch.equal(y0, r0 + 1) and torch.equal(y1, r1 + 1)  # targets: the next tokens
    # every window starts where a whole (block + 1) window fits
    xs = torch.cat([get_batch(data[:12], 8, 64, seed=0, step=s)[0] for s in range(8)])
    assert xs[:, 0].min() == 0 and xs[:, 0].max() == len(data[:12]) - 8 - 1 - 1


def test_train_step_draws_the_batch_of_its_step_and_rank(data_file, tmp_path, monkeypatch):
    """train_step passes its own step and the run's rank to get_batch."""
    import course_utils.train_gpt as tg

    calls = []

    def spy(data, block_size, batch_size, seed, step, rank=0, world_size=1):
        calls.append((seed, step, rank, world_size))
        return get_batch(data, block_size, batch_size, seed, step, rank, world_size)

    monkeypatch.setattr(tg, "get_batch", spy)
    run = setup_run(_cfg(data_file, tmp_path / "spy", steps=4, seed=7))
    for step in range(3):
        train_step(run, step)
    assert calls == [(7, 0, 0, 1), (7, 1, 0, 1), (7, 2, 0, 1)]


def test_lr_schedule_exact_values(data_file, tmp_path):
    """Linear warm-up lr (s + 1) / warmup, then cosine from lr down to min_lr at `steps`."""
    lr, min_lr, warmup, steps = 1e-2, 1e-3, 4, 12
    cfg = _cfg(data_file, tmp_path, steps=steps, warmup=warmup, lr=lr, min_lr=min_lr)
    assert lr_at(0, cfg) == pytest.approx(lr * 1 / 4, rel=1e-12)  # step 0: lr / warmup
    assert lr_at(1, cfg) == pytest.approx(lr * 2 / 4, rel=1e-12)
    assert lr_at(3, cfg) == pytest.approx(lr, rel=1e-12)  # end of warm-up: the peak
    assert lr_at(4, cfg) == pytest.approx(lr, rel=1e-12)  # cosine starts at the peak
    # a quarter and half of the way through the decay: cos(pi/4) and cos(pi/2)
    quarter = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi / 4))
    assert lr_at(6, cfg) == pytest.approx(quarter, rel=1e-12)
    assert lr_at(8, cfg) == pytest.approx((lr + min_lr) / 2, rel=1e-12)
    assert lr_at(12, cfg) == pytest.approx(min_lr, rel=1e-12)  # the end: min_lr
    assert lr_at(50, cfg) == pytest.approx(min_lr, rel=1e-12)  # and it stays there
    warm = [lr_at(s, cfg) for s in range(warmup)]
    decay = [lr_at(s, cfg) for s in range(warmup, steps + 1)]
    assert warm == sorted(warm) and decay == sorted(decay, reverse=True)
    no_warmup = _cfg(data_file, tmp_path, steps=steps, warmup=0, lr=lr, min_lr=min_lr)
    assert lr_at(0, no_warmup) == pytest.approx(lr, rel=1e-12)
    assert lr_at(6, no_warmup) == pytest.approx((lr + min_lr) / 2, rel=1e-12)
    # train_step sets that rate on every parameter group
    run = setup_run(_cfg(data_file, tmp_path / "lr", steps=steps, warmup=warmup, lr=lr))
    for step in (0, 3):
        _, got = train_step(run, step)
        assert got == lr_at(step, run.cfg)
        assert [g["lr"] for g in run.optimizer.param_groups] == [got, got]


def test_weight_decay_on_matrices_only(data_file, tmp_path):
    """Every 1-D parameter (biases, LayerNorm gains and biases) is in the no-decay group,
    every matrix (embeddings, Linear weights) in the decay group; a tied tensor once."""
    for tie in (False, True):
        cfg = _cfg(data_file, tmp_path, n_layer=2, weight_decay=0.3, tie_weights=tie)
        model = cfg.model_config(vocab_size=30).build()
        decay, no_decay = make_optimizer(model, cfg).param_groups
        assert decay["weight_decay"] == 0.3 and no_decay["weight_decay"] == 0.0
        assert decay["betas"] == (0.9, 0.95) and decay["lr"] == cfg.lr
        named = dict(model.named_parameters())  # a tied tensor appears once
        one_d = {n for n, p in named.items() if p.dim() == 1}
        assert {n for n in named if n.endswith(".bias")} <= one_d
        assert any("norm.weight" in n for n in one_d)  # LayerNorm gains are 1-D
        ids = {id(p): n for n, p in named.items()}
        assert sorted(ids[id(p)] for p in no_decay["params"]) == sorted(one_d)
        assert sorted(ids[id(p)] for p in decay["params"]) == sorted(set(named) - one_d)
        assert len(decay["params"]) + len(no_decay["params"]) == len(named)


def test_weight_decay_shrinks_only_matrices(data_file, tmp_path):
    """With zero gradients AdamW only decays: W <- W (1 - lr wd); 1-D parameters stay put."""
    cfg = _cfg(data_file, tmp_path, weight_decay=0.5, lr=0.1, min_lr=0.01)
    model = cfg.model_config(vocab_size=30).build()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    opt = make_optimizer(model, cfg)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in model.named_parameters():
        expected = 1.0 - 0.1 * 0.5 if p.dim() >= 2 else 1.0
        assert torch.allclose(p, torch.full_like(p, expected)), name


def test_cli_sample_is_the_models_continuation_of_a_line_break(capsys):
    """--sample N: N characters drawn at temperature 0.8 from the 50 likeliest, after a line
    break that is not printed."""
    from types import SimpleNamespace

    from course_utils.gpt import GPTConfig
    from course_utils.train_gpt import _print_sample

    tok = CharTokenizer(["<unk>", "\n", *(chr(0x4E00 + i) for i in range(150))])
    torch.manual_seed(0)
    model = GPTConfig(vocab_size=len(tok), block_size=32, n_layer=1, n_head=2, d_model=16).build()
    with torch.no_grad():
        model.lm_head.weight.mul_(4)  # spread logits: top-k (of 152) and temperature both matter
    torch.manual_seed(3)
    _print_sample(SimpleNamespace(model=model.eval(), tokenizer=tok), 12)
    printed = capsys.readouterr().out
    torch.manual_seed(3)
    start = torch.tensor([tok.encode("\n")])
    want = model.generate(start, 12, temperature=0.8, top_k=50)
    assert printed == tok.decode(want[0, 1:].tolist()) + "\n"
    for other in (dict(temperature=1.8, top_k=50), dict(temperature=0.8, top_k=None)):
        torch.manual_seed(3)
        assert tok.decode(model.generate(start, 12, **other)[0, 1:].tolist()) + "\n" != printed


def test_resuming_with_other_data_is_refused(data_file, tmp_path):
    out = tmp_path / "run"
    train(_cfg(data_file, out, steps=2), show_progress=False, verbose=False)
    other = tmp_path / "other.txt"  # as many characters, one of them another
    other.write_text(Path(data_file).read_text(encoding="utf-8").replace("中", "甲"), "utf-8")
    with pytest.raises(CheckpointError, match="another vocabulary"):
        train(_cfg(str(other), out, steps=3, resume=True), show_progress=False, verbose=False)


class _NotData:
    """A pickled object that is not a tensor or plain data (unpickling it could run code)."""


def test_course_files_load_tensors_and_plain_data_only(tmp_path):
    from course_utils.train_gpt import read_state

    torch.save({"format": WEIGHTS_FORMAT, "x": _NotData()}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="cannot be read as a test file"):
        read_state(tmp_path / "odd.pt", "a test file", "")
    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    assert torch.equal(read_state(tmp_path / "plain.pt", "a test file", "")["w"], torch.ones(2))


def test_log_rows_keep_integer_steps_and_tokens(data_file, tmp_path):
    train(_cfg(data_file, tmp_path / "run", steps=2), show_progress=False, verbose=False)
    rows = read_log(tmp_path / "run" / "log.csv")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(type(r["step"]) is int and type(r["tokens"]) is int for r in rows)
    assert all(type(r["train_loss"]) is float for r in rows)


def test_evaluate_scores_all_windows_by_default():
    from course_utils.gpt import GPTConfig
    from course_utils.train_gpt import evaluate

    torch.manual_seed(0)
    model = GPTConfig(vocab_size=11, block_size=4, n_layer=1, n_head=2, d_model=8).build()
    data = torch.randint(0, 11, (41,))  # 40 predicted tokens: 10 windows of 4
    x, y = data[:40].view(10, 4), data[1:41].view(10, 4)
    with torch.no_grad():
        want = float(model(x, y)[1])
    assert evaluate(model, data, 4) == pytest.approx(want, rel=1e-6)
    assert evaluate(model, data, 4, batch_size=3) == pytest.approx(want, rel=1e-6)
    assert evaluate(model, data, 4, max_tokens=8) != pytest.approx(want, rel=1e-6)


def test_train_loop_logs_evaluates_and_saves_on_schedule(data_file, tmp_path, monkeypatch, capsys):
    """7 steps, a log row every 2, validation every 3, a checkpoint every 3: each at its steps
    and at the last, into a folder that does not exist yet; the result's numbers are the run's."""
    import time

    import course_utils.train_gpt as train_gpt

    saved = []
    real_save = train_gpt.save_checkpoint

    def spy(path, model, optimizer, done, *rest):
        saved.append(done)
        return real_save(path, model, optimizer, done, *rest)

    monkeypatch.setattr(train_gpt, "save_checkpoint", spy)
    cfg = _cfg(
        data_file,
        tmp_path / "new" / "run",
        steps=7,
        log_interval=2,
        eval_interval=3,
        save_interval=3,
        eval_tokens=64,  # fewer than the validation text holds
    )
    t0 = time.perf_counter()
    result = train(cfg, show_progress=False)  # verbose by default: a line per log row
    outer = time.perf_counter() - t0
    assert saved == [3, 6, 7]
    assert [r["step"] for r in result.history] == [2, 3, 4, 6, 7]
    evaluated = [r["step"] for r in result.history if not math.isnan(r["val_loss"])]
    assert evaluated == [3, 6, 7]
    assert result.val_loss == result.history[-1]["val_loss"]
    elapsed = [r["elapsed_s"] for r in result.history]
    assert 0 < elapsed[0] and elapsed == sorted(elapsed) and elapsed[-1] <= outer
    assert result.tokens_per_s >= 7 * cfg.batch_size * cfg.block_size / outer
    out = capsys.readouterr().out
    assert [line.split("|")[0].split() for line in out.splitlines() if line.startswith("step")] == [
        ["step", str(s)] for s in (2, 3, 4, 6, 7)
    ]
    # the last row's validation loss is the final model's, on the first eval_tokens tokens
    run = setup_run(replace(cfg, resume=True))
    assert len(run.valid_data) > 2 * cfg.eval_tokens
    want = train_gpt.evaluate(run.model, run.valid_data, cfg.block_size, cfg.eval_tokens)
    assert result.val_loss == pytest.approx(want, rel=1e-6)
    # a finished run resumed has nothing to train: it says so, its validation loss is measured
    # afresh, and no tokens were processed; and it is quiet when asked
    again = train(replace(cfg, resume=True), show_progress=False)
    out = capsys.readouterr().out
    assert "at step 7" in out and "nothing to do: the checkpoint is at step 7 >= steps 7" in out
    assert again.val_loss == pytest.approx(want, rel=1e-6)
    assert again.tokens_per_s == 0.0
    train(replace(cfg, resume=True), show_progress=False, verbose=False)
    assert capsys.readouterr().out == ""


def test_train_uses_the_texts_it_is_given(data_file, tmp_path):
    """``texts`` replaces the config's data file: the vocabulary is built from those lines."""
    rng = random.Random(1)
    texts = [
        "".join(rng.choice("abcdefgh ") for _ in range(rng.randint(30, 60))) for _ in range(80)
    ]
    cfg = _cfg(data_file, tmp_path / "run", steps=2)
    result = train(cfg, texts, show_progress=False, verbose=False)
    itos = result.tokenizer.itos
    assert itos[0] == "<unk>" and set(itos[1:]) == set("abcdefgh \n")  # lines end with \n


def test_evaluate_counts_the_last_predicted_token():
    """n tokens hold n - 1 (input, next) pairs: 40 tokens make 9 windows of 4, not 10; a cap
    above that changes nothing, and 41 tokens make 10."""
    from course_utils.gpt import GPTConfig
    from course_utils.train_gpt import evaluate

    torch.manual_seed(0)
    model = GPTConfig(vocab_size=11, block_size=4, n_layer=1, n_head=2, d_model=8).build()
    data = torch.randint(0, 11, (41,))
    with torch.no_grad():
        nine = float(model(data[:36].view(9, 4), data[1:37].view(9, 4))[1])
        ten = float(model(data[:40].view(10, 4), data[1:41].view(10, 4))[1])
    assert evaluate(model, data[:40], 4) == pytest.approx(nine, rel=1e-6)
    assert evaluate(model, data[:40], 4, max_tokens=1000) == pytest.approx(nine, rel=1e-6)
    assert evaluate(model, data, 4, max_tokens=1000) == pytest.approx(ten, rel=1e-6)
    assert evaluate(model, data, 4, max_tokens=39) == pytest.approx(nine, rel=1e-6)


def test_lr_reaches_min_lr_one_step_after_warm_up(data_file, tmp_path):
    cfg = _cfg(data_file, tmp_path, steps=3, warmup=2, lr=1e-2, min_lr=1e-3)
    assert lr_at(2, cfg) == pytest.approx(1e-2, rel=1e-12)
    assert lr_at(3, cfg) == pytest.approx(1e-3, rel=1e-12)


def test_save_state_makes_missing_folders(tmp_path):
    from course_utils.train_gpt import read_state, save_state

    path = tmp_path / "a" / "b" / "state.pt"
    save_state({"x": torch.ones(2)}, path)
    assert torch.equal(read_state(path, "a test file", "")["x"], torch.ones(2))


def test_cli_samples_only_when_asked(data_file, tmp_path, monkeypatch):
    import course_utils.train_gpt as train_gpt

    asked = []
    monkeypatch.setattr(train_gpt, "_print_sample", lambda result, n: asked.append(n))
    flags = ["--data", data_file, "--steps", "1", "--n-layer", "1", "--d-model", "16"]
    flags += ["--n-head", "2", "--block-size", "16", "--batch-size", "4", "--eval-tokens", "64"]
    assert main([*flags, "--out-dir", str(tmp_path / "a")]) == 0
    assert asked == []
    assert main([*flags, "--out-dir", str(tmp_path / "b"), "--sample", "7"]) == 0
    assert asked == [7]


def test_prepare_data_takes_limit_and_valid_fraction(data_file, tmp_path):
    """The first ``limit`` lines, split by ``split_texts`` with the config's validation share."""
    from course_utils.corpora import split_texts

    lines = Path(data_file).read_text(encoding="utf-8").splitlines()
    tok, train_data, valid_data = prepare_data(
        _cfg(data_file, tmp_path, limit=50, valid_fraction=0.3)
    )
    train_texts, valid_texts = split_texts(lines[:50], 0.3, seed=0)
    assert len(train_texts) + len(valid_texts) == 50 and len(valid_texts) > 10
    assert torch.equal(train_data, tok.encode_lines(train_texts))
    assert torch.equal(valid_data, tok.encode_lines(valid_texts))


def test_prepare_data_length_limits_are_exact(data_file, tmp_path):
    """Training needs block_size + 2 characters (a window and its target, at any start the
    sampler may draw), validation block_size + 1 (one window and its target)."""
    from course_utils.corpora import split_texts

    texts = Path(data_file).read_text(encoding="utf-8").splitlines()[:40]
    train_texts, valid_texts = split_texts(texts, 0.9, seed=0)  # a short training split
    n_train = len(CharTokenizer.from_texts(texts).encode_lines(train_texts))
    n_valid = len(CharTokenizer.from_texts(texts).encode_lines(valid_texts))
    assert n_train + 5 < n_valid
    prepare_data(_cfg(data_file, tmp_path, block_size=n_train - 2, valid_fraction=0.9), texts)
    with pytest.raises(ValueError, match=f"training split has {n_train} characters"):
        prepare_data(_cfg(data_file, tmp_path, block_size=n_train - 1, valid_fraction=0.9), texts)
    train_texts, valid_texts = split_texts(texts, 0.1, seed=0)  # a short validation split
    n_valid = len(CharTokenizer.from_texts(texts).encode_lines(valid_texts))
    prepare_data(_cfg(data_file, tmp_path, block_size=n_valid - 1, valid_fraction=0.1), texts)
    with pytest.raises(ValueError, match=f"validation split has {n_valid} characters"):
        prepare_data(_cfg(data_file, tmp_path, block_size=n_valid, valid_fraction=0.1), texts)


def test_load_texts_reads_each_named_corpus():
    from course_utils import corpora

    assert load_texts("reviews", limit=5) == [t for t, _ in corpora.reviews()][:5]
    assert load_texts("people_daily", limit=4) == corpora.people_daily_text(limit=4)
    assert len(load_texts("people_daily", limit=4)) == 4


def test_the_seed_sets_the_initial_weights(data_file, tmp_path):
    def weights(seed, name):
        return setup_run(_cfg(data_file, tmp_path / name, seed=seed)).model.state_dict()

    a, b, c = weights(1, "a"), weights(1, "b"), weights(0, "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not any(torch.equal(a[k], c[k]) for k in a if k.endswith("weight") and a[k].dim() == 2)


def test_model_config_carries_every_architecture_field():
    cfg = TrainConfig(
        block_size=24, n_layer=3, n_head=2, d_model=32, dropout=0.25, tie_weights=False
    )
    got = cfg.model_config(vocab_size=57)
    want = (57, 24, 3, 2, 32, 0.25, False)
    assert (
        got.vocab_size,
        got.block_size,
        got.n_layer,
        got.n_head,
        got.d_model,
        got.dropout,
        got.tie_weights,
    ) == want


def test_print_sample_settings(capsys):
    """``--sample N``: N characters after a line break, temperature 0.8, top-k 50, the global
    generator (so the run's seed decides them)."""
    from course_utils.train_gpt import TrainResult, _print_sample

    calls = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def generate(self, idx, n, **kwargs):
            calls.append((idx.tolist(), n, kwargs))
            return torch.cat([idx, torch.full((1, n), 1, dtype=torch.long)], dim=1)

    tok = CharTokenizer.from_texts(["ab", "ba"])
    _print_sample(TrainResult(Recorder(), tok, [], 0.0, 0.0), 3)
    newline = tok.encode("\n")
    assert calls == [([newline], 3, {"temperature": 0.8, "top_k": 50, "generator": None})]
    assert capsys.readouterr().out == tok.decode([1, 1, 1]) + "\n"


def test_input_limits_at_their_exact_boundaries(tmp_path):
    """Each guard refuses the first bad value and accepts the last good one."""
    from course_utils.gpt import GPTConfig
    from course_utils.train_gpt import evaluate

    # eval_tokens: 0 (all) or at least one window
    TrainConfig(block_size=16, eval_tokens=16)
    TrainConfig(block_size=16, eval_tokens=0)
    for bad in (1, 15):
        with pytest.raises(ValueError, match="eval_tokens"):
            TrainConfig(block_size=16, eval_tokens=bad)
    # a data file needs 2 non-empty lines
    two, one = tmp_path / "two.txt", tmp_path / "one.txt"
    two.write_text("甲乙\n丙丁\n", encoding="utf-8")
    one.write_text("甲乙\n\n", encoding="utf-8")
    assert load_texts(str(two)) == ["甲乙", "丙丁"]
    with pytest.raises(ValueError, match="fewer than 2 non-empty lines"):
        load_texts(str(one))
    # a batch needs block_size + 2 tokens (a window and its target at two or more starts)
    x, y = get_batch(torch.arange(6), 4, 2, seed=0, step=0)
    assert x.shape == y.shape == (2, 4)
    with pytest.raises(ValueError):
        get_batch(torch.arange(5), 4, 2, seed=0, step=0)
    # evaluation: exactly one window is enough
    torch.manual_seed(0)
    model = GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=2, d_model=8).build()
    assert math.isfinite(evaluate(model, torch.arange(5) % 7, 4))
    with pytest.raises(ValueError, match="need more than block_size"):
        evaluate(model, torch.arange(4), 4)
