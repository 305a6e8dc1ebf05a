"""Shared fixtures of the unit tests: a tiny assistant checkpoint trained here, in about a second.

The serving tests (test_serve.py, test_assistant.py, browser/test_chat_page.py) need a real
assistant checkpoint, never the committed one: a 2-layer GPT fine-tuned with the chat template
on a few conversations until it repeats their answers.
"""

from __future__ import annotations

import pytest
import torch

# Each conversation ends with the answer the tiny model learns by heart. The text is in the
# normalised form (NFKC) that CourseAssistant gives every message, as chapter 09's data is.
TINY_CHATS = [
    [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好!我是课程助手。"}],
    [{"role": "user", "content": "把 12 写成中文数字"}, {"role": "assistant", "content": "十二"}],
    [
        {"role": "user", "content": "把 305 写成中文数字"},
        {"role": "assistant", "content": "三百零五"},
    ],
    [
        {"role": "user", "content": "一心一意的下一个成语"},
        {"role": "assistant", "content": "意气风发"},
    ],
    [
        {"role": "system", "content": "回答要简短。"},
        {"role": "user", "content": "天空是什么颜色"},
        {"role": "assistant", "content": "蓝色"},
    ],
    [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好!我是课程助手。"},
        {"role": "user", "content": "谢谢"},
        {"role": "assistant", "content": "不客气,再见。"},
    ],
]


def train_tiny_assistant(steps: int = 60, block_size: int = 64, seed: int = 0):
    """A tiny GPT fine-tuned on TINY_CHATS with the loss on the answers only: (model, tokenizer)."""
    from course_utils.chat_template import ChatTokenizer, masked_lm_loss, pad_sft_batch, sft_example
    from course_utils.gpt import GPTConfig

    torch.manual_seed(seed)
    texts = [m["content"] for chat in TINY_CHATS for m in chat]
    tok = ChatTokenizer.from_texts(texts + ["0123456789 ?!。，"])
    cfg = GPTConfig(
        vocab_size=len(tok), block_size=block_size, n_layer=2, n_head=2, d_model=48, dropout=0.0
    )
    model = cfg.build()
    x, y = pad_sft_batch([sft_example(tok, chat, block_size) for chat in TINY_CHATS])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = masked_lm_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), tok


@pytest.fixture(scope="session")
def tiny_chats():
    """The conversations the tiny assistant learned; each ends with the answer it gives."""
    return TINY_CHATS


@pytest.fixture(scope="session")
def tiny_model():
    """(model, tokenizer): the tiny assistant before it is saved."""
    return train_tiny_assistant()


@pytest.fixture(scope="session")
def tiny_assistant_path(tmp_path_factory, tiny_model):
    """The path of a tiny assistant checkpoint written with ``save_assistant``."""
    from course_utils.assistant import save_assistant

    model, tok = tiny_model
    path = tmp_path_factory.mktemp("assistant") / "tiny_assistant.pt"
    save_assistant(path, model, tok, {"command": "tests/conftest.py train_tiny_assistant"})
    return path


@pytest.fixture(scope="session")
def tiny_assistant(tiny_assistant_path):
    """The tiny assistant, loaded from its checkpoint."""
    from course_utils.assistant import load_assistant

    return load_assistant(tiny_assistant_path)
