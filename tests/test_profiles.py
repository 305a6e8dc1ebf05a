import pytest

from course_utils.tools.profiles import by_profile, get_profile


def test_env_var_chooses_profile(monkeypatch):
    for name in ("quick", "default", "gpu"):
        monkeypatch.setenv("COURSE_PROFILE", name)
        assert get_profile() == name
    monkeypatch.setenv("COURSE_PROFILE", " QUICK ")
    assert get_profile() == "quick"


def test_automatic_profile_without_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert get_profile() == "default"
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert get_profile() == "gpu"


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="expected one of"):
        get_profile()


def test_by_profile_picks_value_and_gpu_falls_back():
    assert by_profile(quick=1, default=2, gpu=3, profile="quick") == 1
    assert by_profile(quick=1, default=2, gpu=3, profile="gpu") == 3
    assert by_profile(quick=1, default=2, profile="gpu") == 2
    with pytest.raises(ValueError, match="profile must be one of"):
        by_profile(quick=1, default=2, profile="laptop")


# ---------------------------------------------------------------- smoke mode
from dataclasses import dataclass  # noqa: E402
from typing import ClassVar  # noqa: E402

from course_utils.tools.profiles import (  # noqa: E402
    RUN_LENGTH_FIELD,
    SMOKE_MAX_BATCH,
    SMOKE_MAX_EVAL,
    SMOKE_MAX_EVAL_CHARS,
    smoke_fields,
    smoke_mode,
    smoke_sizes,
)


@dataclass(frozen=True)
class _Sizes:
    d_model: int
    batch_size: int
    steps: int
    lines: int | None
    min_acc: float
    scaling_widths: tuple
    scaling_steps: int


QUICK = _Sizes(16, 8, 10, 500, 0.5, (8, 16), 5)
GPU = _Sizes(384, 64, 5000, None, 0.9, (64, 384), 2000)


def test_smoke_keeps_shapes_and_takes_run_length_from_quick(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert smoke_mode()
    got = by_profile(quick=QUICK, default=QUICK, gpu=GPU, profile="gpu")
    # steps: quick's 10, cut to SMOKE_MAX_STEPS = 2; batch_size: gpu's 64, cut to SMOKE_MAX_BATCH
    assert got == _Sizes(384, SMOKE_MAX_BATCH, 2, 500, 0.5, (64, 384), 2)
    assert smoke_fields(GPU) == ("steps", "lines", "min_acc", "scaling_steps")
    # quick is never changed, and without COURSE_SMOKE nothing is capped
    assert by_profile(quick=QUICK, default=GPU, profile="quick") == QUICK
    monkeypatch.setenv("COURSE_SMOKE", "0")
    assert by_profile(quick=QUICK, default=QUICK, gpu=GPU, profile="gpu") == GPU


def test_smoke_without_gpu_sizes_caps_default_and_scalars_take_quick(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert by_profile(quick=QUICK, default=GPU, profile="gpu").lines == 500
    assert by_profile(quick=3, default=100, gpu=1000, profile="gpu") == 3


def test_smoke_fields_can_be_declared():
    @dataclass(frozen=True)
    class Declared:
        SMOKE_FIELDS: ClassVar[tuple] = ("width",)
        width: int
        steps: int

    assert smoke_sizes(Declared(100, 100), Declared(1, 1)) == Declared(1, 100)

    @dataclass(frozen=True)
    class Timed:
        bench_repeat: int
        epochs: int
        keep_going: bool

    assert smoke_sizes(Timed(10, 20, True), Timed(5, 1, False)) == Timed(1, 1, True)

    @dataclass(frozen=True)
    class Evaluated:
        n_train: int
        n_valid: int
        n_pos: int

    # held-out sets are cut to SMOKE_MAX_EVAL; the training set keeps quick's size
    assert smoke_sizes(Evaluated(9000, 1000, 3000), Evaluated(3000, 300, 30)) == Evaluated(
        3000, SMOKE_MAX_EVAL, 30
    )

    @dataclass(frozen=True)
    class Scored:
        eval_chars: int
        width: int

    # held-out text is cut to SMOKE_MAX_EVAL_CHARS, a smaller quick value is kept
    assert smoke_sizes(Scored(30_000, 256), Scored(20_000, 32)) == Scored(SMOKE_MAX_EVAL_CHARS, 256)
    assert smoke_sizes(Scored(30_000, 256), Scored(1_000, 32)) == Scored(1_000, 256)

    @dataclass(frozen=True)
    class Batched:
        lm_batch: int
        batch_size: int
        main_batch_size: int
        n_batches: int
        batch_norm: bool
        cost_lengths: tuple

    # batch fields keep the profile's value up to SMOKE_MAX_BATCH (a smaller one is kept, and
    # quick's is not taken); a count of batches is run length; a sweep of lengths takes quick's
    assert SMOKE_MAX_BATCH == 4
    assert smoke_sizes(
        Batched(32, 3, 64, 50, True, (256, 8192)), Batched(8, 2, 8, 5, False, (64,))
    ) == (Batched(4, 3, 4, 5, True, (64,)))

    @dataclass(frozen=True)
    class Wrong:
        SMOKE_FIELDS: ClassVar[tuple] = ("depth",)
        width: int

    with pytest.raises(ValueError, match="not fields"):
        smoke_sizes(Wrong(2), Wrong(1))


def test_smoke_errors(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "maybe")
    with pytest.raises(ValueError, match="COURSE_SMOKE"):
        smoke_mode()
    with pytest.raises(TypeError, match="same dataclass"):
        smoke_sizes(GPU, 3)


@pytest.mark.parametrize(
    "name, quick",
    [
        ("steps", True),
        ("lever_steps", True),
        ("copy_epochs", True),
        ("zh_lines", True),
        ("en_sentences", True),
        ("n_valid", True),
        ("n_train", True),
        ("n_pos", True),
        ("bench_repeat", True),
        ("scale_trials", True),
        ("num_test_per_len", True),
        ("new_tokens", True),
        ("lr", True),
        ("min_sense_acc", True),
        ("num_min_acc", True),
        ("must_beat", True),
        ("chain_budget", True),
        ("eval_chars", True),
        ("cost_lengths", True),  # a sweep of lengths timed for a plot: the same code each time
        ("kv_lengths", True),
        ("d_model", False),
        ("n_layer", False),
        ("block_size", False),
        ("batch_size", False),
        ("hidden_dim", False),
        ("max_words", False),
        ("bpe_vocab", False),
        ("demo_width", False),
        ("bench_shape", False),
        ("sizes", False),
    ],
)
def test_field_name_convention(name, quick):
    assert bool(RUN_LENGTH_FIELD.search(name)) is quick
