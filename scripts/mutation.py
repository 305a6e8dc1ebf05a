"""Mutation testing of the taught modules with mutmut: ``make mutation`` (not part of make test).

    python scripts/mutation.py                     # every taught module, smallest first
    python scripts/mutation.py norms rope          # some of them
    python scripts/mutation.py --jobs 1 norms      # one mutant at a time (default: every core)
    python scripts/mutation.py --report norms      # the table again, from the last run
    python scripts/mutation.py --survivors norms   # only its survivors (and any mutant a stopped
                                                   # run left unchecked), against today's tests

A mutant is the module with one small change (``+`` -> ``-``, ``2`` -> ``3``, ``<`` -> ``<=``,
``dim=-1`` -> ``dim=-2``, ...); the tests "kill" it when one of them fails. A formula that can
change without a test failing is not pinned by the tests.

For each module the script copies the package, the tests, ``data/`` (the package data the tests
read), ``configs/``, the shipped ``checkpoints/`` and the root conftest into
``.cache/mutation/<module>/``, writes there a ``pyproject.toml`` whose ``[tool.mutmut]`` section
mutates that module only and runs the unit test files of ``MODULE_TESTS``, and runs mutmut. The
notebook tests never run: the notebook-sync test fails on any edit to a mirrored function, whether
or not the maths changed, so it would "kill" every mutant and prove nothing. mutmut runs, for each
mutant, only the tests that reach the mutated function.

Each mutant falls in one category, by the line that it changes:

* message: only a string changes (an error's text). Lines that hold only a string are not mutated
  at all (``do_not_mutate_patterns``), nor are ``raise`` and ``assert`` statements, the calls
  to the input-check helpers (``positive_int(...)``, ``_check_*(...)``) and the bodies of the
  modules' own ``check_*`` functions;
* input-check: the condition of an ``if`` whose body only raises or calls a check helper, and
  an assignment from a check helper (``dims = tensor_shape("src", src, "batch seq")``);
* formula: everything else (arithmetic, constants, comparisons, indices, axes).

The score is killed / formula mutants (a timeout counts as killed). The formula mutants that
survive are printed with their diff: each is either equivalent (it computes the same values,
e.g. ``max(step, 1)`` -> ``max(step, 2)`` where step 1 is never asked for) or a gap in the tests.
mutmut does not mutate functions with decorators other than @staticmethod and @classmethod
(``@property``) nor code outside functions (dataclass defaults); a top-level function under
``@torch.no_grad()`` is made mutable by applying that decorator after the definition instead.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".cache" / "mutation"

# The taught modules and the unit test files that pin each of them.
MODULE_TESTS = {
    "alibi": ["test_rope.py"],
    "attention": ["test_attention.py"],
    "chat_template": ["test_chat_template.py"],
    "cooccurrence": ["test_cooccurrence.py"],
    "decoding": ["test_decoding.py"],
    "dpo": ["test_dpo.py"],
    "corpus_cleaning": ["test_corpus_cleaning.py"],
    "elmo": ["test_elmo.py"],
    "gpt": ["test_gpt.py", "test_generation.py", "test_hf_configs.py"],
    "gpt_classifier": ["test_gpt_classifier.py"],
    "gpt_compared": ["test_gpt_compared.py"],
    "instruction_data": ["test_instruction_data.py"],
    "grpo": ["test_grpo.py"],
    "label_scoring": ["test_label_scoring.py", "test_exercises_gpt_compared.py"],
    "llama": [
        "test_llama.py",
        "test_generation.py",
        "test_hf_configs.py",
        "test_bf16_autocast.py",
    ],
    "lora": ["test_lora.py"],
    "model_size": ["test_model_size.py"],
    "ngram": ["test_ngram.py"],
    "norms": ["test_norms.py"],
    "polysemy": ["test_polysemy.py"],
    "rope": ["test_rope.py"],
    "sampling": ["test_gpt.py", "test_generation.py"],
    "seq2seq_training": ["test_seq2seq_training.py"],
    "sft": ["test_sft.py"],
    "statistics": ["test_statistics.py"],
    "train_elmo": ["test_train_elmo.py"],
    "train_gpt": ["test_train_gpt.py"],
    "training_compute": ["test_training_compute.py"],
    "transformer": ["test_transformer.py", "test_seq2seq_training.py"],
    "word2vec": ["test_word2vec.py"],
}
# Never in a mutation run (see the docstring); the selection above holds none of them anyway.
NOTEBOOK_TESTS = [
    "--ignore-glob=tests/test_notebook_*.py",
    "--ignore=tests/test_nbval_harness.py",
    "--ignore=tests/test_translations.py",
    "--ignore=tests/test_execute.py",
]
COPIED = ["course_utils", "tests", "data", "configs", "checkpoints", "conftest.py"]
# course_utils/tools/checks.py's one-line input checks, and the modules' own _check_* helpers
CHECK_CALL = re.compile(
    r"^(_?check\w*|positive_int|non_negative_int|finite_number|probability|one_of|non_empty"
    r"|instance_of|tensor_shape)$"
)
# a line that holds only a string (the continuation of a message), maybe closing a call
STRING_ONLY = r"""^\s*[rRfFbBuU]*("[^"]*"|'[^']*')\s*[),]*\s*(#.*)?$"""

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout"}
STATUS.update({-24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout"})


# ------------------------------------------------------------------ the module's lines


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    return ""


def check_lines(source: str) -> tuple[set[int], set[int]]:
    """(lines not to mutate: raise, assert, check-helper calls; lines of if-guard conditions)."""
    skip: set[int] = set()
    guards: set[int] = set()

    def span(node: ast.AST) -> range:
        return range(node.lineno, (node.end_lineno or node.lineno) + 1)  # type: ignore[attr-defined]

    def is_check(s: ast.stmt) -> bool:
        return isinstance(s, ast.Raise) or (
            isinstance(s, ast.Expr) and bool(CHECK_CALL.match(_call_name(s.value)))
        )

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Raise, ast.Assert)) or (
            isinstance(node, ast.stmt) and is_check(node)
        ):
            skip.update(span(node))
        elif isinstance(node, ast.FunctionDef) and CHECK_CALL.match(node.name):
            skip.update(range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, ast.Assign) and CHECK_CALL.match(_call_name(node.value)):
            guards.update(span(node))  # dims = tensor_shape("x", x, "batch seq"): a check
        elif isinstance(node, ast.If) and all(is_check(s) for s in node.body):
            guards.update(span(node.test))
            guards.add(node.lineno)
    return skip, guards


def mutmut_config(module: str, source: str) -> str:
    """The [tool.mutmut] section for one module: its tests, the data, the lines not to mutate."""
    skip, _ = check_lines(source)
    lines = source.splitlines()
    texts = {lines[i - 1] for i in skip if lines[i - 1].strip()}
    # a skipped line's text, unless the same text also stands on a line that is mutated
    texts = {t for t in texts if all(i in skip for i, s in enumerate(lines, 1) if s == t)}
    patterns = [STRING_ONLY] + ["^" + re.escape(t) + "$" for t in sorted(texts)]

    def toml_list(items: list[str]) -> str:
        return "[\n" + "".join(f"    {json.dumps(x)},\n" for x in items) + "]"

    tests = [f"tests/{t}" for t in MODULE_TESTS[module]]
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["course_utils"]\n'
        f'only_mutate = ["course_utils/{module}.py"]\n'
        f"also_copy = {toml_list(COPIED[2:])}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        f"pytest_add_cli_args = {toml_list(['-p', 'no:cacheprovider', *NOTEBOOK_TESTS])}\n"
        f"do_not_mutate_patterns = {toml_list(patterns)}\n"
        'process_isolation = "forkserver"  # torch is not fork-safe once its threads run\n'
        "use_git_change_detection = false\n"
    )


# ------------------------------------------------------------------------- running


NO_GRAD = "@torch.no_grad()"


def undecorate_no_grad(source: str) -> str:
    """The module with its top-level ``@torch.no_grad()`` functions open to mutation.

    mutmut leaves decorated functions alone, so the decorator line is blanked (the line
    numbers stay) and the same decorator is applied at the end of the module instead, to the
    name mutmut's trampoline then holds: the function runs without gradients as before.
    """
    lines = source.splitlines()
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                if ast.get_source_segment(source, dec) == NO_GRAD[1:]:
                    lines[dec.lineno - 1] = ""
                    names.append(node.name)
    if not names:
        return source
    tail = [
        f"{name} = torch.no_grad()({name})  # mutation run: see scripts/mutation.py"
        for name in names
    ]
    return "\n".join(lines + ["", *tail]) + "\n"


def prepare(module: str) -> Path:
    """A fresh snapshot of the package, tests and data in .cache/mutation/<module>/."""
    work = WORK / module
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        else:
            shutil.copy2(src, work / name)
    source = (ROOT / "course_utils" / f"{module}.py").read_text(encoding="utf-8")
    source = undecorate_no_grad(source)
    (work / "course_utils" / f"{module}.py").write_text(source, encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = pyproject.split("\n[tool.mutmut]")[0]  # a section of our own, never two
    (work / "pyproject.toml").write_text(pyproject + mutmut_config(module, source), "utf-8")
    return work


def run_mutmut(module: str, jobs: int) -> float:
    work = prepare(module)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_NO_PROGRESS": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    t0 = time.perf_counter()
    with open(work / "mutmut.log", "w", encoding="utf-8") as log:
        cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)]
        proc = subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = (work / "mutmut.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed on {module} (exit {proc.returncode}):\n{tail}")
    return time.perf_counter() - t0


def to_rerun(found: dict) -> list[str]:
    """The mutants ``--survivors`` runs again: survivors, those without a test, timeouts (a
    busy machine can cause one) and those a stopped run never reached; but not a surviving
    message mutant, which does not count in the score."""
    again = ("survived", "no tests", "timeout", "not checked")
    return [
        name
        for name, m in found.items()
        if m["status"] in again and (m["category"] != "message" or m["status"] == "not checked")
    ]


def rerun_survivors(module: str, jobs: int) -> float:
    """Run again, against the current tests, only the mutants that survived (or timed out in)
    the last run, and those it never reached (a run stopped part-way resumes this way).
    Surviving message mutants are left as they are: they do not count in the score.

    The module itself must not have changed since that run (its mutants would be stale); the
    tests are copied afresh and mutmut collects its test-to-function map again, so that new
    and changed tests are chosen for the mutants they reach.
    """
    work = WORK / module
    found = results(module)
    source = undecorate_no_grad((ROOT / "course_utils" / f"{module}.py").read_text("utf-8"))
    if source != (work / "course_utils" / f"{module}.py").read_text("utf-8"):
        raise SystemExit(f"course_utils/{module}.py changed since its last run: run it in full")
    names = to_rerun(found)
    if not names:
        return 0.0
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for tests in (work / "tests", work / "mutants" / "tests"):
        shutil.rmtree(tests)
        shutil.copytree(ROOT / "tests", tests, ignore=ignore)
    pyproject = (work / "pyproject.toml").read_text(encoding="utf-8").split("\n[tool.mutmut]")[0]
    for folder in (work, work / "mutants"):
        (folder / "pyproject.toml").write_text(pyproject + mutmut_config(module, source), "utf-8")
    (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_NO_PROGRESS": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    t0 = time.perf_counter()
    with open(work / "mutmut.log", "a", encoding="utf-8") as log:
        cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names]
        proc = subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = (work / "mutmut.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed on {module} (exit {proc.returncode}):\n{tail}")
    return time.perf_counter() - t0


# ------------------------------------------------------------------------- results


def _code_tokens(line: str) -> list[tuple[int, str]] | None:
    """The line's tokens with every string blanked (None if it does not tokenize alone)."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    strings = {tokenize.STRING} | {
        getattr(tokenize, n)
        for n in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
        if hasattr(tokenize, n)
    }
    return [(t.type, "" if t.type in strings else t.string) for t in toks]


# keyword arguments that only label output (a CLI's help, a progress bar's text)
DISPLAY_KEYWORDS = {"help", "metavar", "prog", "description", "epilog", "desc", "unit"}


DISPLAY_ARG = re.compile(
    r"\b(" + "|".join(sorted(DISPLAY_KEYWORDS)) + r")\s*=\s*(None|\"[^\"]*\"|'[^']*')\s*,?"
)


def _display_only(old: list[str], new: list[str]) -> bool:
    """The mutant changes or drops only labels: ``help="..."``-like arguments, or sets one to
    None (compared as text, so that a diff line may hold half a call)."""

    def bare(lines: list[str]) -> str:
        return re.sub(r"\s+", "", DISPLAY_ARG.sub("", " ".join(lines)))

    return bare(old) == bare(new)


def classify(diff: str, guard_texts: set[str]) -> str:
    old = [x[1:] for x in diff.splitlines() if x.startswith("-") and not x.startswith("---")]
    new = [x[1:] for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++")]
    if len(old) == len(new) and old:
        if all(
            (a := _code_tokens(o)) is not None and a == _code_tokens(n) for o, n in zip(old, new)
        ):
            return "message"
    if old and _display_only(old, new):
        return "message"
    if old and all(o.strip() in guard_texts for o in old):
        return "input-check"
    return "formula"


def results(module: str) -> dict:
    """Every mutant of the module: status, category and diff (read from mutmut's own files)."""
    work = WORK / module
    meta = work / "mutants" / "course_utils" / f"{module}.py.meta"
    if not meta.is_file():
        raise SystemExit(
            f"no mutation results for {module}: run python scripts/mutation.py {module}"
        )
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    source = (work / "course_utils" / f"{module}.py").read_text(encoding="utf-8")
    _, guards = check_lines(source)
    lines = source.splitlines()
    guard_texts = {lines[i - 1].strip() for i in guards}
    cwd = os.getcwd()
    os.chdir(work)  # mutmut reads its config and files relative to the working directory
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        out = {}
        for name, code in codes.items():
            diff = get_diff_for_mutant(name, path=f"course_utils/{module}.py")
            status = STATUS.get(code, "suspicious" if code is not None else "not checked")
            out[name] = {"status": status, "category": classify(diff, guard_texts), "diff": diff}
    finally:
        os.chdir(cwd)
    return out


def summary(module: str, found: dict) -> dict:
    formula = [m for m in found.values() if m["category"] == "formula"]
    killed = sum(m["status"] in ("killed", "timeout") for m in formula)
    return {
        "module": module,
        "mutants": len(found),
        "message": sum(m["category"] == "message" for m in found.values()),
        "input-check": sum(m["category"] == "input-check" for m in found.values()),
        "formula": len(formula),
        "killed": killed,
        "score": killed / len(formula) if formula else float("nan"),
        "input-check survived": sum(
            m["category"] == "input-check" and m["status"] not in ("killed", "timeout")
            for m in found.values()
        ),
    }


def _short(diff: str) -> str:
    keep = [x for x in diff.splitlines()[2:] if x[:1] in "-+"]
    return "\n".join("      " + x.strip()[:1] + " " + x[1:].strip() for x in keep)


def report(module: str, show: bool = True) -> dict:
    found = results(module)
    s = summary(module, found)
    if show:
        for name, m in sorted(found.items()):
            if m["category"] == "formula" and m["status"] not in ("killed", "timeout"):
                print(f"    {m['status']}: {name}\n{_short(m['diff'])}")
    (WORK / module / "summary.json").write_text(json.dumps(s, indent=1), encoding="utf-8")
    return s


def print_table(rows: list[dict]) -> None:
    print(
        "| module | mutants | message | input-check (survived) | formula | killed | score |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for s in rows:
        print(
            f"| {s['module']} | {s['mutants']} | {s['message']} | {s['input-check']} "
            f"({s['input-check survived']}) | {s['formula']} | {s['killed']} | {s['score']:.0%} |"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("modules", nargs="*", help=f"default: all of {sorted(MODULE_TESTS)}")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at a time")
    p.add_argument("--report", action="store_true", help="only print the last run's results")
    p.add_argument(
        "--survivors",
        action="store_true",
        help="run again only the last run's surviving (or unchecked) mutants, on today's tests",
    )
    args = p.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULE_TESTS))
    if unknown:
        p.error(f"unknown modules {unknown}; taught modules: {sorted(MODULE_TESTS)}")
    size = lambda m: len((ROOT / "course_utils" / f"{m}.py").read_text("utf-8").splitlines())
    modules = sorted(args.modules or MODULE_TESTS, key=size)
    rows = []
    for module in modules:
        if args.survivors:
            print(f"{module}: the last run's survivors again ...", flush=True)
            seconds = rerun_survivors(module, args.jobs)
            print(f"  done in {seconds:.0f} s", flush=True)
        elif not args.report:
            print(f"{module}: mutmut over {', '.join(MODULE_TESTS[module])} ...", flush=True)
            seconds = run_mutmut(module, args.jobs)
            print(f"  done in {seconds:.0f} s (log: {WORK / module / 'mutmut.log'})", flush=True)
        rows.append(report(module))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
