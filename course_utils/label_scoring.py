"""Zero-shot and few-shot classification by a language model's likelihood of label words
(GPT-2 section 3, GPT-3 section 2): the predicted label is the one whose words are most
probable after the prompt,

    y_hat = argmax_y  sum_j log P(w_{y,j} | prompt, w_{y,<j})

A prompt holds k labelled examples ("shots") and then the query. ``calibrate`` subtracts the
score the label words get after a content-free query (Zhao et al. 2021), the model's
prior preference for one label whatever the text.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .gpt import GPT
from .tools.checks import non_empty
from .vocab import CharTokenizer, right_pad


@torch.no_grad()
def continuation_logprob(
    model: GPT, tok: CharTokenizer, prompts: list[str], continuation: str, batch_size: int = 128
) -> torch.Tensor:
    """(n,) sum of log P(continuation characters | prompt), each prompt scored separately."""
    non_empty("continuation", continuation)
    cont = tok.encode(continuation)
    T_max = model.config.block_size
    out = []
    for i in range(0, len(prompts), batch_size):
        rows = [tok.encode(p) + cont for p in prompts[i : i + batch_size]]
        for r, p in zip(rows, prompts[i : i + batch_size]):
            if len(r) == len(cont):  # position -1 would wrap round to the last one
                raise ValueError(
                    "a prompt is empty: the first label character needs a position to follow"
                )
            if len(r) > T_max:
                raise ValueError(
                    f"prompt + label need {len(r)} positions, the context holds "
                    f"{T_max}: {p[:30]!r}..."
                )
        idx, _ = right_pad(rows)  # (batch, seq)
        logp = F.log_softmax(model(idx)[0].float(), dim=-1)  # (batch, seq, vocab)
        total = torch.zeros(len(rows))
        for j, r in enumerate(rows):
            start = len(r) - len(cont)  # position of the first label character
            pos = torch.arange(start - 1, len(r) - 1)  # predictions for the label characters
            total[j] = logp[j, pos, torch.tensor(cont)].sum()
        out.append(total)
    return torch.cat(out)


@torch.no_grad()
def next_token_logprobs(
    model: GPT, tok: CharTokenizer, prompts: list[str], batch_size: int = 128
) -> torch.Tensor:
    """(n, vocab) log P(next token | prompt) at each prompt's last position (right padding)."""
    out = []
    for i in range(0, len(prompts), batch_size):
        rows = [tok.encode(p) for p in prompts[i : i + batch_size]]
        if min(map(len, rows)) == 0:
            raise ValueError("a prompt is empty: the first label token needs a position to follow")
        T = max(map(len, rows))
        if T > model.config.block_size:
            raise ValueError(
                f"a prompt has {T} characters, the context holds {model.config.block_size}"
            )
        idx, lengths = right_pad(rows)  # (batch, seq), (batch,)
        last = lengths - 1  # (batch,)
        logits = model(idx)[0][torch.arange(len(rows)), last]  # (batch, vocab)
        out.append(F.log_softmax(logits.float(), dim=-1))
    return torch.cat(out)


def label_scores(model, tok, prompts: list[str], label_words: list[str]) -> torch.Tensor:
    """(n, n_labels) log-likelihood of each label's words after each prompt. One-character
    labels need one forward pass: the next-token distribution at the prompt's end."""
    if all(len(tok.encode(w)) == 1 for w in label_words):
        ids = torch.tensor([tok.encode(w)[0] for w in label_words])  # (n_labels,)
        return next_token_logprobs(model, tok, prompts)[:, ids]  # (n, n_labels)
    return torch.stack([continuation_logprob(model, tok, prompts, w) for w in label_words], dim=1)


def few_shot_prompt(
    query: str, shots=(), template: str = "{text}{sep}", label_words=("好", "差"), sep: str = ""
) -> str:
    """k shots (text, label index) rendered as template + label word + newline, then the query."""
    parts = [template.format(text=t, sep=sep) + label_words[y] + "\n" for t, y in shots]
    return "".join(parts) + template.format(text=query, sep=sep)


def classify(
    model,
    tok,
    queries,
    label_words,
    shots=(),
    template="{text}{sep}",
    sep="",
    calibrate: bool = False,
    content_free: str = "",
) -> torch.Tensor:
    """The label whose words the model finds most likely after each prompt, (n,) indices.

    ``calibrate`` subtracts the scores after a content-free query (the model's prior)."""
    non_empty("queries", queries)
    if len(label_words) < 2 or len(set(label_words)) != len(label_words):
        raise ValueError(f"label_words must be two or more distinct words, got {label_words!r}")
    prompts = [few_shot_prompt(q, shots, template, label_words, sep) for q in queries]
    s = label_scores(model, tok, prompts, list(label_words))  # (n, n_labels)
    if calibrate:
        cf = label_scores(
            model,
            tok,
            [few_shot_prompt(content_free, shots, template, label_words, sep)],
            list(label_words),
        )
        s = s - cf  # (n, n_labels) - (1, n_labels)
    return s.argmax(1)
