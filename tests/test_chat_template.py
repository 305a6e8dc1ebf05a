"""course_utils.chat_template: exact strings, the loss mask on the assistant's tokens only, and
clear errors for conversations the template cannot render."""

import pytest
import torch
import torch.nn.functional as F

from course_utils.chat_template import (
    END,
    IGNORE_INDEX,
    MARKERS,
    ChatTokenizer,
    apply_chat_template,
    encode_chat,
    masked_lm_loss,
    pad_sft_batch,
    role_marker,
    sft_example,
)
from course_utils.gpt_compared import new_gpt
from course_utils.vocab import CharTokenizer

TOK = ChatTokenizer.from_texts(["把一九九八写成中文数字:１９９８你是助手好的"])
QA = [
    {"role": "user", "content": "把１９９８写成中文"},
    {"role": "assistant", "content": "一九九八"},
]


def ids(text: str) -> list[int]:
    return [TOK.stoi[c] for c in text]


def test_markers_and_role_marker():
    assert MARKERS == ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
    assert END == "<|end|>" and IGNORE_INDEX == -100
    assert role_marker("user") == "<|user|>"
    with pytest.raises(ValueError, match="role must be one of"):
        role_marker("bot")


def test_apply_chat_template_exact_strings():
    assert (
        apply_chat_template(QA) == "<|user|>把１９９８写成中文<|end|><|assistant|>一九九八<|end|>"
    )
    assert (
        apply_chat_template(QA[:1], add_generation_prompt=True)
        == "<|user|>把１９９８写成中文<|end|><|assistant|>"
    )
    system = [{"role": "system", "content": "你是助手"}, *QA]
    assert apply_chat_template(system) == "<|system|>你是助手<|end|>" + apply_chat_template(QA)
    multi = [*QA, {"role": "user", "content": "好"}]
    assert apply_chat_template(multi, add_generation_prompt=True).endswith(
        "一九九八<|end|><|user|>好<|end|><|assistant|>"
    )


def test_chat_tokenizer_markers_are_single_tokens():
    assert ChatTokenizer.from_texts(["ba", "c"]).itos == ["<unk>", *MARKERS, "\n", "a", "b", "c"]
    assert TOK.itos[:5] == ["<unk>", *MARKERS]
    assert TOK.encode("<|user|>好<|end|>") == [2, TOK.stoi["好"], 4]
    assert TOK.encode("好<") == [TOK.stoi["好"], 0]  # a lone "<" is an unknown character
    assert TOK.encode(["<|end|>", "好"]) == [4, TOK.stoi["好"]]  # a list of tokens as Vocab's
    assert TOK.decode(TOK.encode(apply_chat_template(QA))) == apply_chat_template(QA)
    restored = ChatTokenizer(TOK.itos)  # from a checkpoint's itos
    assert restored.encode(apply_chat_template(QA)) == TOK.encode(apply_chat_template(QA))
    with pytest.raises(ValueError, match=r"missing \['<\|system\|>'"):
        ChatTokenizer(["<unk>", "<|user|>", "<|assistant|>", "<|end|>", "好"])


def test_encode_chat_ids_and_mask():
    x, mask = encode_chat(TOK, QA, block_size=64)
    assert x == [2, *ids("把１９９８写成中文"), 4, 3, *ids("一九九八"), 4]
    # 1 on the answer and its <|end|>; 0 on the markers and on the user's words
    assert mask == [0] * 11 + [0] + [1] * 5
    assert x == TOK.encode(apply_chat_template(QA))  # the string and the ids agree


def test_encode_chat_masks_every_assistant_turn_and_no_other():
    conv = [
        {"role": "system", "content": "你是助手"},
        {"role": "user", "content": "好"},
        {"role": "assistant", "content": "好的"},
        {"role": "user", "content": "一"},
        {"role": "assistant", "content": "九"},
    ]
    x, mask = encode_chat(TOK, conv, block_size=64)
    assert x == TOK.encode(apply_chat_template(conv))
    want = [0] * 6 + [0] * 3 + [0] + [1, 1, 1] + [0] * 3 + [0] + [1, 1]
    assert mask == want
    assert TOK.decode(t for t, m in zip(x, mask) if m) == "好的<|end|>九<|end|>"


def test_encode_chat_takes_any_tokenizer_with_encode():
    """A tokenizer without ``unk_index`` (a Hugging Face one has ``unk_token_id``) works too."""

    class Bytes:
        def encode(self, text):
            return list(text.encode())  # a marker is 7 to 13 ids here, the same every time

    x, mask = encode_chat(Bytes(), QA[:1] + [{"role": "assistant", "content": "ok"}], 64)
    assert bytes(x).decode() == "<|user|>把１９９８写成中文<|end|><|assistant|>ok<|end|>"
    assert bytes(t for t, m in zip(x, mask) if m).decode() == "ok<|end|>"


def test_sft_example_prompt_tokens_carry_no_loss():
    x, y = sft_example(TOK, QA, block_size=64)
    full, mask = encode_chat(TOK, QA, block_size=64)
    assert x == full[:-1] and len(y) == len(x)
    n_prompt = 12  # <|user|>, 9 characters, <|end|>, <|assistant|>
    assert y[: n_prompt - 1] == [IGNORE_INDEX] * (n_prompt - 1)  # targets x[1:12]: the prompt
    assert y[n_prompt - 1 :] == [*ids("一九九八"), 4]  # the answer and its <|end|>
    assert [t != IGNORE_INDEX for t in y] == [bool(m) for m in mask[1:]]


def test_block_size_boundary():
    n = len(encode_chat(TOK, QA, block_size=64)[0])  # 16 tokens
    x, _ = sft_example(TOK, QA, block_size=n - 1)  # inputs fill the context exactly
    assert len(x) == n - 1
    with pytest.raises(
        ValueError,
        match=rf"{n} tokens long \(5 of them the assistant's\).*block_size {n - 2} trains on at most {n - 1}",
    ):
        encode_chat(TOK, QA, block_size=n - 2)


def test_pad_sft_batch():
    a = sft_example(TOK, QA, 64)
    b = sft_example(
        TOK, [{"role": "user", "content": "好"}, {"role": "assistant", "content": "九"}], 64
    )
    x, y = pad_sft_batch([a, b], pad_id=7)
    assert x.shape == y.shape == (2, len(a[0])) and x.dtype == y.dtype == torch.long
    assert x[1].tolist() == b[0] + [7] * (len(a[0]) - len(b[0]))
    assert y[1].tolist() == b[1] + [IGNORE_INDEX] * (len(a[0]) - len(b[0]))
    assert x[0].tolist() == a[0] and y[0].tolist() == a[1]
    assert pad_sft_batch([b])[0].tolist() == [b[0]]
    assert pad_sft_batch([a, b])[0][1, -1] == 0  # the default pad id: <unk>, never a target
    with pytest.raises(ValueError, match="2 inputs and 1 targets"):
        pad_sft_batch([([1, 2], [3])])


class FixedLogits(torch.nn.Module):
    """A 'model' whose logits are a parameter, to read the loss's gradient per position."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(logits)

    def forward(self, idx):
        return self.logits, None


def test_masked_lm_loss_is_the_mean_over_answer_tokens_only():
    g = torch.Generator().manual_seed(0)
    x, y = pad_sft_batch(
        [sft_example(TOK, QA, 64), sft_example(TOK, QA[:1] + [QA[1] | {"content": "九"}], 64)]
    )
    model = FixedLogits(torch.randn(*x.shape, len(TOK), generator=g))
    loss = masked_lm_loss(model, x, y)
    logp = F.log_softmax(model.logits.detach(), dim=-1)
    terms = [-logp[b, t, y[b, t]] for b in range(2) for t in range(x.size(1)) if y[b, t] >= 0]
    assert len(terms) == 5 + 2
    torch.testing.assert_close(loss.detach(), torch.stack(terms).mean())
    loss.backward()
    prompt = y == IGNORE_INDEX  # (batch, seq)
    assert model.logits.grad[prompt].abs().max() == 0  # prompt tokens carry no loss
    assert (model.logits.grad[~prompt].abs().sum(-1) > 0).all()


def test_masked_lm_loss_on_a_gpt_equals_its_own_loss_with_ignore_index():
    model = new_gpt(len(TOK), 16, 1, 32, seed=0).eval()
    x, y = pad_sft_batch([sft_example(TOK, QA, 32)])
    torch.testing.assert_close(masked_lm_loss(model, x, y), model(x, y)[1])


@pytest.mark.parametrize(
    "messages, error, match",
    [
        ([], ValueError, "messages must not be empty"),
        ("把１９９８写成中文", TypeError, "messages must be a list"),
        ([{"role": "user"}], TypeError, r"messages\[0\] must be a dict with 'role' and 'content'"),
        (
            [{"role": "user", "content": ""}],
            ValueError,
            r"messages\[0\] \(user\) has empty content",
        ),
        ([{"role": "user", "content": "  \n"}], ValueError, "has empty content"),
        ([{"role": "user", "content": 5}], TypeError, r"messages\[0\]\['content'\] must be a str"),
        (
            [{"role": "bot", "content": "好"}],
            ValueError,
            r"messages\[0\]\['role'\] must be one of 'system', 'user', 'assistant'; got 'bot'",
        ),
        (
            [{"role": "user", "content": "好<|end|>"}],
            ValueError,
            r"contains the marker '<\|end\|>'",
        ),
        (
            [{"role": "assistant", "content": "好"}],
            ValueError,
            r"messages\[0\] is 'assistant' where 'user' was expected",
        ),
        ([*QA, QA[1]], ValueError, r"messages\[2\] is 'assistant' where 'user' was expected"),
        ([QA[0], {"role": "system", "content": "好"}], ValueError, r"messages\[1\] is 'system'"),
    ],
)
def test_bad_conversations(messages, error, match):
    with pytest.raises(error, match=match):
        apply_chat_template(messages)
    with pytest.raises(error, match=match):
        encode_chat(TOK, messages, 64)


def test_generation_prompt_after_an_assistant_turn():
    with pytest.raises(ValueError, match="after an assistant turn"):
        apply_chat_template(QA, add_generation_prompt=True)
    with pytest.raises(TypeError, match="add_generation_prompt must be a bool"):
        apply_chat_template(QA[:1], add_generation_prompt="yes")


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="no assistant message"):
        sft_example(TOK, QA[:1], 64)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        encode_chat(TOK, QA, 0)
    plain = CharTokenizer.from_texts(["好"])
    with pytest.raises(ValueError, match=r"no token for the marker '<\|end\|>'.*ChatTokenizer"):
        encode_chat(plain, QA, 64)
    x = torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="no answer token"):
        masked_lm_loss(FixedLogits(torch.zeros(1, 4, 3)), x, torch.full((1, 4), IGNORE_INDEX))
    with pytest.raises(ValueError, match="y must have shape"):
        masked_lm_loss(FixedLogits(torch.zeros(1, 4, 3)), x, torch.zeros(1, 3, dtype=torch.long))
