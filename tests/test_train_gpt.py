"""course_utils.train_gpt: DDP on 2 CPU processes matches 1 process, resume, bad checkpoints, CLI."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_utils.train_gpt import (
    CharTokenizer,
    CheckpointError,
    TrainConfig,
    get_batch,
    load_checkpoint,
    main,
    train,
)

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
    lines = [text[(i := rng.randrange(26)):i + rng.randint(20, 60)] for _ in range(120)]
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
    assert a == pytest.approx(b, abs=1e-5)
    assert [r["step"] for r in _read(tmp_path / "part" / "log.csv")] == [1, 2, 3, 4, 5, 6]


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
