"""Make the course's assistant (助手): the committed base model, then SFT, then DPO, saved as
``checkpoints/assistant.pt`` for ``python -m course_utils.serve``::

    python -m course_utils.make_assistant

The recipe is chapter 09's, run longer than the notebook can afford:

1. load the base model (``checkpoints/gpt_base_zh.pt``, made by chapter 07's trainer with
   ``configs/gpt_base_zh.json``) and append the chat markers (``sft.add_chat_tokens``);
2. supervised fine-tuning on the course's instruction set (``instruction_data``), the loss on
   the answers only (``sft.train_sft``);
3. DPO with RPO's NLL term: pairs of the gold answer and a wrong answer that the SFT model
   sampled (``dpo.sample_preference_pairs``, ``dpo.train_dpo``), against the frozen SFT model;
4. exact-match accuracy per task on the held-out prompts after each stage, written into the
   checkpoint's provenance with the recipe, so the file says how it was made and how good it is.

``--quick`` runs a tiny version (a few steps; the tests use it). Every step is seeded: the same
command writes the same weights on the same machine.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .assistant import DEFAULT_ASSISTANT, MAKE_ASSISTANT_COMMAND, save_assistant
from .dpo import DPOConfig, frozen_reference, sample_preference_pairs, train_dpo
from .instruction_data import build_instruction_set
from .sft import SFTConfig, add_chat_tokens, task_accuracy, train_sft
from .tools.checks import instance_of, positive_int
from .tools.device import set_seed
from .tools.progress import progress
from .train_gpt import load_weights

BASE_MODEL = Path(__file__).resolve().parent.parent / "checkpoints" / "gpt_base_zh.pt"


@dataclass
class AssistantRecipe:
    """Data sizes and the two stages' configs."""

    n_train: int = 600  # training examples per task
    n_test: int = 60  # held-out examples per task
    data_seed: int = 0
    sft: SFTConfig = field(default_factory=lambda: SFTConfig(steps=1200, lr=2e-3))
    samples_per_prompt: int = 4  # sampled answers per prompt, to find a wrong one for DPO
    n_dpo_prompts: int = 1000  # training prompts that DPO samples from
    dpo: DPOConfig = field(
        default_factory=lambda: DPOConfig(steps=100, lr=3e-5, beta=0.1, nll_weight=1.0)
    )
    max_new_tokens: int = 16

    def __post_init__(self):
        positive_int("AssistantRecipe.n_train", self.n_train)
        positive_int("AssistantRecipe.n_test", self.n_test)
        positive_int("AssistantRecipe.samples_per_prompt", self.samples_per_prompt)
        positive_int("AssistantRecipe.n_dpo_prompts", self.n_dpo_prompts)
        positive_int("AssistantRecipe.max_new_tokens", self.max_new_tokens)
        instance_of("AssistantRecipe.sft", self.sft, SFTConfig)
        instance_of("AssistantRecipe.dpo", self.dpo, DPOConfig)


QUICK = AssistantRecipe(
    n_train=20,
    n_test=4,
    sft=SFTConfig(steps=4, batch_size=8, warmup=1),
    samples_per_prompt=2,
    n_dpo_prompts=20,
    dpo=DPOConfig(steps=2, batch_size=4, warmup=0, nll_weight=1.0),
)


def _accuracy(model, tok, test, recipe) -> dict[str, list[int]]:
    scores = task_accuracy(model, tok, test, recipe.max_new_tokens)
    return {task: [s.k, s.n] for task, s in scores.items()}


def make_assistant(
    recipe: AssistantRecipe, out: str | Path = DEFAULT_ASSISTANT, base: str | Path = BASE_MODEL
) -> dict:
    """Run the recipe and write the assistant to ``out``; return its provenance."""
    instance_of("recipe", recipe, AssistantRecipe)
    t0 = time.perf_counter()
    set_seed(recipe.data_seed)
    model, base_tok, meta = load_weights(base)
    model, tok = add_chat_tokens(model, base_tok)
    data = build_instruction_set(recipe.n_train, recipe.n_test, seed=recipe.data_seed)
    accuracy = {}
    with progress(total=recipe.sft.steps, desc="SFT") as bar:
        sft_run = train_sft(model, tok, data.train, recipe.sft, progress=bar)
    accuracy["sft"] = _accuracy(model, tok, data.test, recipe)
    prompts = data.train[: recipe.n_dpo_prompts]
    pairs = sample_preference_pairs(
        model, tok, prompts, recipe.samples_per_prompt, recipe.max_new_tokens, seed=0
    )
    if not pairs:
        raise RuntimeError("the SFT model sampled no wrong answer: there is no pair for DPO")
    reference = frozen_reference(model)
    with progress(total=recipe.dpo.steps, desc="DPO") as bar:
        dpo_run = train_dpo(model, reference, tok, pairs, recipe.dpo, progress=bar)
    accuracy["dpo"] = _accuracy(model, tok, data.test, recipe)
    provenance = {
        "command": MAKE_ASSISTANT_COMMAND,
        "base_model": Path(base).name,
        "base_file_sha256": hashlib.sha256(Path(base).read_bytes()).hexdigest(),
        "base_train_steps": meta.get("step"),
        "recipe": asdict(recipe),
        "stages": ["sft", "dpo"],
        "sft_final_loss": round(sft_run["losses"][-1], 4),
        "dpo_pairs": len(pairs),
        "dpo_final_loss": round(dpo_run["loss"][-1], 4),
        "accuracy": accuracy,
        "wall_s": round(time.perf_counter() - t0, 1),
        "torch": str(torch.__version__),
    }
    save_assistant(out, model, tok, provenance)
    return provenance


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m course_utils.make_assistant",
        description="Make the course's assistant: base model -> SFT -> DPO.",
    )
    p.add_argument("--out", default=str(DEFAULT_ASSISTANT), help="where to write it")
    p.add_argument("--base", default=str(BASE_MODEL), help="the exported base model")
    p.add_argument("--quick", action="store_true", help="a tiny run (for tests)")
    args = p.parse_args(argv)
    recipe = QUICK if args.quick else AssistantRecipe()
    prov = make_assistant(recipe, args.out, args.base)
    for stage, scores in prov["accuracy"].items():
        row = "  ".join(f"{task} {k}/{n}" for task, (k, n) in scores.items())
        print(f"{stage:>4}: {row}")
    print(f"wrote {args.out} in {prov['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
