"""course_utils.sft: new marker rows that change no old logit, SFT that learns from the answers
only, parameter restriction (LoRA, marker rows), batched greedy answers equal to one-by-one
ones, per-task accuracy with intervals, and clear errors."""

import copy
import time

import pytest
import torch

import course_utils.sft as sft
from course_utils.assistant import CourseAssistant
from course_utils.chat_template import (
    IGNORE_INDEX,
    MARKERS,
    ChatTokenizer,
    masked_lm_loss,
    sft_example,
)
from course_utils.gpt import GPTConfig
from course_utils.instruction_data import Example
from course_utils.lora import apply_lora
from course_utils.sft import (
    SFTConfig,
    TaskScore,
    add_chat_tokens,
    few_shot_prompt,
    generate_answers,
    task_accuracy,
    train_sft,
)
from course_utils.statistics import wilson_interval
from course_utils.train_gpt import TrainConfig, lr_at
from course_utils.vocab import CharTokenizer


def numeral(n: int, zh: str) -> Example:
    return Example("num2zh", f"把{n}写成中文数字", zh, (zh,), 0, str(n))


def review(text: str, label: str) -> Example:
    return Example("sentiment", f"这条评论是好评还是差评?{text}", label, (label,), 0, text)


EXAMPLES = [
    numeral(12, "十二"),
    numeral(305, "三百零五"),
    numeral(7, "七"),
    numeral(40, "四十"),
    numeral(1998, "一千九百九十八"),
    review("很好用", "好评"),
    review("太差了", "差评"),
]
BASE_TOK = CharTokenizer.from_texts([e.instruction + e.answer for e in EXAMPLES] + ["问答:\n"])
FAST = SFTConfig(steps=3, batch_size=4, lr=1e-2, min_lr=1e-3, warmup=1)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids synchronisation overhead
    yield
    torch.set_num_threads(threads)


def base_model(tie: bool = False, seed: int = 0, block_size: int = 48):
    torch.manual_seed(seed)
    cfg = GPTConfig(
        vocab_size=len(BASE_TOK),
        block_size=block_size,
        n_layer=2,
        n_head=2,
        d_model=32,
        tie_weights=tie,
    )
    return cfg.build().eval()


def chat_model(**kwargs):
    return add_chat_tokens(base_model(**kwargs), BASE_TOK)


@pytest.fixture(scope="module")
def tuned():
    """A tiny chat model fine-tuned until it answers EXAMPLES by heart: (model, tok, log)."""
    torch.set_num_threads(1)
    model, tok = chat_model()
    cfg = SFTConfig(steps=100, batch_size=8, lr=2e-2, min_lr=2e-3, warmup=5)
    wall, cpu = time.perf_counter(), time.process_time()
    log = train_sft(model, tok, EXAMPLES, cfg)
    log["measured"] = (time.perf_counter() - wall, time.process_time() - cpu)
    return model, tok, log


# ------------------------------------------------------------------ add_chat_tokens


@pytest.mark.parametrize("tie", [False, True])
def test_add_chat_tokens_appends_markers_with_mean_rows(tie):
    base = base_model(tie=tie)
    before = copy.deepcopy(base.state_dict())
    model, tok = add_chat_tokens(base, BASE_TOK)
    V = len(BASE_TOK)
    assert isinstance(tok, ChatTokenizer)
    assert tok.itos == [*BASE_TOK.itos, *MARKERS]  # every old id keeps its token
    assert [tok.stoi[m] for m in MARKERS] == [V, V + 1, V + 2, V + 3]
    assert model.config.vocab_size == V + 4 and model.wte.num_embeddings == V + 4
    assert model.lm_head.out_features == V + 4
    assert (model.lm_head.weight is model.wte.weight) == tie
    for new, old in [
        (model.wte.weight, base.wte.weight),
        (model.lm_head.weight, base.lm_head.weight),
    ]:
        assert torch.equal(new[:V], old)
        torch.testing.assert_close(new[V:], old.mean(0).expand(4, -1))
    # the base model is untouched
    assert base.config.vocab_size == V and base.wte.num_embeddings == V
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())
    assert (base.lm_head.weight is base.wte.weight) == tie


@pytest.mark.parametrize("tie", [False, True])
def test_add_chat_tokens_keeps_every_old_logit(tie):
    base = base_model(tie=tie)
    model, _ = add_chat_tokens(base, BASE_TOK)
    x = torch.randint(len(BASE_TOK), (3, 20), generator=torch.Generator().manual_seed(1))
    old, new = base(x)[0], model(x)[0]  # (3, 20, V), (3, 20, V + 4)
    torch.testing.assert_close(new[..., : len(BASE_TOK)], old, rtol=0, atol=1e-6)
    # a mean row in the head: each marker's logit is the mean of the old logits
    torch.testing.assert_close(
        new[..., len(BASE_TOK) :], old.mean(-1, keepdim=True).expand(-1, -1, 4)
    )
    # so the markers together take at most 4 / (V + 4) of the probability
    marker_mass = new.softmax(-1)[..., len(BASE_TOK) :].sum(-1)  # (3, 20)
    assert (marker_mass <= 4 / (len(BASE_TOK) + 4) + 1e-6).all() and (marker_mass > 0).all()


def test_add_chat_tokens_trains_and_keeps_requires_grad():
    base = base_model()
    base.wte.weight.requires_grad_(False)
    model, _ = add_chat_tokens(base, BASE_TOK)
    assert not model.wte.weight.requires_grad and model.lm_head.weight.requires_grad


def test_add_chat_tokens_errors():
    model, tok = chat_model()
    with pytest.raises(ValueError, match="already has the markers"):
        add_chat_tokens(model, tok)
    with pytest.raises(ValueError, match="not made for each other"):
        add_chat_tokens(base_model(), CharTokenizer.from_texts(["abc"]))
    with pytest.raises(TypeError, match="model must be a GPT"):
        add_chat_tokens(torch.nn.Linear(2, 2), BASE_TOK)


# ------------------------------------------------------------------ train_sft


def test_sft_learns_the_answers(tuned):
    model, tok, log = tuned
    assert len(log["losses"]) == 100
    wall, cpu = log["measured"]
    assert 0 < log["wall_s"] <= wall and 0 < log["cpu_s"] <= cpu
    assert log["losses"][-1] < 0.2 < 2 < log["losses"][0]
    scores = task_accuracy(model, tok, EXAMPLES, max_new_tokens=12)
    assert {t: (s.k, s.n) for t, s in scores.items()} == {"num2zh": (5, 5), "sentiment": (2, 2)}
    assert not model.training


def test_prompt_tokens_carry_no_loss():
    """In SFT the output head runs at the answer's positions only (so no prompt token can carry
    loss), and the loss there equals the full-logits cross-entropy with the prompt ignored."""
    model, tok = chat_model()
    rows = []
    hook = model.lm_head.register_forward_hook(lambda m, inputs, out: rows.append(out.shape))
    try:
        train_sft(model, tok, EXAMPLES[1:2], SFTConfig(steps=1, batch_size=1))
    finally:
        hook.remove()
    x, y = sft_example(tok, sft.as_conversation(EXAMPLES[1]), model.config.block_size)
    answer = torch.tensor(y) != IGNORE_INDEX  # (seq,)
    assert rows == [(int(answer.sum()), len(tok))] and 0 < int(answer.sum()) < len(y) // 2
    x, y = torch.tensor([x]), torch.tensor([y])
    full = torch.nn.functional.cross_entropy(model(x)[0][0], y[0], ignore_index=IGNORE_INDEX)
    torch.testing.assert_close(masked_lm_loss(model, x, y), full)


def test_conversations_are_accepted_as_message_lists():
    chats = [sft.as_conversation(e) for e in EXAMPLES]
    assert chats[0] == [
        {"role": "user", "content": "把12写成中文数字"},
        {"role": "assistant", "content": "十二"},
    ]
    a, tok = chat_model()
    b, _ = chat_model()
    assert train_sft(a, tok, chats, FAST)["losses"] == train_sft(b, tok, EXAMPLES, FAST)["losses"]


def test_same_seed_same_losses_and_batches_depend_on_seed_and_step():
    runs = []
    for seed in (0, 0, 1):
        model, tok = chat_model()
        torch.manual_seed(123 + len(runs))  # the global generator plays no part
        runs.append(train_sft(model, tok, EXAMPLES, SFTConfig(steps=4, batch_size=4, seed=seed)))
    assert runs[0]["losses"] == runs[1]["losses"] != runs[2]["losses"]
    assert sft.batch_indices(7, 5, 0, 3) == sft.batch_indices(7, 5, 0, 3)
    draws = {tuple(sft.batch_indices(7, 5, s, t)) for s in (0, 1) for t in (0, 1)}
    assert len(draws) == 4 and all(0 <= i < 7 for d in draws for i in d)
    assert sft.step_seed(2, 3) == 2 * 1_000_003 + 3
    g = torch.Generator().manual_seed(2 * 1_000_003 + 3)
    assert sft.batch_indices(7, 5, 2, 3) == torch.randint(7, (5,), generator=g).tolist()


def test_dropout_masks_are_seeded_by_step():
    losses = []
    for extra in (0, 1):
        torch.manual_seed(0)
        base = GPTConfig(
            vocab_size=len(BASE_TOK), block_size=48, n_layer=1, n_head=2, d_model=32, dropout=0.3
        ).build()
        model, tok = add_chat_tokens(base, BASE_TOK)
        torch.manual_seed(extra)
        losses.append(train_sft(model, tok, EXAMPLES, FAST)["losses"])
    assert losses[0] == losses[1]
    # without dropout the global generator is left alone
    model, tok = chat_model()
    torch.manual_seed(5)
    train_sft(model, tok, EXAMPLES, FAST)
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(1))


def test_learning_rate_schedule_per_step(monkeypatch):
    cfg = SFTConfig(steps=6, batch_size=2, lr=1e-2, min_lr=1e-3, warmup=2)
    expected = [lr_at(s, TrainConfig(steps=6, lr=1e-2, min_lr=1e-3, warmup=2)) for s in range(6)]
    assert [cfg.lr_at(s) for s in range(6)] == pytest.approx(expected)
    assert cfg.lr_at(0) == pytest.approx(5e-3) and cfg.lr_at(1) == pytest.approx(1e-2)
    seen = []
    make = sft.make_sft_optimizer

    def recording(*args, **kwargs):
        opt = make(*args, **kwargs)
        opt.register_step_pre_hook(lambda o, a, k: seen.append([g["lr"] for g in o.param_groups]))
        return opt

    monkeypatch.setattr(sft, "make_sft_optimizer", recording)
    model, tok = chat_model()
    train_sft(model, tok, EXAMPLES, cfg)
    assert [lrs[0] for lrs in seen] == pytest.approx(expected)
    assert all(len(lrs) == 2 and lrs[0] == lrs[1] for lrs in seen)  # both groups


def test_optimizer_decays_matrices_only():
    model, _ = chat_model()
    params = list(model.parameters())
    cfg = SFTConfig(lr=5e-3, min_lr=0.0, weight_decay=0.1)
    opt = sft.make_sft_optimizer(params, cfg, no_decay=[model.wte.weight])
    decay, rest = opt.param_groups
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {
        id(p) for p in params if p.dim() >= 2 and p is not model.wte.weight
    }
    assert len(decay["params"]) + len(rest["params"]) == len(params)
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["lr"] == 5e-3


def test_gradient_clipping_is_applied():
    """Adam is blind to a gradient's scale, except through eps: a clip norm far below eps
    leaves the weights where they were, no clipping moves them."""
    moved = []
    for clip in (0.0, 1e-12):
        model, tok = chat_model()
        before = model.blocks.layers[0].feed_forward.w_1.weight.clone()
        train_sft(
            model,
            tok,
            EXAMPLES,
            SFTConfig(steps=1, batch_size=2, lr=1e-2, warmup=0, grad_clip=clip),
        )
        moved.append((model.blocks.layers[0].feed_forward.w_1.weight - before).abs().max().item())
    assert moved[0] > 1e-3 > 1e-6 > moved[1]


def test_params_restricts_training_and_restores_requires_grad():
    model, tok = chat_model()
    chosen = list(model.blocks.layers[1].parameters())
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()}
    calls = []

    class Bar:
        def update(self, n):
            calls.append(n)

    train_sft(model, tok, EXAMPLES, FAST, params=chosen, progress=Bar())
    assert calls == [1, 1, 1]
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, frozen[n])}
    assert changed == {n for n, _ in model.named_parameters() if n.startswith("blocks.layers.1.")}
    assert all(p.requires_grad for p in model.parameters()) and not model.training
    # the other parameters were frozen during training: no gradient was even computed
    assert all(p.grad is None for n, p in model.named_parameters() if n not in changed)


def test_lora_with_new_token_rows_trains_only_the_markers_rows():
    model, tok = chat_model()
    apply_lora(model, r=2, alpha=4)
    lora = [p for n, p in model.named_parameters() if "lora_" in n]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = SFTConfig(steps=3, batch_size=4, lr=1e-2, min_lr=1e-3, warmup=1, weight_decay=0.5)
    train_sft(model, tok, EXAMPLES, cfg, params=None, train_new_token_rows=True)
    V, changed = len(BASE_TOK), set()
    for n, p in model.named_parameters():
        if not torch.equal(p, before[n]):
            changed.add(n)
    assert {"wte.weight", "lm_head.weight"} <= changed
    assert all("lora_" in n for n in changed - {"wte.weight", "lm_head.weight"})
    for name in ("wte.weight", "lm_head.weight"):
        p = dict(model.named_parameters())[name]
        assert torch.equal(p[:V], before[name][:V])  # the old rows: bit-identical
        assert not torch.equal(p[V:], before[name][V:])  # each marker row moved
        # user, assistant and end occur in every example (system in none)
        assert all(not torch.equal(p[tok.stoi[m]], before[name][tok.stoi[m]]) for m in MARKERS[1:])
    # the frozen parameters are frozen again, with no hook left behind
    assert [p.requires_grad for p in model.parameters()] == [
        any(p is q for q in lora) for p in model.parameters()
    ]
    assert not model.wte.weight._backward_hooks


def test_new_token_rows_masks_and_tied_head():
    model, tok = chat_model(tie=True)
    rows = sft.new_token_rows(model, tok)
    assert list(rows) == [model.wte.weight]  # one table
    mask = rows[model.wte.weight]
    assert (
        mask.shape == (len(tok), 1)
        and mask[: len(BASE_TOK)].sum() == 0
        and mask[len(BASE_TOK) :].eq(1).all()
    )


def test_train_sft_bad_input():
    model, tok = chat_model()
    with pytest.raises(ValueError, match="steps must be a positive int"):
        SFTConfig(steps=0)
    with pytest.raises(ValueError, match="min_lr"):
        SFTConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ValueError, match="examples must not be empty"):
        train_sft(model, tok, [], FAST)
    long = Example("num2zh", "把" + "1" * 60 + "写成中文数字", "十", ("十",))
    with pytest.raises(ValueError, match=r"examples\[1\]: the conversation is \d+ tokens long"):
        train_sft(model, tok, [EXAMPLES[0], long], FAST)
    with pytest.raises(ValueError, match=r"examples\[0\].*empty content"):
        train_sft(model, tok, [[{"role": "user", "content": " "}]], FAST)
    with pytest.raises(ValueError, match="not a parameter of model"):
        train_sft(model, tok, EXAMPLES, FAST, params=[torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="params must not be empty"):
        train_sft(model, tok, EXAMPLES, FAST, params=[])
    with pytest.raises(ValueError, match="already among the trained parameters"):
        train_sft(model, tok, EXAMPLES, FAST, train_new_token_rows=True)
    with pytest.raises(ValueError, match="no token for the marker"):
        train_sft(model, BASE_TOK, EXAMPLES, FAST)
    with pytest.raises(TypeError, match="ChatTokenizer"):
        sft.new_token_rows(model, BASE_TOK)
    with pytest.raises(TypeError, match="cfg must be a SFTConfig"):
        train_sft(model, tok, EXAMPLES, {"steps": 3})
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="none requires grad"):
        train_sft(model, tok, EXAMPLES, FAST)


# ------------------------------------------------------------------ generation


def test_batched_answers_equal_one_by_one_answers(tuned):
    model, tok, _ = tuned
    untrained, _ = chat_model(seed=3)  # runs to max_new_tokens, or stops anywhere
    prompts = [e.instruction for e in EXAMPLES] + ["把7写成中文", "评论:很好"]
    for m in (model, untrained):
        batched = generate_answers(m, tok, prompts, max_new_tokens=9, batch_size=64)
        small = generate_answers(m, tok, prompts, max_new_tokens=9, batch_size=2)
        assistant = CourseAssistant(m, tok, normalize_text=False)
        alone = [assistant.chat(p, max_tokens=9, temperature=0.0) for p in prompts]
        assert batched == small == alone
        assert all(not any(k in a for k in MARKERS) for a in batched)
    assert batched != generate_answers(untrained, tok, prompts, max_new_tokens=3)


def test_generation_stops_at_the_context():
    model, tok = chat_model(seed=3, block_size=20)
    prompt = "把1998写成中文数字"  # 11 characters + 3 markers = 14 tokens: room for 6
    [answer] = generate_answers(model, tok, [prompt], max_new_tokens=50)
    assert answer == CourseAssistant(model, tok, normalize_text=False).chat(prompt, max_tokens=50)
    assert len(tok.encode(answer)) <= 6
    five = "把1998写成中文数字12345"  # 19 tokens: room for one
    assert len(tok.encode(generate_answers(model, tok, [five], max_new_tokens=5)[0])) <= 1
    with pytest.raises(ValueError, match="no room for an answer"):
        generate_answers(model, tok, ["把1998写成中文数字123456"], max_new_tokens=5)


def test_generation_stops_once_every_row_has_ended(tuned):
    model, tok, _ = tuned
    calls = []
    hook = model.register_forward_hook(lambda m, i, o: calls.append(1))
    try:
        answers = generate_answers(model, tok, ["把12写成中文数字", "把40写成中文数字"], 30)
    finally:
        hook.remove()
    assert answers == ["十二", "四十"] and len(calls) == 3  # 2 characters, then <|end|>


def test_plain_prompts_stop_at_the_newline():
    model = base_model(seed=4)
    prompts = [few_shot_prompt(EXAMPLES[:1], "把7写成中文数字"), "问:把40写成中文数字\n答:"]
    answers = generate_answers(model, BASE_TOK, prompts, max_new_tokens=8, chat=False)
    for p, a in zip(prompts, answers):
        ids = torch.tensor([BASE_TOK.encode(p)])
        full = BASE_TOK.decode(model.generate(ids, 8, temperature=0)[0, ids.size(1) :].tolist())
        assert a == full.split("\n")[0]
    assert generate_answers(model, BASE_TOK, prompts, 8, batch_size=1, chat=False) == answers
    nl = BASE_TOK.stoi["\n"]
    _, tok = chat_model()
    assert sft.stop_ids(tok, chat=True) == [len(BASE_TOK) + k for k in range(4)]
    assert sft.stop_ids(BASE_TOK, chat=False) == [nl]
    assert sft._cut([5, 6, nl, 7, nl], [nl]) == [5, 6] and sft._cut([5, 6], [nl]) == [5, 6]
    assert sft._cut([nl], [nl]) == []


def test_few_shot_prompt():
    shots = EXAMPLES[:2]
    text = few_shot_prompt(shots, "把7写成中文数字")
    assert (
        text
        == "问:把12写成中文数字\n答:十二\n问:把305写成中文数字\n答:三百零五\n问:把7写成中文数字\n答:"
    )
    assert few_shot_prompt([], "你好") == "问:你好\n答:"
    # max_len drops the earliest shots first
    assert few_shot_prompt(shots, "把7写成中文数字", max_len=len(text)) == text
    assert (
        few_shot_prompt(shots, "把7写成中文数字", max_len=len(text) - 1)
        == text[text.index("问:把305") :]
    )
    assert few_shot_prompt(shots, "把7写成中文数字", max_len=13) == "问:把7写成中文数字\n答:"
    with pytest.raises(ValueError, match="the question alone is 13 characters"):
        few_shot_prompt(shots, "把7写成中文数字", max_len=12)
    with pytest.raises(TypeError, match=r"shots\[0\] must be a Example"):
        few_shot_prompt(["问答"], "你好")


def test_generate_answers_bad_input(tuned):
    model, tok, _ = tuned
    with pytest.raises(ValueError, match="instructions must not be empty"):
        generate_answers(model, tok, [], 5)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive int"):
        generate_answers(model, tok, ["你好"], 0)
    with pytest.raises(ValueError, match="messages"):
        generate_answers(model, tok, [[{"role": "assistant", "content": "好"}]], 5)
    with pytest.raises(TypeError, match="a plain prompt must be a str"):
        generate_answers(model, tok, [[1, 2]], 5, chat=False)
    with pytest.raises(ValueError, match="no newline token"):
        sft.stop_ids(CharTokenizer(["<unk>", "a"]), chat=False)


# ------------------------------------------------------------------ accuracy


def test_task_accuracy_counts_and_intervals(monkeypatch):
    calls = []

    def fake(model, tokenizer, prompts, max_new_tokens, batch_size=64, *, chat=True):
        calls.append((model, tokenizer, list(prompts), max_new_tokens, batch_size, chat))
        return ["十二 ", "三百零四", "七", "四十", "一千九百九十八", "好评", "好评"]

    monkeypatch.setattr(sft, "generate_answers", fake)
    model = base_model()
    scores = task_accuracy(model, BASE_TOK, EXAMPLES, max_new_tokens=9, batch_size=5)
    assert calls == [(model, BASE_TOK, [e.instruction for e in EXAMPLES], 9, 5, True)]
    assert list(scores) == ["num2zh", "sentiment"]
    num, sen = scores["num2zh"], scores["sentiment"]
    assert (num.task, num.k, num.n, num.accuracy) == ("num2zh", 4, 5, 0.8)
    assert num.correct == (True, False, True, True, True)
    assert num.answers == ("十二 ", "三百零四", "七", "四十", "一千九百九十八")
    assert (num.low, num.high) == wilson_interval(4, 5)
    assert (sen.k, sen.n, sen.correct, sen.accuracy) == (1, 2, (True, False), 0.5)
    assert (sen.low, sen.high) == wilson_interval(1, 2)
    assert isinstance(num, TaskScore)
    # the base model's baseline: few-shot plain prompts, fitted to the context
    shots = {"num2zh": EXAMPLES[:2], "sentiment": EXAMPLES[5:6]}
    task_accuracy(model, BASE_TOK, EXAMPLES, max_new_tokens=9, batch_size=3, shots=shots)
    m, tok, prompts, max_new, batch_size, chat = calls[-1]
    assert (m, tok, max_new, batch_size, chat) == (model, BASE_TOK, 9, 3, False)
    assert prompts[0] == few_shot_prompt(EXAMPLES[:2], EXAMPLES[0].instruction, 48 - 9)
    assert prompts[6] == few_shot_prompt(EXAMPLES[5:6], EXAMPLES[6].instruction, 48 - 9)
    assert all(len(p) <= 48 - 9 for p in prompts) and prompts[6].startswith("问:")
    with pytest.raises(ValueError, match=r"no examples for the tasks \['sentiment'\]"):
        task_accuracy(model, BASE_TOK, EXAMPLES, 9, shots={"num2zh": EXAMPLES[:1]})
    with pytest.raises(ValueError, match="no room for a prompt"):
        task_accuracy(model, BASE_TOK, EXAMPLES, 48, shots=shots)
    with pytest.raises(ValueError, match="the question alone"):  # room for 1: a prompt of 1
        task_accuracy(model, BASE_TOK, EXAMPLES, 47, shots=shots)
    with pytest.raises(TypeError, match=r"examples\[0\] must be a Example"):
        task_accuracy(model, BASE_TOK, ["问"], 9)
    with pytest.raises(ValueError, match="examples must not be empty"):
        task_accuracy(model, BASE_TOK, [], 9)
