"""Every speed comparison the course makes, in one run and one table (``make bench``).

    python -m course_utils.tools.bench [--out .cache/bench.json] [--size cpu|gpu|smallest]
                                       [--threads N]

Each row is a ratio of two measurements taken side by side in this run: a
candidate (the course's code) against a reference (PyTorch's or gensim's), with
the median of ``repeat`` samples of ``number`` calls. PyTorch code is timed
with ``course_utils.tools.benchmark`` (``torch.utils.benchmark.Timer``:
synchronised, warmed up, thread count set explicitly); gensim, which is C code,
on the wall clock; peak memory in a separate call. ``ratio`` is always
candidate / reference of the row's quantity: for speed, > 1 means the course's
code is faster; for memory, < 1 means it needs less.

On a CUDA device the sizes grow (``--size gpu``) and bf16 rows are added.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .benchmark import Timing, compare, time_call

DEFAULT_OUT = Path(".cache") / "bench.json"


def _peak_tensor_memory():
    """``peak_tensor_memory``, wherever this version of the package keeps it."""
    try:
        from .memory import peak_tensor_memory
    except ImportError:
        from ..attention import peak_tensor_memory
    return peak_tensor_memory


@dataclass(frozen=True)
class BenchSizes:
    """The sizes of every comparison; ``SIZES`` holds the three presets."""

    repeat: int  # samples per timing (median reported)
    w2v_corpus: str  # "people_daily" (its first w2v_lines lines) or "lee"
    w2v_lines: int
    w2v_epochs: int
    w2v_repeat: int  # training runs per implementation
    mha_shape: tuple  # (batch, seq, d_model, heads)
    attn_lengths: tuple  # sequence lengths n of hand-written attention vs SDPA
    attn_heads: int
    seq2seq: tuple  # (layers N, d_model, d_ff, heads, batch, seq, vocab)
    gpt: tuple  # (layers, d_model, heads, block, batch, vocab)
    kv_model: tuple  # (layers, d_model, heads) of the KV-cache decoding model
    kv_lengths: tuple  # new tokens generated
    llama: tuple  # (layers, hidden, heads, GQA kv heads, new tokens)
    mfu_gpt: tuple  # (layers, d_model, heads, block, batch, vocab) for MFU
    peak_n: int  # the square matmul that measures the machine's peak


SIZES = {
    "smallest": BenchSizes(
        repeat=2,
        w2v_corpus="lee",
        w2v_lines=50,
        w2v_epochs=1,
        w2v_repeat=1,
        mha_shape=(2, 16, 32, 4),
        attn_lengths=(32, 64, 128),
        attn_heads=2,
        seq2seq=(1, 32, 64, 4, 4, 8, 50),
        gpt=(1, 32, 4, 16, 4, 50),
        kv_model=(1, 32, 4),
        kv_lengths=(2, 4, 8),
        llama=(1, 64, 8, 2, 4),
        mfu_gpt=(1, 32, 4, 16, 4, 50),
        peak_n=128,
    ),
    "cpu": BenchSizes(
        repeat=5,
        w2v_corpus="people_daily",
        w2v_lines=19484,
        w2v_epochs=3,
        w2v_repeat=2,
        mha_shape=(8, 128, 256, 8),
        attn_lengths=(256, 1024, 2048),
        attn_heads=4,
        seq2seq=(2, 64, 256, 4, 64, 12, 30),
        gpt=(2, 64, 4, 64, 16, 4700),
        kv_model=(4, 128, 4),
        kv_lengths=(32, 64, 128),
        llama=(4, 256, 8, 2, 64),
        mfu_gpt=(2, 128, 4, 64, 32, 4700),
        peak_n=1024,
    ),
    "gpu": BenchSizes(
        repeat=10,
        w2v_corpus="people_daily",
        w2v_lines=19484,
        w2v_epochs=5,
        w2v_repeat=3,
        mha_shape=(32, 512, 768, 12),
        attn_lengths=(256, 1024, 2048),
        attn_heads=8,
        seq2seq=(6, 512, 2048, 8, 64, 32, 8000),
        gpt=(6, 384, 6, 256, 64, 4700),
        kv_model=(6, 384, 6),
        kv_lengths=(64, 128, 256),
        llama=(8, 1024, 16, 4, 128),
        mfu_gpt=(12, 768, 12, 1024, 16, 50257),
        peak_n=8192,
    ),
}


@dataclass
class Row:
    """One comparison: candidate and reference values, and their ratio."""

    comparison: str
    quantity: str  # speed, memory, quality or utilisation
    candidate: str
    reference: str
    candidate_value: float
    reference_value: float
    unit: str
    ratio: float  # candidate / reference of the quantity
    repeat: int
    number: int
    note: str = ""


@dataclass
class Bench:
    """Where and how the rows are measured."""

    sizes: BenchSizes
    device: torch.device
    threads: int
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def speed(
        self,
        comparison: str,
        candidate: str,
        reference: str,
        cand: Timing,
        ref: Timing,
        work: float = 1.0,
        unit: str = "ms",
        note: str = "",
    ) -> Row:
        """A speed row: ``work`` units per call (tokens, words) or times in ms when work is 1."""
        if unit == "ms":
            cv, rv = cand.median_s * 1e3, ref.median_s * 1e3
        else:
            cv, rv = work / cand.median_s, work / ref.median_s
        return self.add(
            Row(
                comparison,
                "speed",
                candidate,
                reference,
                cv,
                rv,
                unit,
                ref.median_s / cand.median_s,
                cand.repeat,
                cand.number,
                note,
            )
        )

    def compare(
        self,
        candidate: Callable[[], object],
        reference: Callable[[], object],
        number: int = 1,
        repeat: int | None = None,
    ) -> tuple[Timing, Timing]:
        _, c, r = compare(
            candidate,
            reference,
            repeat=repeat or self.sizes.repeat,
            warmup=1,
            number=number,
            num_threads=self.threads,
        )
        return c, r


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _greedy(model, idx: torch.Tensor, n: int, use_cache: bool) -> torch.Tensor:
    """Greedy generation through the model's own ``generate``, whichever switch it takes."""
    params = inspect.signature(model.generate).parameters
    kind = {"greedy": True} if "greedy" in params else {"temperature": 0.0}
    return model.generate(idx, n, use_cache=use_cache, **kind)


def _decode(model, idx: torch.Tensor, n: int, use_cache: bool) -> Callable[[], torch.Tensor]:
    return lambda: _greedy(model, idx, n, use_cache)


def _train_step(
    model, batch_fn: Callable[[], tuple], loss_fn: Callable, autocast: bool, device: torch.device
) -> Callable[[], None]:
    """One optimisation step (AdamW) of ``model`` on a fixed batch, as a closure."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = batch_fn()

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(model, *batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


# ---------------------------------------------------------------- the comparisons
def bench_word2vec(b: Bench) -> None:
    """From-scratch SGNS against gensim: words/s (wall clock) and Spearman, same corpus."""
    from .. import corpora
    from ..word2vec import Word2VecConfig, evaluate_similarity, gensim_from_config, train_word2vec

    s = b.sizes
    if s.w2v_corpus == "lee":  # English, small: for tests
        sentences, name, test_set = corpora.lee_corpus(background=False), "Lee", "wordsim353"
    else:
        sentences, name, test_set = corpora.people_daily(), "People's Daily", "zh_similarity"
    sentences = sentences[: s.w2v_lines]
    config = Word2VecConfig(
        vector_size=100,
        window=5,
        min_count=5 if s.w2v_lines > 1000 else 1,
        sg=1,
        negative=5,
        sample=1e-3,
        epochs=s.w2v_epochs,
        seed=0,
        threads=1,
    )
    ours, theirs = [], []
    for _ in range(s.w2v_repeat):  # interleaved, so that both see the same machine load
        result = train_word2vec(sentences, config, show_progress=False)
        ours.append(result.words_per_second)
        kv_gensim, _, wps = gensim_from_config(sentences, config)
        theirs.append(wps)
    c, r = statistics.median(ours), statistics.median(theirs)
    n_words = sum(len(x) for x in sentences)
    what = f"{name} {len(sentences):,} lines ({n_words:,} words), {s.w2v_epochs} epochs"
    b.add(
        Row(
            "word2vec SGNS training",
            "speed",
            "from scratch",
            "gensim",
            c,
            r,
            "words/s",
            c / r,
            s.w2v_repeat,
            1,
            f"{what}; 1 thread each, wall clock",
        )
    )
    q_ours = evaluate_similarity(result.keyed_vectors(), test_set)
    q_theirs = evaluate_similarity(kv_gensim, test_set)
    b.add(
        Row(
            "word2vec SGNS quality",
            "quality",
            "from scratch",
            "gensim",
            q_ours.spearman,
            q_theirs.spearman,
            "Spearman",
            q_ours.spearman / q_theirs.spearman,
            1,
            1,
            f"{test_set}: {q_theirs.n_used}/{q_theirs.n_total} pairs in vocabulary",
        )
    )


def bench_mha(b: Bench) -> None:
    """The course's MultiHeadedAttention against nn.MultiheadAttention with the same weights."""
    from ..attention import MultiHeadedAttention, to_torch_mha

    batch, seq, d_model, heads = b.sizes.mha_shape
    torch.manual_seed(0)
    ours = MultiHeadedAttention(heads, d_model, dropout=0.0).to(b.device).eval()
    theirs = to_torch_mha(ours).to(b.device).eval()
    x = torch.randn(batch, seq, d_model, device=b.device)  # (batch, seq, d_model)

    def run(m):
        def call():
            with torch.no_grad():
                m(x, x, x)

        return call

    c, r = b.compare(run(ours), run(theirs), number=5)
    b.speed(
        "MultiHeadedAttention forward",
        "course",
        "nn.MultiheadAttention",
        c,
        r,
        note=f"batch {batch}, seq {seq}, d_model {d_model}, {heads} heads, no grad",
    )


def _attention_rows(b: Bench, n: int, dtype: torch.dtype) -> None:
    from ..attention import attention

    torch.manual_seed(0)
    q, k, v = (
        torch.randn(1, b.sizes.attn_heads, n, 64, device=b.device, dtype=dtype) for _ in range(3)
    )  # (1, heads, n, d_k)

    def hand():
        return attention(q, k, v)[0]

    def sdpa():
        return F.scaled_dot_product_attention(q, k, v)

    tag = "" if dtype == torch.float32 else " bf16"
    c, r = b.compare(hand, sdpa, number=1)
    b.speed(
        f"attention n={n}{tag}",
        "hand-written",
        "SDPA",
        c,
        r,
        note=f"{b.sizes.attn_heads} heads, d_k 64",
    )
    _sync(b.device)
    peak_tensor_memory = _peak_tensor_memory()
    mem_c, mem_r = peak_tensor_memory(hand)[1], peak_tensor_memory(sdpa)[1]
    b.add(
        Row(
            f"attention n={n}{tag}",
            "memory",
            "hand-written",
            "SDPA",
            mem_c / 2**20,
            mem_r / 2**20,
            "MiB",
            mem_c / max(mem_r, 1),
            1,
            1,
            "peak bytes of the tensors created",
        )
    )


def bench_attention(b: Bench) -> None:
    """Hand-written attention against F.scaled_dot_product_attention: time and peak memory."""
    dtypes = [torch.float32] + ([torch.bfloat16] if b.device.type == "cuda" else [])
    for dtype in dtypes:
        for n in b.sizes.attn_lengths:
            _attention_rows(b, n, dtype)


def bench_seq2seq(b: Bench) -> None:
    """The course's encoder-decoder against nn.Transformer, same configuration: training."""
    from ..seq2seq_training import Batch, LabelSmoothing, SimpleLossCompute
    from ..transformer import TorchTransformerModel, TransformerConfig, make_model

    n_layers, d_model, d_ff, h, batch, seq, vocab = b.sizes.seq2seq
    cfg = TransformerConfig(
        src_vocab=vocab, tgt_vocab=vocab, N=n_layers, d_model=d_model, d_ff=d_ff, h=h, dropout=0.1
    )
    g = torch.Generator().manual_seed(0)
    data = Batch(
        torch.randint(1, vocab, (batch, seq), generator=g),
        torch.randint(1, vocab, (batch, seq + 1), generator=g),
        pad=0,
    ).to(b.device)

    def loss_fn(model):
        crit = SimpleLossCompute(model.generator, LabelSmoothing(vocab, 0, 0.1))
        out = model(data.src, data.tgt, data.src_mask, data.tgt_mask)  # (batch, seq, d_model)
        return crit(out, data.tgt_y, data.ntokens)[1]

    torch.manual_seed(0)
    ours = make_model(cfg).to(b.device).train()
    theirs = TorchTransformerModel(cfg).to(b.device).train()
    steps = [_train_step(m, tuple, loss_fn, False, b.device) for m in (ours, theirs)]
    c, r = b.compare(steps[0], steps[1], number=2)
    b.speed(
        "encoder-decoder training",
        "course",
        "nn.Transformer",
        c,
        r,
        work=data.ntokens,
        unit="tokens/s",
        note=f"N={n_layers}, d_model {d_model}, d_ff {d_ff}, {h} heads, "
        f"batch {batch} x {seq}, AdamW",
    )


def _gpt_pair(b: Bench, dims: tuple):
    from ..gpt import GPTConfig, reference_gpt

    n_layer, d_model, n_head, block, batch, vocab = dims
    cfg = GPTConfig(
        vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head, d_model=d_model
    )
    torch.manual_seed(0)
    x = torch.randint(0, vocab, (batch, block), device=b.device)  # (batch, seq)
    return cfg, cfg.build().to(b.device).train(), reference_gpt(cfg).to(b.device).train(), x


def _gpt_loss(model, x):
    return model(x, x)[1]


def bench_gpt(b: Bench) -> None:
    """The course's GPT against the same architecture from nn.TransformerEncoderLayer."""
    cfg, ours, ref, x = _gpt_pair(b, b.sizes.gpt)
    for autocast in (False, True) if b.device.type == "cuda" else (False,):
        steps = [_train_step(m, lambda: (x,), _gpt_loss, autocast, b.device) for m in (ours, ref)]
        c, r = b.compare(steps[0], steps[1], number=2)
        b.speed(
            "GPT training" + (" bf16 autocast" if autocast else ""),
            "course",
            "nn.TransformerEncoderLayer",
            c,
            r,
            work=x.numel(),
            unit="tokens/s",
            note=f"{cfg.n_layer} layers, d_model {cfg.d_model}, batch {x.shape[0]} x "
            f"{x.shape[1]}, vocab {cfg.vocab_size}, AdamW",
        )


def bench_kv_cache(b: Bench) -> None:
    """Greedy decoding with the KV cache against recomputing every position."""
    from ..gpt import GPTConfig

    n_layer, d_model, n_head = b.sizes.kv_model
    torch.manual_seed(0)
    model = (
        GPTConfig(
            vocab_size=4700,
            block_size=max(b.sizes.kv_lengths) + 1,
            n_layer=n_layer,
            n_head=n_head,
            d_model=d_model,
        )
        .build()
        .to(b.device)
        .eval()
    )
    start = torch.tensor([[1]], device=b.device)
    for n in b.sizes.kv_lengths:
        cached, plain = (_decode(model, start, n, use_cache) for use_cache in (True, False))
        c, r = b.compare(cached, plain, repeat=3)
        b.speed(
            f"GPT decoding, {n} tokens",
            "KV cache",
            "no cache",
            c,
            r,
            work=n,
            unit="tokens/s",
            note=f"{n_layer} layers, d_model {d_model}, batch 1, greedy",
        )


def bench_gqa(b: Bench) -> None:
    """Llama-style decoding: grouped-query attention against full multi-head, same d_model."""
    from ..llama import LlamaConfig
    from ..model_size import kv_cache_bytes

    layers, hidden, heads, kv_heads, new = b.sizes.llama
    cfgs = [
        LlamaConfig(
            vocab_size=4700,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv,
            intermediate_size=int(8 / 3 * hidden),
            max_position_embeddings=1024,
        )
        for kv in (kv_heads, heads)
    ]
    models = []
    for cfg in cfgs:
        torch.manual_seed(0)
        models.append(cfg.build().to(b.device).eval())
    prompt = torch.randint(0, 4700, (1, 8), device=b.device)
    gqa, mha = (_decode(m, prompt, new, True) for m in models)
    c, r = b.compare(gqa, mha, repeat=3)
    what = f"{layers} layers, hidden {hidden}, {heads} query heads"
    b.speed(
        f"Llama decoding, {new} tokens",
        f"GQA ({kv_heads} kv heads)",
        f"MHA ({heads} kv heads)",
        c,
        r,
        work=new,
        unit="tokens/s",
        note=what,
    )
    kv = [kv_cache_bytes(cfg, context=8 + new, dtype="fp32") for cfg in cfgs]
    b.add(
        Row(
            f"Llama KV cache, {8 + new} tokens",
            "memory",
            f"GQA ({kv_heads} kv heads)",
            f"MHA ({heads} kv heads)",
            kv[0] / 2**20,
            kv[1] / 2**20,
            "MiB",
            kv[0] / kv[1],
            1,
            1,
            "2 x layers x kv heads x head_dim x 4 bytes per token",
        )
    )


def gpt_flops_per_token(model, block: int) -> tuple[float, int]:
    """(training FLOPs per token, N): 6N plus attention's 12·L·d·T, as nanoGPT counts.

    N is every parameter except the position table (a lookup does no arithmetic);
    the token table counts once, as the tied output head's matmul.
    """
    n = sum(p.numel() for p in model.parameters()) - model.wpe.weight.numel()
    c = model.config
    return 6 * n + 12 * c.n_layer * c.d_model * block, n


def bench_mfu(b: Bench) -> None:
    """Model FLOPs utilisation of GPT training: achieved FLOP/s over a matmul's peak."""
    cfg, ours, _, x = _gpt_pair(b, b.sizes.mfu_gpt)
    bf16 = b.device.type == "cuda"
    dtype = torch.bfloat16 if bf16 else torch.float32
    n = b.sizes.peak_n
    a, w = (torch.randn(n, n, device=b.device, dtype=dtype) for _ in range(2))  # (n, n)
    peak_t = time_call(lambda: a @ w, repeat=b.sizes.repeat, number=2, num_threads=b.threads)
    peak = 2 * n**3 / peak_t.median_s
    step = _train_step(ours, lambda: (x,), _gpt_loss, bf16, b.device)
    train_t = time_call(step, repeat=b.sizes.repeat, number=2, num_threads=b.threads)
    per_token, n_params = gpt_flops_per_token(ours, x.shape[1])
    achieved = per_token * x.numel() / train_t.median_s
    kind = "bf16 autocast" if bf16 else "fp32"
    b.add(
        Row(
            "GPT training MFU",
            "utilisation",
            f"GPT training {kind}",
            f"{n}x{n} matmul {kind.split()[0]}",
            achieved / 1e9,
            peak / 1e9,
            "GFLOP/s",
            achieved / peak,
            train_t.repeat,
            train_t.number,
            f"(6N + 12·L·d·T)·tokens/s, N = {n_params:,} (all parameters but the position "
            f"table); {cfg.n_layer} layers, d_model {cfg.d_model}, batch {x.shape[0]} x "
            f"{x.shape[1]}",
        )
    )


BENCHES = (
    bench_word2vec,
    bench_mha,
    bench_attention,
    bench_seq2seq,
    bench_gpt,
    bench_kv_cache,
    bench_gqa,
    bench_mfu,
)


# ---------------------------------------------------------------- running and reporting
def _load() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def environment(device: torch.device, threads: int) -> dict:
    """Device, versions, threads and machine load at the start of the run."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "device": str(device),
        "device_name": name or platform.machine(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": threads,
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15_min": _load(),
    }


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return f"nan {unit}"
    if unit in ("words/s", "tokens/s"):
        return f"{value:,.0f} {unit}"
    if unit == "Spearman":
        return f"{value:.3f}"
    return f"{value:,.{1 if abs(value) >= 10 else 2}f} {unit}"


def format_table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table."""
    head = ("comparison", "candidate", "value", "reference", "value", "ratio", "runs")
    body = [
        (
            r.comparison,
            r.candidate,
            _fmt(r.candidate_value, r.unit),
            r.reference,
            _fmt(r.reference_value, r.unit),
            f"{r.ratio:.2f}x" if r.quantity != "utilisation" else f"{r.ratio:.1%}",
            f"{r.repeat}x{r.number}",
        )
        for r in rows
    ]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [head, *body]
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def run(
    size: str | None = None,
    device: torch.device | None = None,
    threads: int | None = None,
    out: str | Path | None = DEFAULT_OUT,
    benches=BENCHES,
    file=None,
) -> dict:
    """Run the comparisons, print the table, write it as JSON to ``out``; return the result."""
    from .device import get_device

    file = file or sys.stdout
    device = device or get_device()
    size = size or ("gpu" if device.type == "cuda" else "cpu")
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    threads = threads or torch.get_num_threads()
    env = environment(device, threads)
    print(
        f"device {env['device']} ({env['device_name']}), torch {env['torch']}, {threads} "
        f"thread(s) of {env['cpu_count']} CPUs, load average {env['load_average_1_5_15_min']}, "
        f"sizes '{size}'",
        file=file,
        flush=True,
    )
    b = Bench(SIZES[size], device, threads)
    t0, c0 = time.perf_counter(), time.process_time()
    seconds, cpu_seconds = {}, {}
    for fn in benches:
        t, c = time.perf_counter(), time.process_time()
        fn(b)
        seconds[fn.__name__] = round(time.perf_counter() - t, 1)
        cpu_seconds[fn.__name__] = round(time.process_time() - c, 1)
        print(
            f"  {fn.__name__}: {seconds[fn.__name__]:.1f} s "
            f"({cpu_seconds[fn.__name__]:.1f} s of CPU time)",
            file=file,
            flush=True,
        )
    result = {
        **env,
        "size": size,
        "sizes": asdict(SIZES[size]),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,  # on a busy machine, what the run itself used
        "total_seconds": round(time.perf_counter() - t0, 1),
        "total_cpu_seconds": round(time.process_time() - c0, 1),
        "load_average_at_end": _load(),
        "rows": [asdict(r) for r in b.rows],
    }
    print(format_table(b.rows), file=file)
    print(
        f"{result['total_cpu_seconds']:.0f} s of CPU time; load average at the end "
        f"{result['load_average_at_end']}",
        file=file,
    )
    print(
        f"ratio = candidate / reference (speed: > 1 means the course's code is faster; memory: "
        f"< 1 means it needs less); {result['total_seconds']:.0f} s in all",
        file=file,
    )
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written to {path}", file=file)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="JSON file for the table")
    parser.add_argument("--size", choices=sorted(SIZES), help="default: gpu on CUDA, else cpu")
    parser.add_argument("--threads", type=int, help="torch threads (default: all torch uses)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    args = parser.parse_args(argv)
    from .device import get_device

    run(args.size, get_device(args.device), args.threads, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
