"""Self-checks for chapter 07b (the GPT series compared): scoring label words after a prompt."""

from __future__ import annotations

import numbers

import torch

from ..gpt_compared import new_gpt
from ..label_scoring import label_scores
from ..tools.selfcheck import CheckFailed, exercise, expect
from ..vocab import CharTokenizer

_CHARS = "这东西质量很好不错差太一般了我喜欢推荐评价!,。:\n"
_SEED, _SHARPEN = 5, 40.0
# (prompt, label words). With the model below, the first-character shortcut, an average, a
# sum of probabilities, reading the wrong position and scoring every character after the
# prompt alone each pick a wrong label in at least one case, and each in a different set.
_CASES = (
    ("这东西很好", ("好", "差")),
    ("质量不错。评价:", ("好评", "差评")),
    ("太差了。评价:", ("差评", "好评")),
    ("我喜欢,推荐。", ("好", "不太好")),  # labels of different lengths
    ("这东西一般。", ("一般", "好评", "差评")),
    ("很好!好评\n太差了!差评\n质量很好,我喜欢!", ("差评", "好评")),  # two shots, then a query
)


def _tiny_model():
    """A seeded 2-layer GPT over ``_CHARS`` whose output layer is scaled up, so that it has
    strong (if meaningless) preferences: the labels' scores differ by whole nats."""
    tok = CharTokenizer.from_texts([_CHARS])
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random state alone
        model = new_gpt(len(tok), 32, 2, 48, seed=_SEED)
    with torch.no_grad():
        model.lm_head.weight.mul_(_SHARPEN)
    return model.eval(), tok


@torch.no_grad()
def _char_logprobs(model, tok, prompt: str, word: str):
    """log P rows (seq, vocab) of prompt + word, the ids, and where the word starts."""
    ids = tok.encode(prompt + word)
    logp = torch.log_softmax(model(torch.tensor([ids]))[0][0], dim=-1)  # (seq, vocab)
    return logp, ids, len(tok.encode(prompt))


def _mistake_scores(model, tok, prompt: str, word: str) -> dict[str, float]:
    """The score each typical mistake gives one label word."""
    logp, ids, s = _char_logprobs(model, tok, prompt, word)
    js = range(s, len(ids))
    right = [logp[j - 1, ids[j]].item() for j in js]  # position j - 1 predicts character j
    return {
        "first": right[0],
        "mean": sum(right) / len(right),
        "probs": sum(torch.tensor(right).exp().tolist()),
        "own": sum(logp[j, ids[j]].item() for j in js),
        "bag": sum(logp[s - 1, ids[j]].item() for j in js),
    }


_HINTS = {
    "first": "you scored only each label's first character. Add the log-probability of every "
    "later character, each given the prompt and the label's characters before it: 差评 and "
    "好评 both end in 评, but log P(评 | prompt + 差) and log P(评 | prompt + 好) differ",
    "mean": "you averaged the characters' log-probabilities. Sum them: log P(label | prompt) "
    "is the log of a product, the sum of the characters' log-probabilities (an average, which "
    "spares long labels the sum's penalty, is another score: not this exercise's)",
    "probs": "you added probabilities. Add log-probabilities (log_softmax): the label's "
    "probability is the *product* of its characters' probabilities, and the log of a product "
    "is the sum of the logs",
    "own": "you read each character's log-probability at its own position. The logits at "
    "position t predict the token at t + 1, so the character at position p is scored by "
    "row p - 1 (the first label character by the prompt's last position)",
    "bag": "you scored every label character with the distribution after the prompt. The second "
    "character must be predicted after prompt + first character: run the model on prompt + "
    "label and read one row per character",
    "argmin": "you returned the label with the lowest score: return the index of the highest",
}


def _as_index(value, n_labels: int, what: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise CheckFailed(
            f"{what}: expected the index of a label word (an int), got "
            f"{type(value).__name__} {value!r}"
        )
    expect(0 <= int(value) < n_labels, f"{what}: {value} is not an index of the {n_labels} labels")
    return int(value)


@exercise("Exercise: choose a label word by its log-probability after the prompt")
def check_few_shot_choice(choose_label):
    """choose_label(model, tok, prompt, label_words) -> the index of the label word whose
    characters have the highest *sum* of log-probabilities after the prompt,

        score(w) = sum_j log P(w_j | prompt, w_<j),

    each character predicted after the prompt and the label's characters before it. The sum is
    required: an average (length-normalised score) or the first character alone is rejected.
    Compared with ``course_utils.label_scoring.label_scores`` on a tiny seeded GPT, with labels
    of one and of several characters."""
    model, tok = _tiny_model()
    got, want, wrong = [], [], {k: [] for k in _HINTS}
    for prompt, words in _CASES:
        what = f"choose_label(model, tok, {prompt!r}, {words!r})"
        got.append(_as_index(choose_label(model, tok, prompt, words), len(words), what))
        ref = label_scores(model, tok, [prompt], list(words))[0]  # (n_labels,)
        want.append(int(ref.argmax()))
        wrong["argmin"].append(int(ref.argmin()))
        per_word = [_mistake_scores(model, tok, prompt, w) for w in words]
        for kind in ("first", "mean", "probs", "own", "bag"):
            scores = [s[kind] for s in per_word]
            wrong[kind].append(max(range(len(words)), key=scores.__getitem__))
    if got == want:
        n_multi = sum(any(len(w) > 1 for w in words) for _, words in _CASES)
        return f"{len(_CASES)} prompts, {n_multi} with labels of several characters"
    i = next(k for k, (a, b) in enumerate(zip(got, want)) if a != b)
    prompt, words = _CASES[i]
    hint = next(
        (h for kind, h in _HINTS.items() if wrong[kind] == got),
        "score(w) = sum over j of log P(w_j | prompt, w_<j): run the model on prompt + w, "
        "take log_softmax, read the row before each label character, add, and return the "
        "index of the largest score",
    )
    raise CheckFailed(
        f"after the prompt {prompt!r} the label words {words!r} score highest at index "
        f"{want[i]} ({words[want[i]]!r}), your function chose {got[i]} "
        f"({words[got[i]]!r}). Hint: {hint}"
    )
