"""The assistant checkpoint (save, load, checks) and CourseAssistant (stream, chat, limits)."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import asdict

import pytest
import torch

from course_utils.assistant import (
    ASSISTANT_FORMAT,
    CHAT_TEMPLATE,
    DEFAULT_ASSISTANT,
    MAKE_ASSISTANT_COMMAND,
    CourseAssistant,
    how_to_make,
    load_assistant,
    save_assistant,
    weights_sha256,
)
from course_utils.chat_template import MARKERS, ChatTokenizer, apply_chat_template
from course_utils.instruction_data import build_instruction_set, is_correct
from course_utils.make_assistant import AssistantRecipe
from course_utils.train_gpt import CheckpointError
from course_utils.vocab import CharTokenizer


def run(stream):
    """(pieces, finish_reason) of a stream generator."""
    pieces = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as end:
            return pieces, end.value


def test_round_trip_keeps_model_tokenizer_and_provenance(tiny_model, tmp_path, tiny_chats):
    model, tok = tiny_model
    path = tmp_path / "a.pt"
    sha = save_assistant(path, model, tok, {"command": "test", "metrics": {"acc": 0.5}}, name="t")
    loaded = load_assistant(path)
    assert loaded.name == "t" and loaded.tokenizer.itos == tok.itos
    assert loaded.provenance == {"command": "test", "metrics": {"acc": 0.5}, "weights_sha256": sha}
    assert loaded.model.config == model.config
    ids = torch.tensor([tok.encode(apply_chat_template(tiny_chats[0]))])
    # float16 storage: logits within a few thousandths, and the same greedy answers
    assert torch.allclose(loaded.model(ids)[0], model(ids)[0], atol=2e-2)
    original = CourseAssistant(model, tok)
    for chat in tiny_chats:
        assert loaded.chat(chat[:-1]) == original.chat(chat[:-1]) == chat[-1]["content"]


def test_file_stores_float16_once_with_template_and_format(tiny_model, tmp_path):
    model, tok = tiny_model
    path = tmp_path / "a.pt"
    save_assistant(path, model, tok, {})
    state = torch.load(path, weights_only=True)
    assert state["format"] == ASSISTANT_FORMAT and state["chat_template"] == CHAT_TEMPLATE
    assert {t.dtype for t in state["model"].values()} == {torch.float16}
    assert state["provenance"]["weights_sha256"] == weights_sha256(state["model"])
    fp32_bytes = sum(p.numel() * 4 for p in model.parameters())  # the tied table counted once
    assert path.stat().st_size < 0.6 * fp32_bytes + 20_000


def test_missing_checkpoint_names_the_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no assistant checkpoint") as err:
        load_assistant(tmp_path / "nothing.pt")
    assert "nothing.pt" in str(err.value) and how_to_make() in str(err.value)
    # the command where the package has it, otherwise how to write a checkpoint by hand
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert MAKE_ASSISTANT_COMMAND in how_to_make()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert "save_assistant" in how_to_make() and "--checkpoint" in how_to_make()
    assert MAKE_ASSISTANT_COMMAND == "python -m course_utils.make_assistant"
    assert DEFAULT_ASSISTANT.parts[-2:] == ("checkpoints", "assistant.pt")
    assert (DEFAULT_ASSISTANT.parent.parent / "course_utils").is_dir()  # the repository root


def test_corrupt_edited_or_foreign_files_are_refused(tiny_model, tmp_path):
    model, tok = tiny_model
    path = tmp_path / "a.pt"
    save_assistant(path, model, tok, {})
    state = torch.load(path, weights_only=True)

    edited = dict(state, model={**state["model"], "wpe.weight": state["model"]["wpe.weight"] + 1})
    torch.save(edited, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_assistant(tmp_path / "edited.pt")

    torch.save(dict(state, chat_template="chatml"), tmp_path / "template.pt")
    with pytest.raises(CheckpointError, match="chat template 'chatml'"):
        load_assistant(tmp_path / "template.pt")

    torch.save({"format": "course-gpt-checkpoint-v1"}, tmp_path / "base.pt")
    with pytest.raises(CheckpointError, match="not an assistant checkpoint"):
        load_assistant(tmp_path / "base.pt")

    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_assistant(tmp_path / "cut.pt")


def test_save_checks_its_arguments(tiny_model, tmp_path):
    model, tok = tiny_model
    with pytest.raises(TypeError, match="ChatTokenizer"):
        save_assistant(tmp_path / "a.pt", model, CharTokenizer(tok.itos[:1] + tok.itos[5:]), {})
    with pytest.raises(TypeError, match="JSON"):
        save_assistant(tmp_path / "a.pt", model, tok, {"when": object()})
    big = ChatTokenizer.from_texts(["".join(chr(0x4E00 + i) for i in range(200))])
    with pytest.raises(ValueError, match="vocab_size"):
        save_assistant(tmp_path / "a.pt", model, big, {})
    assert not (tmp_path / "a.pt").exists()


def test_stream_stops_at_end_and_never_yields_a_marker(tiny_assistant, tiny_chats):
    for chat in tiny_chats:
        pieces, finish = run(tiny_assistant.stream(chat[:-1], max_tokens=30))
        assert finish == "stop" and "".join(pieces) == chat[-1]["content"]
        assert len(pieces) == len(chat[-1]["content"])  # one piece per token
    for seed in range(5):  # sampled at a high temperature: whatever comes, no marker
        pieces, finish = run(tiny_assistant.stream("你好", 40, temperature=2.0, seed=seed))
        assert not any(m in "".join(pieces) for m in MARKERS) and len(pieces) <= 40


def test_max_tokens_and_the_context_end_with_length(tiny_assistant):
    pieces, finish = run(tiny_assistant.stream("你好", max_tokens=3))
    assert pieces == ["你", "好", "!"] and finish == "length"
    long = "一" * (tiny_assistant.context_length - 10)
    prompt = tiny_assistant.count_prompt_tokens(long)
    pieces, finish = run(tiny_assistant.stream(long, max_tokens=50, temperature=1.0, seed=0))
    assert len(pieces) <= tiny_assistant.context_length - prompt
    assert finish == "length" or len(pieces) < tiny_assistant.context_length - prompt


def test_seed_fixes_the_sample_and_temperature_zero_is_greedy(tiny_assistant):
    a = [tiny_assistant.chat("今天天气", 20, temperature=1.5, seed=s) for s in (1, 1, 2)]
    assert a[0] == a[1]
    greedy = tiny_assistant.chat("把 12 写成中文数字", temperature=0.0)
    assert greedy == tiny_assistant.chat("把 12 写成中文数字", temperature=0.0, seed=99) == "十二"


def test_prompt_counts_the_template_and_normalises_full_width(tiny_assistant):
    messages = [{"role": "user", "content": "把 12 写成中文数字"}]
    text = apply_chat_template(messages, add_generation_prompt=True)
    assert tiny_assistant.count_prompt_tokens(messages) == len(
        tiny_assistant.tokenizer.encode(text)
    )
    full_width = [{"role": "user", "content": "把 １２ 写成中文数字"}]  # People's Daily's digits
    assert tiny_assistant.prompt_ids(full_width) == tiny_assistant.prompt_ids(messages)


@pytest.mark.parametrize(
    "messages, kwargs, match",
    [
        ([], {}, "messages must not be empty"),
        ([{"role": "wizard", "content": "hi"}], {}, "role"),
        ([{"role": "user", "content": "   "}], {}, "empty content"),
        ([{"role": "user", "content": "a<|end|>"}], {}, "marker"),
        ("你好", {"max_tokens": 0}, "max_tokens"),
        ("你好", {"temperature": -1.0}, "temperature"),
        ("你好", {"top_p": 0.0}, "top_p"),
        ("长" * 80, {}, "no room is left"),
    ],
)
def test_bad_input_raises_before_generating(tiny_assistant, messages, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tiny_assistant.stream(messages, **kwargs)
    assert not tiny_assistant._lock.locked()


def test_the_committed_assistant_is_the_make_assistant_pipeline():
    """checkpoints/assistant.pt (what `python -m course_utils.serve` serves on a fresh clone) was
    written by make_assistant from the committed base, and answers numerals in its template."""
    bot = load_assistant(DEFAULT_ASSISTANT)
    prov = bot.provenance
    assert prov["command"] == "python -m course_utils.make_assistant"
    assert prov["stages"] == ["sft", "dpo"]
    base = DEFAULT_ASSISTANT.parent / "gpt_base_zh.pt"
    assert prov["base_file_sha256"] == hashlib.sha256(base.read_bytes()).hexdigest()
    assert prov["recipe"] == asdict(AssistantRecipe())  # made with the documented defaults
    test = build_instruction_set(
        prov["recipe"]["n_train"], 8, seed=prov["recipe"]["data_seed"]
    ).test
    numerals = [e for e in test if e.task == "num2zh"]
    right = sum(is_correct(e, bot.chat(e.instruction, max_tokens=16)) for e in numerals)
    k, n = prov["accuracy"]["dpo"]["num2zh"]
    assert right >= len(numerals) // 2 and k / n > 0.5  # it answers, as its provenance says
