"""course_utils.label_scoring: batched, right-padded scores equal one-prompt-at-a-time sums."""

import pytest
import torch
import torch.nn.functional as F

from course_utils import label_scoring
from course_utils.gpt_compared import new_gpt
from course_utils.label_scoring import (
    classify,
    continuation_logprob,
    few_shot_prompt,
    label_scores,
    next_token_logprobs,
)
from course_utils.vocab import CharTokenizer

TOK = CharTokenizer.from_texts(["这东西质量很好不错差太一般了我喜欢评价!,。:无"])
BLOCK = 32
PROMPTS = ["这东西很好", "差", "质量不错,我很喜欢这东西。评价:", "太差了!", "一般"]


@pytest.fixture(scope="module")
def model():
    m = new_gpt(len(TOK), 16, 1, BLOCK, seed=3)
    with torch.no_grad():
        m.lm_head.weight.mul_(30)  # peaked distributions: positions differ by whole nats
    return m.eval()


def brute_logprob(model, prompt: str, continuation: str) -> float:
    """One prompt, no padding: sum over j of log P(c_j | prompt, c_<j)."""
    ids = TOK.encode(prompt + continuation)
    logits = model(torch.tensor([ids]))[0][0]  # (seq, vocab)
    logp = F.log_softmax(logits, dim=-1)
    total = 0.0
    for j in range(len(prompt), len(ids)):
        total += logp[j - 1, ids[j]].item()  # position j - 1 predicts token j
    return total


def brute_next(model, prompt: str) -> torch.Tensor:
    ids = TOK.encode(prompt)
    return F.log_softmax(model(torch.tensor([ids]))[0][0, -1], dim=-1)  # (vocab,)


@torch.no_grad()
@pytest.mark.parametrize("cont", ["好", "好评", "不太好", "评价:差"])
@pytest.mark.parametrize("batch_size", [128, 2])
def test_continuation_logprob_equals_brute_force(model, cont, batch_size):
    got = continuation_logprob(model, TOK, PROMPTS, cont, batch_size=batch_size)
    want = torch.tensor([brute_logprob(model, p, cont) for p in PROMPTS])
    assert got.shape == (len(PROMPTS),)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
    assert float(want.max() - want.min()) > 1.0  # the prompts really are scored differently


@torch.no_grad()
def test_continuation_logprob_at_the_context_limit(model):
    prompt = "好" * (BLOCK - 2)  # prompt + 2 label characters fill the context exactly
    got = continuation_logprob(model, TOK, [prompt, "差"], "好评")
    assert got[0].item() == pytest.approx(brute_logprob(model, prompt, "好评"), abs=1e-4)
    with pytest.raises(ValueError, match=f"need {BLOCK + 1} positions, the context holds {BLOCK}"):
        continuation_logprob(model, TOK, ["差", prompt + "好"], "好评")


@torch.no_grad()
@pytest.mark.parametrize("batch_size", [128, 2])
def test_next_token_logprobs_equals_unpadded_last_position(model, batch_size):
    got = next_token_logprobs(model, TOK, PROMPTS, batch_size=batch_size)  # (n, vocab)
    want = torch.stack([brute_next(model, p) for p in PROMPTS])
    assert got.shape == (len(PROMPTS), len(TOK))
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(got.exp().sum(1), torch.ones(len(PROMPTS)))


@torch.no_grad()
def test_next_token_logprobs_context_limit(model):
    full = "差" * BLOCK
    got = next_token_logprobs(model, TOK, [full, "好"])
    torch.testing.assert_close(got[0], brute_next(model, full), atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match=f"{BLOCK + 1} characters, the context holds {BLOCK}"):
        next_token_logprobs(model, TOK, ["好", full + "差"])


def test_empty_prompt_is_refused(model):
    with pytest.raises(ValueError, match="empty"):
        next_token_logprobs(model, TOK, ["好", ""])
    with pytest.raises(ValueError, match="empty"):
        continuation_logprob(model, TOK, ["好", ""], "好评")
    with pytest.raises(ValueError, match="continuation"):
        continuation_logprob(model, TOK, ["好"], "")


@torch.no_grad()
def test_label_scores_one_pass_for_single_characters(model, monkeypatch):
    want = torch.tensor([[brute_logprob(model, p, w) for w in ("好", "差", "般")] for p in PROMPTS])

    def refuse(*args, **kwargs):
        raise AssertionError("one-character labels need no continuation_logprob")

    monkeypatch.setattr(label_scoring, "continuation_logprob", refuse)
    got = label_scores(model, TOK, PROMPTS, ["好", "差", "般"])  # (n, n_labels)
    assert got.shape == (len(PROMPTS), 3)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("words", [["好评", "差评"], ["好", "不太好", "一般"]])
def test_label_scores_multi_character_labels(model, monkeypatch, words):
    want = torch.tensor([[brute_logprob(model, p, w) for w in words] for p in PROMPTS])

    def refuse(*args, **kwargs):
        raise AssertionError("labels of several characters need continuation_logprob")

    monkeypatch.setattr(label_scoring, "next_token_logprobs", refuse)
    got = label_scores(model, TOK, PROMPTS, words)
    assert got.shape == (len(PROMPTS), len(words))
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)


def test_few_shot_prompt_renders_exactly():
    assert few_shot_prompt("很好") == "很好"
    assert few_shot_prompt("很好", shots=[("太差", 1)]) == "太差差\n很好"
    assert few_shot_prompt("q", shots=[("a", 0), ("b", 1)]) == "a好\nb差\nq"
    got = few_shot_prompt(
        "质量一般",
        shots=[("很喜欢", 1), ("太差了", 0)],
        template="评论:{text}{sep}",
        label_words=("差评", "好评"),
        sep="→",
    )
    assert got == "评论:很喜欢→好评\n评论:太差了→差评\n评论:质量一般→"
    assert few_shot_prompt("x", [("y", 1)], "<{text}>", ("N", "P"), "|") == "<y>P\n<x>"
    assert few_shot_prompt("x", [], "{text}{sep}", sep="=") == "x="


def fake_scores(table):
    """A label_scores stand-in: the rows of ``table`` by prompt, and the prompts it was asked."""
    asked = []

    def scores(model, tok, prompts, label_words):
        asked.append((list(prompts), list(label_words)))
        return torch.tensor([table[p] for p in prompts])

    return scores, asked


def test_classify_argmax_and_calibration(monkeypatch):
    words = ("差评", "好评")
    shots = [("太差", 0)]
    q1, q2 = (few_shot_prompt(q, shots, "{text}{sep}", words, ":") for q in ("A", "B"))
    cf = few_shot_prompt("N/A", shots, "{text}{sep}", words, ":")
    table = {q1: [-1.0, -2.0], q2: [-3.0, -2.5], cf: [0.0, -3.0]}
    scores, asked = fake_scores(table)
    monkeypatch.setattr(label_scoring, "label_scores", scores)
    kw = dict(label_words=words, shots=shots, sep=":", content_free="N/A")
    plain = classify(None, TOK, ["A", "B"], **kw)
    assert plain.tolist() == [0, 1]
    assert asked == [([q1, q2], list(words))]
    # calibrated: [-1, -2] - [0, -3] = [-1, 1] -> label 1; [-3, -2.5] - [0, -3] = [-3, 0.5] -> 1
    calibrated = classify(None, TOK, ["A", "B"], calibrate=True, **kw)
    assert calibrated.tolist() == [1, 1]
    assert asked[-1] == ([cf], list(words))


def test_classify_three_labels_argmax(monkeypatch):
    table = {"x": [-5.0, -1.0, -3.0], "y": [-0.5, -4.0, -0.7], "z": [-9.0, -8.0, -2.0]}
    scores, _ = fake_scores(table)
    monkeypatch.setattr(label_scoring, "label_scores", scores)
    assert classify(None, TOK, ["x", "y", "z"], ("a", "b", "c")).tolist() == [1, 0, 2]


@torch.no_grad()
def test_classify_with_a_real_model(model):
    words = ("差评", "好评")
    shots = [("很好", 1), ("太差", 0)]
    queries = ["质量不错", "一般", "太差了!"]
    prompts = [few_shot_prompt(q, shots, "{text}{sep}", words, ":") for q in queries]
    s = torch.tensor([[brute_logprob(model, p, w) for w in words] for p in prompts])
    got = classify(model, TOK, queries, words, shots=shots, sep=":")
    assert got.tolist() == s.argmax(1).tolist()
    cf_prompt = few_shot_prompt("无", shots, "{text}{sep}", words, ":")
    cf = torch.tensor([brute_logprob(model, cf_prompt, w) for w in words])
    got = classify(
        model, TOK, queries, words, shots=shots, sep=":", calibrate=True, content_free="无"
    )
    assert got.tolist() == (s - cf).argmax(1).tolist()


def test_classify_bad_input(model):
    with pytest.raises(ValueError, match="label_words"):
        classify(model, TOK, ["好"], ("好",))
    with pytest.raises(ValueError, match="label_words"):
        classify(model, TOK, ["好"], ("好", "好"))
    with pytest.raises(ValueError, match="queries"):
        classify(model, TOK, [], ("好", "差"))
    with pytest.raises(ValueError, match="context holds"):
        classify(model, TOK, ["好" * BLOCK], ("好评", "差评"))
    # the default content-free query "" with no shots and no separator is an empty prompt
    with pytest.raises(ValueError, match="empty"):
        classify(model, TOK, ["好"], ("好评", "差评"), calibrate=True)
    with pytest.raises(ValueError, match="empty"):
        classify(model, TOK, ["好"], ("好", "差"), calibrate=True)
