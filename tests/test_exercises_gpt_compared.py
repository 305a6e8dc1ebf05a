"""Chapter 07b's check accepts the worked solution and rejects the typical mistakes."""

import pytest
import torch

from course_utils.exercises.gpt_compared import check_few_shot_choice
from course_utils.tools.selfcheck import CheckFailed


def choose_label(model, tok, prompt, label_words):
    scores = []
    for word in label_words:
        ids = tok.encode(prompt + word)  # the prompt, then the label's characters
        with torch.no_grad():
            logits, _ = model(torch.tensor([ids]))  # (1, seq, vocab)
        logp = torch.log_softmax(logits[0], dim=-1)  # (seq, vocab)
        start = len(tok.encode(prompt))  # position of the label's first character
        # the row before each label character predicts it
        scores.append(sum(logp[p - 1, ids[p]].item() for p in range(start, len(ids))))
    return max(range(len(label_words)), key=lambda i: scores[i])


def scorer(score):
    """A choose_label that picks the label with the highest score(logp, ids, start)."""

    def choose(model, tok, prompt, label_words):
        scores = []
        for word in label_words:
            ids = tok.encode(prompt + word)
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([ids]))[0][0], dim=-1)
            scores.append(float(score(logp, ids, len(tok.encode(prompt)))))
        return max(range(len(label_words)), key=lambda i: scores[i])

    return choose


def tensor_solution(model, tok, prompt, label_words):
    """Another right answer: gather the label characters' rows; a 0-d tensor comes back."""
    n = len(tok.encode(prompt))
    scores = []
    for word in label_words:
        ids = torch.tensor([tok.encode(prompt + word)])  # (1, seq)
        logp = torch.log_softmax(
            model(ids)[0][0, :-1], dim=-1
        )  # (seq - 1, vocab): t predicts t + 1
        targets = ids[0, 1:]  # (seq - 1,)
        scores.append(logp[n - 1 :].gather(1, targets[n - 1 :, None]).sum())
    return torch.stack(scores).argmax()


def test_solutions_pass():
    assert check_few_shot_choice(choose_label).passed
    assert check_few_shot_choice(tensor_solution).passed


def test_not_attempted():
    def stub(model, tok, prompt, label_words):
        raise NotImplementedError

    assert not check_few_shot_choice(stub).attempted


def test_the_check_leaves_the_random_state_alone():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    check_few_shot_choice(choose_label)
    assert torch.equal(torch.rand(3), want)


first_only = scorer(lambda lp, ids, s: lp[s - 1, ids[s]])
mean = scorer(
    lambda lp, ids, s: sum(lp[p - 1, ids[p]] for p in range(s, len(ids))) / (len(ids) - s)
)
probs = scorer(lambda lp, ids, s: sum(lp[p - 1, ids[p]].exp() for p in range(s, len(ids))))
own_position = scorer(lambda lp, ids, s: sum(lp[p, ids[p]] for p in range(s, len(ids))))
after_prompt_only = scorer(lambda lp, ids, s: sum(lp[s - 1, ids[p]] for p in range(s, len(ids))))


argmin = scorer(lambda lp, ids, s: -sum(lp[p - 1, ids[p]] for p in range(s, len(ids))))


@pytest.mark.parametrize(
    "wrong, match",
    [
        (first_only, "only each label's first character"),
        (mean, "averaged"),
        (probs, "added probabilities"),
        (own_position, "at its own position"),
        (after_prompt_only, "distribution after the prompt"),
        (argmin, "lowest score"),
    ],
)
def test_typical_mistakes_are_explained(wrong, match):
    with pytest.raises(CheckFailed, match=match):
        check_few_shot_choice(wrong)


def test_other_wrong_answers():
    with pytest.raises(CheckFailed, match="expected the index of a label word"):
        check_few_shot_choice(lambda m, t, p, words: words[0])
    with pytest.raises(CheckFailed, match="not an index"):
        check_few_shot_choice(lambda m, t, p, words: len(words))
    with pytest.raises(CheckFailed, match="expected the index"):
        check_few_shot_choice(lambda m, t, p, words: 0.0)
    with pytest.raises(CheckFailed, match=r"score\(w\) = sum over j"):
        check_few_shot_choice(lambda m, t, p, words: 0)  # always the first label
