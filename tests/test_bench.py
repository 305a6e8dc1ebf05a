"""`make bench` at its smallest sizes: every comparison runs, the table and the JSON agree."""

import io
import json
import math

import pytest
import torch

from course_utils.gpt import GPTConfig
from course_utils.tools import bench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    printed = io.StringIO()
    res = bench.run("smallest", torch.device("cpu"), threads=1, out=out, file=printed)
    return res, printed.getvalue(), out


def test_every_comparison_has_rows(result):
    res, _, _ = result
    names = [r["comparison"] for r in res["rows"]]
    for expected in (
        "word2vec SGNS training",
        "word2vec SGNS quality",
        "MultiHeadedAttention forward",
        "encoder-decoder training",
        "GPT training",
        "GPT training MFU",
    ):
        assert expected in names
    assert sum(n.startswith("attention n=") for n in names) == 2 * 3  # speed and memory, 3 n
    assert sum(n.startswith("GPT decoding") for n in names) == 3
    assert any(n.startswith("Llama decoding") for n in names)
    assert any(n.startswith("Llama KV cache") for n in names)


def test_ratios_are_consistent_and_finite(result):
    res, _, _ = result
    for r in res["rows"]:
        if r["quantity"] == "quality":
            continue  # a Spearman on a tiny corpus may be anything, even nan
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0, r
        if r["unit"] == "ms":  # times: the ratio is reference time / candidate time
            assert r["ratio"] == pytest.approx(r["reference_value"] / r["candidate_value"])
        else:  # rates, memory, FLOP/s: candidate / reference
            assert r["ratio"] == pytest.approx(r["candidate_value"] / r["reference_value"])
        assert r["repeat"] >= 1 and r["number"] >= 1
    kv = next(r for r in res["rows"] if r["comparison"].startswith("Llama KV cache"))
    assert kv["ratio"] == pytest.approx(2 / 8)  # 2 of 8 key/value heads
    mem = [r for r in res["rows"] if r["quantity"] == "memory" and "attention" in r["comparison"]]
    assert all(r["ratio"] > 1 for r in mem)  # the (n, n) score matrix is stored


def test_header_table_and_json(result):
    res, printed, out = result
    assert "torch " + torch.__version__ in printed and "1 thread(s)" in printed
    assert "comparison" in printed and "GPT training MFU" in printed
    on_disk = json.loads(out.read_text())
    assert on_disk["rows"] == res["rows"] and on_disk["threads"] == 1
    assert on_disk["device"] == "cpu" and on_disk["torch"] == torch.__version__
    assert (
        set(on_disk["seconds"])
        == set(on_disk["cpu_seconds"])
        == {fn.__name__ for fn in bench.BENCHES}
    )


def test_flops_per_token_counts_n_without_the_position_table():
    cfg = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=32)
    model = cfg.build()
    per_token, n = bench.gpt_flops_per_token(model, 16)
    total = sum(p.numel() for p in model.parameters())
    assert n == total - 16 * 32
    assert per_token == 6 * n + 12 * 2 * 32 * 16


def test_unknown_size_is_a_clear_error():
    with pytest.raises(ValueError, match="size must be one of"):
        bench.run("huge", torch.device("cpu"), out=None, benches=())
