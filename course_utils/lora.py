"""LoRA (Hu et al. 2021), written out: a frozen weight W plus a trainable low-rank update,

    h = W x + (alpha / r) * B A x,    A: (r, d_in), B: (d_out, r),

with A drawn like an ``nn.Linear`` weight and B = 0, so training starts from the pre-trained
function exactly. A layer of d_in inputs and d_out outputs trains r * (d_in + d_out) numbers
instead of d_in * d_out. After training the update folds into the weight,
W' = W + (alpha / r) B A, and the model is an ordinary one again (``merge_lora``).

The names (``lora_A``, ``lora_B``, ``scaling``, targets matched by name suffix) follow
Hugging Face ``peft``. The memory arithmetic at the end uses chapter 08's calculator
(``course_utils.model_size``) to compare full fine-tuning, LoRA and QLoRA (Dettmers et al.
2023: the frozen base in 4 bits) on a 7B Llama.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .model_size import ADAMW_MIXED_PRECISION_BYTES, BYTES_PER_PARAM, count_parameters
from .tools.checks import finite_number, instance_of, non_empty, positive_int, probability

# The course GPT's linear layers: attention's W_Q, W_K, W_V, W_O, then the MLP's w_1 and w_2.
GPT_TARGETS = ("linears.0", "linears.1", "linears.2", "linears.3", "w_1", "w_2")
# Llama's (and course_utils.llama's) linear layers in each decoder layer.
LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# QLoRA's NF4 with double quantisation: 4 bits per weight, plus an 8-bit scale per block of 64
# weights and an fp32 scale per 256 of those scales (Dettmers et al. 2023, section 3).
QLORA_BITS_PER_PARAM = 4 + 8 / 64 + 32 / (64 * 256)


class LoRALinear(nn.Module):
    """An ``nn.Linear`` with a frozen weight and a trainable update B A scaled by alpha / r."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        instance_of("base", base, nn.Linear)
        positive_int("r", r)
        finite_number("alpha", alpha, low=0, low_inclusive=False)
        probability("dropout", dropout, allow_one=False)
        self.base = base.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        w = base.weight
        self.lora_A = nn.Parameter(
            torch.empty(r, base.in_features, device=w.device, dtype=w.dtype)
        )  # (r, d_in)
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype)
        )  # (d_out, r)
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear and peft draw it
        self.dropout = nn.Dropout(dropout)  # on the update's input only, as in peft

    def forward(self, x):  # x: (..., d_in)
        update = self.dropout(x) @ self.lora_A.T @ self.lora_B.T  # (..., d_out)
        return self.base(x) + update * self.scaling  # (..., d_out)

    def merge(self) -> nn.Linear:
        """The base layer with W + (alpha / r) B A folded in (it stays frozen)."""
        with torch.no_grad():
            self.base.weight += self.scaling * self.lora_B @ self.lora_A  # (d_out, d_in)
        return self.base

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}"


def _matches(name: str, targets: tuple[str, ...]) -> bool:
    """peft's rule: the module's name is a target, or ends with "." + a target."""
    return any(name == t or name.endswith("." + t) for t in targets)


def apply_lora(
    model: nn.Module, r: int, alpha: float, targets=GPT_TARGETS, dropout: float = 0.0
) -> list[str]:
    """Freeze every parameter of ``model``, then wrap each target ``nn.Linear`` in a
    ``LoRALinear`` (in place). Returns the names of the wrapped layers."""
    instance_of("model", model, nn.Module)
    targets = tuple(non_empty("targets", [targets] if isinstance(targets, str) else targets))
    positive_int("r", r)
    finite_number("alpha", alpha, low=0, low_inclusive=False)
    hits = [(n, m) for n, m in model.named_modules() if n and _matches(n, targets)]
    if not hits:
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise ValueError(f"no module matches targets {targets}; the nn.Linear layers: {linears}")
    for name, module in hits:
        if not isinstance(module, nn.Linear):
            raise TypeError(f"target {name!r} is a {type(module).__name__}, not an nn.Linear")
    model.requires_grad_(False)
    for name, module in hits:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(module, r, alpha, dropout))
    return [name for name, _ in hits]


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every ``LoRALinear`` by its base with the update folded in (in place).

    The merged model computes what the LoRA model did (up to float rounding) with no extra
    cost per token. Its parameters stay frozen, as after peft's ``merge_and_unload``.
    """
    wrapped = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    if not wrapped:
        raise ValueError("the model has no LoRALinear layer to merge (apply_lora adds them)")
    for name in wrapped:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, getattr(parent, child).merge())
    return model


def trainable_parameters(model: nn.Module) -> int:
    """Parameters that receive gradients (a tied tensor counted once)."""
    return count_parameters(model, trainable_only=True)


def lora_parameters(d_in: int, d_out: int, r: int) -> int:
    """What LoRA trains in one d_in -> d_out layer: A (r, d_in) and B (d_out, r)."""
    return positive_int("r", r) * (positive_int("d_in", d_in) + positive_int("d_out", d_out))


# ---------------------------------------------------------------- memory


def adam_state_bytes(n_trainable: int, bytes_per_value: float = 4) -> float:
    """Adam's two moments (m and v) per trainable parameter, in fp32 by default."""
    return 2 * n_trainable * bytes_per_value


@dataclass(frozen=True)
class TrainingMemory:
    """One way to fine-tune a model, in bytes; activations are not counted."""

    method: str
    params: int  # every parameter of the model (the LoRA update included)
    trainable: int
    weight_bytes: float  # the frozen base weights, at whatever precision they are kept
    training_bytes: float  # the trained parameters' weights, gradients, master copy, Adam state

    @property
    def total_bytes(self) -> float:
        return self.weight_bytes + self.training_bytes


def finetune_memory(config, r: int = 16, targets=LLAMA_TARGETS) -> list[TrainingMemory]:
    """Training memory of full fine-tuning, LoRA and QLoRA for a course config (e.g.
    ``LLAMA_PRESETS["llama-2-7b"]``), counted on a model built on the meta device.

    A trained parameter costs model_size's 16 bytes (mixed-precision AdamW: bf16 weight and
    gradient, fp32 master weight, Adam's two fp32 moments). A frozen one costs its weight only:
    2 bytes in bf16; in QLoRA, every linear layer but the output head is 4-bit NF4
    (``QLORA_BITS_PER_PARAM``) and the rest stays bf16.
    """
    positive_int("r", r)
    with torch.device("meta"):
        model = config.build()
    n = count_parameters(model)
    apply_lora(model, r, alpha=r, targets=targets)  # alpha changes no size
    n_lora = trainable_parameters(model)
    quantised = sum(
        m.weight.numel()
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and not name.endswith("lm_head")
    )
    bf16, trained = BYTES_PER_PARAM["bf16"], ADAMW_MIXED_PRECISION_BYTES
    base_4bit = quantised * QLORA_BITS_PER_PARAM / 8 + (n - quantised) * bf16
    return [
        TrainingMemory("full fine-tuning", n, n, 0.0, n * trained),
        TrainingMemory("LoRA", n + n_lora, n_lora, n * bf16, n_lora * trained),
        TrainingMemory("QLoRA", n + n_lora, n_lora, base_4bit, n_lora * trained),
    ]
