"""The loops of chapter 09 after SFT: seeded sampling (sft.sample_answers), DPO's pairs and
training (dpo.preference_pairs, train_dpo, evaluate_pairs), GRPO's rewards and training
(grpo.rewards_of, encode_groups, train_grpo), and make_assistant's tiny run."""

import pytest
import torch

from course_utils.assistant import load_assistant
from course_utils.chat_template import IGNORE_INDEX, ChatTokenizer, sft_example
from course_utils.dpo import (
    DPOConfig,
    PreferencePair,
    copy_model,
    encode_pairs,
    evaluate_pairs,
    frozen_reference,
    pair_logprobs,
    preference_pairs,
    sample_preference_pairs,
    score_pairs,
    sequence_logprob,
    train_dpo,
)
from course_utils.gpt import GPTConfig
from course_utils.grpo import GRPOConfig, encode_groups, pass_rates, rewards_of, train_grpo
from course_utils.instruction_data import Example
from course_utils.sft import SFTConfig, sample_answers, train_sft


def numeral(n: int, zh: str) -> Example:
    return Example("num2zh", f"把{n}写成中文数字", zh, (zh,), 0, str(n))


EXAMPLES = [numeral(12, "十二"), numeral(305, "三百零五"), numeral(7, "七"), numeral(40, "四十")]
TOK = ChatTokenizer.from_texts([e.instruction + e.answer for e in EXAMPLES] + ["八九千万"])


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def chat_model(seed: int = 0):
    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=len(TOK), block_size=40, n_layer=1, n_head=2, d_model=16)
    return cfg.build().eval()


@pytest.fixture(scope="module")
def half_tuned():
    """A tiny model that has seen a few SFT steps: it answers, but not always right."""
    torch.set_num_threads(1)
    model = chat_model()
    train_sft(model, TOK, EXAMPLES, SFTConfig(steps=60, batch_size=4, lr=1e-2, warmup=1))
    return model


# ------------------------------------------------------------------ sampling


def test_sample_answers_is_seeded_and_shaped(half_tuned):
    prompts = [e.instruction for e in EXAMPLES[:3]]
    a = sample_answers(half_tuned, TOK, prompts, 5, 8, seed=3)
    assert len(a) == 3 and all(len(group) == 5 for group in a)
    assert a == sample_answers(half_tuned, TOK, prompts, 5, 8, seed=3)
    assert a != sample_answers(half_tuned, TOK, prompts, 5, 8, seed=4)
    assert all(m not in s for group in a for s in group for m in ("<|end|>", "<|user|>"))
    assert all(len(s) <= 8 for group in a for s in group)
    assert len({s for group in a for s in group}) > 3  # sampled, not greedy copies


def test_sample_answers_bad_input(half_tuned):
    with pytest.raises(ValueError, match="temperature"):
        sample_answers(half_tuned, TOK, ["把7写成中文数字"], 2, 4, temperature=0)
    with pytest.raises(ValueError, match="n"):
        sample_answers(half_tuned, TOK, ["把7写成中文数字"], 0, 4)
    with pytest.raises(ValueError, match="instructions"):
        sample_answers(half_tuned, TOK, [], 2, 4)


# ------------------------------------------------------------------ DPO


def test_preference_pairs_take_the_gold_and_the_first_wrong_sample():
    sampled = [["十二", "十三", "二十"], ["三百零五", "三百零五"], ["", "七"], ["四 十", "四"]]
    pairs = preference_pairs(EXAMPLES, sampled)
    assert pairs == [
        PreferencePair("num2zh", EXAMPLES[0].instruction, "十二", "十三"),
        PreferencePair("num2zh", EXAMPLES[2].instruction, "七", ""),
        PreferencePair("num2zh", EXAMPLES[3].instruction, "四十", "四"),
    ]  # 305 was always right: no pair; "四 十" is right once cleaned
    with pytest.raises(ValueError, match="one list per example"):
        preference_pairs(EXAMPLES, sampled[:2])
    with pytest.raises(TypeError, match="examples"):
        preference_pairs(["把7写成中文数字"], [["八"]])


def test_pair_logprobs_match_sequence_logprob(half_tuned):
    pairs = [PreferencePair("num2zh", e.instruction, e.answer, "八") for e in EXAMPLES]
    enc = encode_pairs(TOK, pairs, 40)
    pc, pr, nll = pair_logprobs(half_tuned, enc)
    for i, ((xc, yc), (xr, yr)) in enumerate(enc):
        one_c = sequence_logprob(half_tuned, torch.tensor([xc]), torch.tensor([yc]))
        one_r = sequence_logprob(half_tuned, torch.tensor([xr]), torch.tensor([yr]))
        torch.testing.assert_close(pc[i], one_c[0])
        torch.testing.assert_close(pr[i], one_r[0])
        n_answer = sum(t != IGNORE_INDEX for t in yc)
        assert n_answer == len(pairs[i].chosen) + 1  # the answer and its <|end|>
        torch.testing.assert_close(nll[i], -one_c[0] / n_answer)
    assert enc[0][0] == sft_example(TOK, pairs[0].conversations()[0], 40)
    empty = encode_pairs(TOK, [PreferencePair("num2zh", "把7写成中文数字", "七", "")], 40)
    assert [t for t in empty[0][1][1] if t != IGNORE_INDEX] == [TOK.stoi["<|end|>"]]


def test_dpo_training_separates_held_out_pairs(half_tuned):
    policy, ref = copy_model(half_tuned), frozen_reference(half_tuned)
    pairs = [PreferencePair("num2zh", e.instruction, e.answer, "八九") for e in EXAMPLES]
    before = evaluate_pairs(policy, ref, TOK, pairs, beta=0.5)
    assert before["accuracy"] == 0 and before["margin"] == pytest.approx(0, abs=1e-6)
    cfg = DPOConfig(steps=15, batch_size=4, lr=1e-2, warmup=0, beta=0.5)
    hist = train_dpo(policy, ref, TOK, pairs, cfg)
    assert len(hist["loss"]) == 15 and hist["loss"][-1] < hist["loss"][0]
    after = evaluate_pairs(policy, ref, TOK, pairs, beta=0.5)
    assert after["accuracy"] == 1 and after["margin"] > 0.5
    pc, pr = score_pairs(policy, TOK, pairs, batch_size=3)
    assert after["ranking_accuracy"] == (pc > pr).float().mean().item() == 1.0
    assert after["rejected_logp"] == pytest.approx(pr.mean().item())
    assert after["chosen_logp"] == pytest.approx(pc.mean().item())
    for p, q in zip(ref.parameters(), half_tuned.parameters()):
        assert torch.equal(p, q)  # the reference never moved
    assert not policy.training


def test_the_nll_term_keeps_the_chosen_answer_likely(half_tuned):
    """Near-identical pairs: DPO alone may push both answers down; RPO's NLL term holds the
    chosen one up (higher log-probability than without it)."""
    pairs = [
        PreferencePair("num2zh", e.instruction, e.answer, e.answer[:-1] + "八") for e in EXAMPLES
    ]
    out = {}
    for w in (0.0, 2.0):
        policy, ref = copy_model(half_tuned), frozen_reference(half_tuned)
        train_dpo(
            policy,
            ref,
            TOK,
            pairs,
            DPOConfig(steps=20, batch_size=4, lr=1e-2, warmup=0, beta=0.5, nll_weight=w),
        )
        out[w] = evaluate_pairs(policy, ref, TOK, pairs, beta=0.5)["chosen_logp"]
    assert out[2.0] > out[0.0]


def test_train_dpo_bad_input(half_tuned):
    pairs = [PreferencePair("num2zh", "把7写成中文数字", "七", "八")]
    with pytest.raises(ValueError, match="frozen"):
        train_dpo(copy_model(half_tuned), copy_model(half_tuned), TOK, pairs, DPOConfig())
    with pytest.raises(TypeError, match="cfg"):
        train_dpo(half_tuned, frozen_reference(half_tuned), TOK, pairs, {"steps": 1})
    with pytest.raises(ValueError, match="pairs"):
        train_dpo(half_tuned, frozen_reference(half_tuned), TOK, [], DPOConfig())
    with pytest.raises(ValueError, match="beta"):
        DPOConfig(beta=0)
    with pytest.raises(ValueError, match="nll_weight"):
        DPOConfig(nll_weight=-1)


def test_sample_preference_pairs(half_tuned):
    pairs = sample_preference_pairs(half_tuned, TOK, EXAMPLES, 6, 8, seed=0)
    assert pairs and all(p.chosen in {e.answer for e in EXAMPLES} for p in pairs)
    assert all(p.rejected != p.chosen for p in pairs)
    assert pairs == sample_preference_pairs(half_tuned, TOK, EXAMPLES, 6, 8, seed=0)


# ------------------------------------------------------------------ GRPO


def test_rewards_and_encoded_groups():
    groups = [["十二", "十三"], ["三百零五", "三百五"]]
    r = rewards_of(EXAMPLES[:2], groups)
    assert r.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    x, y = encode_groups(TOK, EXAMPLES[:2], groups, 40)
    assert x.shape[0] == 4 and x.shape == y.shape
    answer_tokens = (y != IGNORE_INDEX).sum(-1).tolist()
    assert answer_tokens == [3, 3, 5, 4]  # each answer and its <|end|>, in group order
    with pytest.raises(ValueError, match="groups"):
        rewards_of(EXAMPLES[:2], groups[:1])


def test_pass_rates_are_shares_of_a_group(half_tuned):
    cfg = GRPOConfig(group_size=6, max_new_tokens=8)
    rates = pass_rates(half_tuned, TOK, EXAMPLES, cfg, seed=0)
    assert rates.shape == (4,)
    assert all(k / 6 == pytest.approx(v) for v in rates.tolist() for k in [round(v * 6)])


def test_grpo_raises_the_reward(half_tuned):
    policy, ref = copy_model(half_tuned), frozen_reference(half_tuned)
    cfg = GRPOConfig(
        iterations=12, prompts_per_iteration=4, group_size=8, lr=5e-3, max_new_tokens=8, beta=0.0
    )
    before = pass_rates(policy, TOK, EXAMPLES, cfg, seed=99).mean().item()
    hist = train_grpo(policy, ref, TOK, EXAMPLES, cfg)
    assert len(hist["reward"]) == 12 and len(hist["clip_fraction"]) == 12
    after = pass_rates(policy, TOK, EXAMPLES, cfg, seed=99).mean().item()
    assert after > before
    assert max(hist["clip_fraction"]) > 0  # two inner steps: the clip acts on the second
    assert all(k >= 0 for k in hist["kl"])


def test_grpo_bad_input(half_tuned):
    with pytest.raises(ValueError, match="group_size"):
        GRPOConfig(group_size=1)
    with pytest.raises(ValueError, match="frozen"):
        train_grpo(half_tuned, copy_model(half_tuned), TOK, EXAMPLES, GRPOConfig())
    with pytest.raises(ValueError, match="examples"):
        train_grpo(half_tuned, frozen_reference(half_tuned), TOK, [], GRPOConfig())


# ------------------------------------------------------------------ the assistant


def test_make_assistant_quick(tmp_path):
    from course_utils.make_assistant import main

    out = tmp_path / "assistant.pt"
    assert main(["--quick", "--out", str(out)]) == 0
    bot = load_assistant(out)
    prov = bot.provenance
    assert prov["stages"] == ["sft", "dpo"] and prov["dpo_pairs"] > 0
    assert set(prov["accuracy"]["sft"]) == {"num2zh", "zh2num", "sentiment", "idiom", "pos"}
    assert prov["recipe"]["sft"]["steps"] == 4
    assert isinstance(bot.chat([{"role": "user", "content": "你好"}], max_tokens=3), str)
