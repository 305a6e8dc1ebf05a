"""Does the ``gpu`` profile fit a 24 GB card? Sizes read from the notebooks, models on ``meta``.

    python -m course_utils.tools.gpu_budget          # one line per notebook with a gpu profile

Each notebook declares its sizes once, in its first code cell
(``SIZES = by_profile(quick=..., default=..., gpu=...)``); ``notebook_sizes``
evaluates that declaration for any profile without running the notebook.
``ESTIMATES`` holds, per notebook, what its largest ``gpu``-profile workload
allocates, built on the ``meta`` device (shapes only, no memory):

* weights, gradients and AdamW state: ``model_size.training_bytes`` (16 bytes per
  parameter: in fp32 that is weights 4 + gradients 4 + two moments 8, the same
  total as chapter 08's mixed-precision count);
* activations: the peak bytes of the tensors created during one forward and
  backward pass at the profile's batch size, counted on ``meta`` by
  ``peak_meta_bytes``. The gradients are created in that pass too, so they are
  counted twice: the total is an upper bound.

The budget is 20 GB (10^9 bytes), which leaves a 24 GB card (RTX 3090/4090)
room for the CUDA context and the allocator's rounding.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..model_size import GB, count_parameters, training_bytes
from .profiles import PROFILES

BUDGET_GB = 20.0
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# Distinct characters in all 19,484 lines of People's Daily: 4,687 (counted with
# corpora.people_daily_text); 5,000 bounds the character vocabularies of chapters 04 and 07.
PEOPLE_DAILY_CHARS_BOUND = 5000


# ---------------------------------------------------------------- sizes from a notebook
def _sizes_source(nb_path: Path) -> tuple[str, str]:
    """(source of the first code cell that calls by_profile, the name it assigns)."""
    cells = json.loads(Path(nb_path).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and "by_profile(" in src:
            lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            return "\n".join(lines), str(nb_path)
    raise ValueError(f"{nb_path} has no code cell calling by_profile(...)")


def notebook_sizes(nb_path: str | Path, profile: str = "gpu"):
    """The sizes a notebook uses in ``profile`` (smoke mode ignored), read from its source.

    Only the sizes dataclass and the ``by_profile`` assignment are evaluated, not
    the rest of the cell.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    src, name = _sizes_source(Path(nb_path))
    tree = ast.parse(src)

    def pick(*, quick, default, gpu=None):
        return {"quick": quick, "default": default}.get(profile, default if gpu is None else gpu)

    keep: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            keep.append(node)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id == "by_profile":
                keep.append(node)
    if not any(isinstance(n, ast.Assign) for n in keep):
        raise ValueError(f"{name}: no `X = by_profile(...)` assignment in its first sizes cell")
    module = ast.Module(body=keep, type_ignores=[])
    namespace = {"dataclass": dataclass, "field": dataclasses.field, "by_profile": pick}
    exec(compile(module, name, "exec"), namespace)  # noqa: S102 -- the course's own notebooks
    target = next(n for n in keep if isinstance(n, ast.Assign)).targets[0]
    if not isinstance(target, ast.Name):
        raise ValueError(f"{name}: by_profile's result must be assigned to a plain name")
    return namespace[target.id]


def has_gpu_sizes(nb_path: str | Path) -> bool:
    """Does the notebook's by_profile call pass ``gpu=``?"""
    src, _ = _sizes_source(Path(nb_path))
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "by_profile":
            return any(k.arg == "gpu" for k in node.keywords)
    return False


# ---------------------------------------------------------------- counting on meta
class _MetaMemoryMeter(TorchDispatchMode):
    """Live and peak bytes of the storages that ops create, on any device including meta."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage id -> [bytes, tensors referring to it]
        self.current = 0
        self.peak = 0

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                self.current -= entry[0]
                del self.live[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage._cdata  # the storage itself: views share it, on meta too
            if key in self.live:
                self.live[key][1] += 1
            else:
                self.live[key] = [storage.nbytes(), 1]
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._release, key)
        return out


def peak_meta_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes of the tensors created while ``fn()`` runs (inputs made before not counted).

    Works on the ``meta`` device, where nothing is allocated: build the model and
    inputs there, and the count is what the same call would hold on a GPU (minus
    the kernels' internal workspaces).
    """
    meter = _MetaMemoryMeter()
    with meter:
        fn()
    return meter.peak


@dataclass(frozen=True)
class Estimate:
    """Memory of one notebook's largest gpu-profile workload."""

    notebook: str
    workload: str
    params: int
    state_bytes: float  # weights + gradients + AdamW moments (0 for inference)
    activation_bytes: float  # peak of the tensors created in one step

    @property
    def total_gb(self) -> float:
        return (self.state_bytes + self.activation_bytes) / GB

    def __str__(self) -> str:
        return (
            f"{self.notebook:<22} {self.total_gb:6.2f} GB  {self.workload} "
            f"({self.params:,} parameters; weights+grads+AdamW {self.state_bytes / GB:.2f} GB, "
            f"activations {self.activation_bytes / GB:.2f} GB)"
        )


def training_estimate(
    notebook: str,
    workload: str,
    build: Callable[[], torch.nn.Module],
    loss: Callable[[torch.nn.Module], torch.Tensor],
) -> Estimate:
    """Build on meta, count parameters, and meter one forward + backward of ``loss(model)``."""
    with torch.device("meta"):
        model = build()
    n = count_parameters(model)

    def step():
        loss(model).backward()

    return Estimate(notebook, workload, n, training_bytes(n), peak_meta_bytes(step))


def _meta_long(*shape: int) -> torch.Tensor:
    return torch.zeros(*shape, dtype=torch.long, device="meta")


# ---------------------------------------------------------------- per notebook
def _env(sizes) -> Estimate:
    n = max(sizes.sizes)
    # (n, n) @ (n, n) in float32: two inputs and the product
    return Estimate("00_environment", f"matmul {n}x{n} fp32", 0, 0.0, 3 * n * n * 4)


def _elmo(sizes) -> Estimate:
    from ..elmo import ElmoConfig

    cfg = ElmoConfig(
        vocab_size=sizes.max_words + 4,
        n_chars=PEOPLE_DAILY_CHARS_BOUND + 6,
        hidden_dim=sizes.hidden_dim,
        proj_dim=sizes.proj_dim,
    )
    seq = 40 + 2  # split_sentences keeps at most 40 words, plus <bos> and <eos>

    def loss(model):
        char_ids = _meta_long(sizes.batch_size, seq, cfg.max_chars)
        mask = torch.ones(sizes.batch_size, seq, dtype=torch.bool, device="meta")
        fwd, bwd = model.lm_loss(char_ids, mask, _meta_long(sizes.batch_size, seq))
        return (fwd + bwd) / 2

    return training_estimate(
        "04_elmo", f"biLM training, batch {sizes.batch_size} x {seq} words", cfg.build, loss
    )


def _attention(sizes) -> Estimate:
    from ..attention import attention

    n, h, d_k = max(sizes.cost_lengths), sizes.cost_heads, 64
    q, k, v = (torch.empty(1, h, n, d_k, device="meta") for _ in range(3))  # (1, h, n, d_k)
    inputs = 3 * q.numel() * 4
    peak = peak_meta_bytes(lambda: attention(q, k, v))
    return Estimate(
        "05_self_attention",
        f"hand-written attention, n={n}, {h} heads, fp32",
        0,
        0.0,
        inputs + peak,
    )


def _gpt(sizes) -> Estimate:
    from ..train_gpt import TrainConfig

    tc = TrainConfig(
        d_model=sizes.d_model,
        n_layer=sizes.n_layer,
        n_head=4,
        block_size=sizes.block_size,
        batch_size=max(sizes.main_batch_size, sizes.batch_size),
    )
    cfg = tc.model_config(PEOPLE_DAILY_CHARS_BOUND)

    def loss(model):
        x = _meta_long(tc.batch_size, tc.block_size)  # (batch, seq)
        return model(x, x)[1]

    return training_estimate(
        "07_gpt",
        f"GPT training, d_model {cfg.d_model}, {cfg.n_layer} layers, "
        f"batch {tc.batch_size} x {tc.block_size}",
        cfg.build,
        loss,
    )


def _gpt_compared(sizes) -> Estimate:
    from ..gpt import GPTConfig

    cfg = GPTConfig(
        vocab_size=PEOPLE_DAILY_CHARS_BOUND,  # one vocabulary over news and reviews
        block_size=sizes.lm_block,
        n_layer=sizes.lm_layers,
        n_head=max(1, sizes.lm_d_model // 16),
        d_model=sizes.lm_d_model,
        tie_weights=False,
    )

    def loss(model):
        x = _meta_long(sizes.lm_batch, sizes.lm_block)  # (batch, seq)
        return model(x, x)[1]

    return training_estimate(
        "07b_gpt_compared",
        f"language-model training, d_model {cfg.d_model}, {cfg.n_layer} layers, "
        f"batch {sizes.lm_batch} x {sizes.lm_block}",
        cfg.build,
        loss,
    )


def _assistant(sizes) -> Estimate:
    from ..chat_template import MARKERS
    from ..gpt import GPTConfig

    base = json.loads((NOTEBOOKS.parent / "configs" / "gpt_base_zh.json").read_text())
    cfg = GPTConfig(
        vocab_size=PEOPLE_DAILY_CHARS_BOUND + len(MARKERS),  # the base's characters + markers
        block_size=base["block_size"],
        n_layer=base["n_layer"],
        n_head=base["n_head"],
        d_model=base["d_model"],
    )

    def loss(model):
        x = _meta_long(sizes.sft_batch, cfg.block_size)  # (batch, seq): the longest SFT batch
        return model(x, x)[1]

    return training_estimate(
        "09_assistant",
        f"SFT of the base GPT, d_model {cfg.d_model}, {cfg.n_layer} layers, "
        f"batch {sizes.sft_batch} x {cfg.block_size}",
        cfg.build,
        loss,
    )


def _llama(sizes) -> Estimate:
    from ..llama import tiny_config

    w = sizes.demo_width
    cfg = tiny_config(
        "qwen2-7b",
        hidden_size=w,
        num_hidden_layers=sizes.demo_layers,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=w // 8,
        intermediate_size=2 * w,
        max_position_embeddings=1024,
    )
    with torch.device("meta"):
        model = cfg.build().eval()
    n = count_parameters(model)
    seq = 8 + sizes.new_tokens  # the prompt plus every generated token, without a cache

    def forward():
        with torch.no_grad():
            model(_meta_long(1, seq))

    return Estimate(
        "08_open_models",
        f"Llama-style forward over {seq} tokens (no cache), fp32",
        n,
        n * 4.0,
        peak_meta_bytes(forward),
    )


ESTIMATES: dict[str, Callable[[object], Estimate]] = {
    "00_environment": _env,
    "04_elmo": _elmo,
    "05_self_attention": _attention,
    "07_gpt": _gpt,
    "07b_gpt_compared": _gpt_compared,
    "08_open_models": _llama,
    "09_assistant": _assistant,
}


def estimate(nb_path: str | Path) -> Estimate:
    """The memory estimate of one notebook in the gpu profile."""
    stem = Path(nb_path).stem.split(".")[0]  # a translation (NN_name.zh) shares the sizes
    if stem not in ESTIMATES:
        raise KeyError(f"no memory estimate for {stem}; add one to ESTIMATES in {__name__}")
    return ESTIMATES[stem](notebook_sizes(nb_path, "gpu"))


def main(argv: list[str] | None = None) -> int:
    from .gpu_check import course_notebooks

    paths = [Path(p) for p in (argv or sys.argv[1:])] or course_notebooks()
    worst = 0.0
    for p in paths:
        if not has_gpu_sizes(p):
            print(f"{p.stem:<22} (no gpu sizes: runs its default sizes)")
            continue
        e = estimate(p)
        worst = max(worst, e.total_gb)
        print(e)
    print(f"largest: {worst:.2f} GB of a {BUDGET_GB:.0f} GB budget")
    return 0 if worst <= BUDGET_GB else 1


if __name__ == "__main__":
    sys.exit(main())
