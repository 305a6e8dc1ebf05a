"""Self-checks for chapter 09's exercises: answer-only targets, the DPO loss, LoRA's size."""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from ..chat_template import IGNORE_INDEX, ChatTokenizer, encode_chat, sft_example
from ..dpo import dpo_loss
from ..gpt import GPTConfig
from ..lora import GPT_TARGETS, apply_lora, trainable_parameters
from ..model_size import count_parameters
from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close, expect_equal, expect_type

# ---------------------------------------------------------------- Exercise 1

CONVERSATIONS = {
    "one exchange": [
        {"role": "user", "content": "一加一等于几？"},
        {"role": "assistant", "content": "二。"},
    ],
    "a system message": [
        {"role": "system", "content": "你是一个简洁的助手。"},
        {"role": "user", "content": "把“你好”倒过来写。"},
        {"role": "assistant", "content": "好你"},
    ],
    "two turns": [
        {"role": "system", "content": "回答要短。"},
        {"role": "user", "content": "中国的首都是哪里？"},
        {"role": "assistant", "content": "北京。"},
        {"role": "user", "content": "那上海呢？"},
        {"role": "assistant", "content": "上海不是首都。"},
    ],
}
BLOCK_SIZE = 128


def _ints(value, what: str) -> list[int]:
    """A list, tuple or 1-D tensor of ints as a list of Python ints."""
    if isinstance(value, torch.Tensor):
        expect(value.dim() == 1, f"{what}: expected a 1-D tensor, got shape {tuple(value.shape)}")
        value = value.tolist()
    expect_type(value, (list, tuple), what)
    expect(
        all(isinstance(v, numbers.Integral) for v in value),
        f"{what}: expected token ids (ints), got {[type(v).__name__ for v in value][:3]}...",
    )
    return [int(v) for v in value]


def _target_hint(ids: list[int], mask: list[int], y: list[int]) -> str:
    """What a wrong ``y`` most likely did."""
    if y == [t if m else IGNORE_INDEX for t, m in zip(ids[1:], mask[:-1])]:
        return (
            "you masked with the input's mask (mask[:-1]); a target is kept when the token it "
            "names, ids[t + 1], is the assistant's: use mask[1:]"
        )
    if y == [t if m else IGNORE_INDEX for t, m in zip(ids[:-1], mask[:-1])]:
        return "y must be shifted by one: the target at position t is ids[t + 1]"
    if y == ids[1:]:
        return f"put IGNORE_INDEX ({IGNORE_INDEX}) wherever the target's mask is 0"
    if y == [t if m else 0 for t, m in zip(ids[1:], mask[1:])]:
        return (
            f"use IGNORE_INDEX ({IGNORE_INDEX}), not 0: token 0 is a real token (<unk>) and "
            f"cross_entropy skips only targets equal to its ignore_index, {IGNORE_INDEX}"
        )
    return (
        f"y[t] = ids[t + 1] if mask[t + 1] == 1 else IGNORE_INDEX ({IGNORE_INDEX}); "
        "the 1s of the mask are the assistant's words and each answer's <|end|>"
    )


@exercise("Exercise 1: answer-only targets")
def check_answer_targets(answer_targets):
    tokenizer = ChatTokenizer.from_texts(
        [m["content"] for msgs in CONVERSATIONS.values() for m in msgs]
    )
    for name, messages in CONVERSATIONS.items():
        ids, mask = encode_chat(tokenizer, messages, BLOCK_SIZE)
        want_x, want_y = sft_example(tokenizer, messages, BLOCK_SIZE)
        got = answer_targets(list(ids), list(mask))
        expect(
            isinstance(got, tuple | list) and len(got) == 2,
            f"answer_targets(ids, mask) on {name}: expected a pair (x, y), "
            f"got {type(got).__name__}",
        )
        x, y = _ints(got[0], f"x for {name}"), _ints(got[1], f"y for {name}")
        expect_equal(
            len(x),
            len(ids) - 1,
            f"len(x) for {name} ({len(ids)} tokens)",
            hint="the inputs are every token but the last, x = ids[:-1]: the last token has "
            "nothing after it to predict",
        )
        expect_equal(
            x, want_x, f"x for {name}", hint="x = ids[:-1], the tokens unchanged (no masking)"
        )
        expect_equal(
            len(y),
            len(x),
            f"len(y) for {name}",
            hint="one target per input: y is ids shifted by one, ids[1:], then masked",
        )
        if y != want_y:
            raise CheckFailed(
                f"y for {name}: expected {want_y}, got {y}. Hint: {_target_hint(ids, mask, y)}"
            )
    _, y = sft_example(tokenizer, CONVERSATIONS["two turns"], BLOCK_SIZE)
    kept = sum(t != IGNORE_INDEX for t in y)
    return (
        f"in the two-turn conversation {kept} of {len(y)} targets carry loss: the two "
        "answers and their <|end|>, as in course_utils.chat_template.sft_example"
    )


# ---------------------------------------------------------------- Exercise 2


def _dpo_cases() -> list[tuple[str, tuple[torch.Tensor, ...], float]]:
    fixed = (
        torch.tensor([-5.0, -3.0, -10.0, -7.0]),  # policy, chosen answers
        torch.tensor([-6.0, -2.0, -10.0, -4.0]),  # policy, rejected answers
        torch.tensor([-5.5, -3.0, -9.0, -7.0]),  # reference, chosen
        torch.tensor([-5.5, -2.5, -11.0, -7.0]),  # reference, rejected
    )
    g = torch.Generator().manual_seed(0)
    random = tuple(-20 * torch.rand(8, generator=g) for _ in range(4))
    return [
        ("fixed log-probabilities, beta=0.1", fixed, 0.1),
        ("fixed log-probabilities, beta=1.0", fixed, 1.0),
        ("8 random pairs, beta=0.5", random, 0.5),
    ]


def _dpo_hint(got: torch.Tensor, pc, pr, rc, rr, beta: float) -> str:
    """What a wrong per-pair loss most likely did."""
    margin = (pc - rc) - (pr - rr)  # (batch,)
    candidates = [
        (
            -F.logsigmoid(-beta * margin),
            "the sign of the margin is flipped: the chosen answer's reward comes first, "
            "(pc - rc) - (pr - rr)",
        ),
        (
            F.logsigmoid(beta * margin),
            "the loss is MINUS log sigmoid: -log sigmoid(beta * margin) is positive",
        ),
        (-F.logsigmoid(margin), "multiply the margin by beta"),
        (
            -F.logsigmoid(beta * ((pc - pr) - (rc + rr))),
            "the margin is (pc - rc) - (pr - rr): subtract the reference from the policy, "
            "for each answer",
        ),
    ]
    for value, hint in candidates:
        if got.shape == value.shape and torch.allclose(got, value, rtol=1e-4, atol=1e-6):
            return hint
    return (
        "loss = -log sigmoid(beta * ((pc - rc) - (pr - rr))), per pair "
        "(F.logsigmoid is the stable log sigmoid)"
    )


@exercise("Exercise 2: the DPO loss")
def check_dpo_loss(my_dpo_loss):
    for what, inputs, beta in _dpo_cases():
        got = my_dpo_loss(*(t.clone() for t in inputs), beta)
        expect_type(got, torch.Tensor, f"my_dpo_loss on {what}")
        expect_equal(
            tuple(got.shape),
            tuple(inputs[0].shape),
            f"shape of my_dpo_loss on {what}",
            hint="return one loss per pair, shape (batch,); the training loop takes the mean",
        )
        want = dpo_loss(*inputs, beta).loss  # (batch,)
        expect_close(
            got.detach().float(),
            want,
            f"my_dpo_loss on {what}",
            hint=_dpo_hint(got.detach().float(), *inputs, beta),
        )
    same = torch.tensor([-3.0, -12.5, -40.0])  # policy = reference: every reward is 0
    pc = same.clone().requires_grad_(True)
    at_start = my_dpo_loss(pc, same - 1, same.clone(), same - 1, 0.1)
    expect_close(
        at_start.detach().float(),
        torch.full((3,), math.log(2)),
        "my_dpo_loss when the policy equals the reference",
        hint="both rewards are 0, so the loss is -log sigmoid(0) = log 2",
    )
    expect(
        at_start.requires_grad,
        "my_dpo_loss must keep the computation graph: use torch operations on the tensors "
        "(no .item(), no math.log), so that loss.backward() reaches the policy",
    )
    return (
        "at the start (policy = reference) every pair costs log 2 = 0.693; the loss falls as "
        "the chosen answer's reward rises above the rejected one's"
    )


# ---------------------------------------------------------------- Exercise 3

BASE_CONFIG = GPTConfig(  # chapter 09's base (configs/gpt_base_zh.json) with the four markers
    vocab_size=4564, block_size=128, n_layer=4, n_head=4, d_model=128, tie_weights=False
)
LORA_CONFIGS = (
    ("the chapter's base model", BASE_CONFIG),
    (
        "a GPT with d_ff = 80",
        GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=2, d_model=48, d_ff=80),
    ),
    (
        "a GPT of 6 layers without biases",
        GPTConfig(vocab_size=300, block_size=64, n_layer=6, n_head=4, d_model=64, bias=False),
    ),
)


def lora_count(config: GPTConfig, r: int) -> int:
    """Trainable parameters after ``apply_lora(model, r, targets=GPT_TARGETS)``, counted on a
    model built on the meta device (no memory)."""
    with torch.device("meta"):
        model = config.build()
    apply_lora(model, r=r, alpha=2 * r, targets=GPT_TARGETS)
    return trainable_parameters(model)


def _lora_hint(got: int, config: GPTConfig, r: int) -> str:
    """What a wrong count most likely did."""
    d, f, n = config.d_model, config.d_ff, config.n_layer
    attention, mlp = 4 * r * (d + d), 2 * r * (d + f)
    candidates = [
        (n * (4 * d * d + 2 * d * f), "LoRA trains A and B, not the d_in x d_out matrix"),
        (n * (attention + 2 * r * (d + 4 * d)), "use config.d_ff: it is not always 4 * d_model"),
        (n * attention, "GPT_TARGETS also wraps the MLP's w_1 (d_model -> d_ff) and w_2"),
        (attention + mlp, "every one of the n_layer blocks has its own six wrapped layers"),
        (
            n * (attention + mlp) + r * (d + config.vocab_size),
            "the output head lm_head is not in GPT_TARGETS: it stays frozen",
        ),
        (n * (attention + mlp) // r, "multiply by r: A is (r, d_in) and B is (d_out, r)"),
    ]
    for value, hint in candidates:
        if got == value:
            return hint
    return (
        "per wrapped nn.Linear of d_in inputs and d_out outputs, r * (d_in + d_out); each block "
        "has W_Q, W_K, W_V, W_O (d_model -> d_model), w_1 (d_model -> d_ff), w_2 (d_ff -> d_model)"
    )


@exercise("Exercise 3: the parameters LoRA trains")
def check_lora_parameters(lora_parameters):
    for name, config in LORA_CONFIGS:
        for r in (1, 4, 8):
            got = lora_parameters(GPTConfig(**config.to_dict()), r)
            what = f"lora_parameters for {name}, r={r}"
            expect_type(got, int, what)
            want = lora_count(config, r)
            if got != want:
                raise CheckFailed(
                    f"{what}: expected {want:,}, got {got:,}. Hint: {_lora_hint(got, config, r)}"
                )
    n_lora = lora_count(BASE_CONFIG, 8)
    total = count_parameters(BASE_CONFIG)
    return (
        f"with r=8 LoRA trains {n_lora:,} numbers, {n_lora / total:.1%} of the base model's "
        f"{total:,} (each wrapped layer d_in x d_out trains r * (d_in + d_out))"
    )
