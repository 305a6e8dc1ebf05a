"""The gpu profile fits a 24 GB card: every notebook's gpu sizes, counted on the meta device."""

from pathlib import Path

import pytest
import torch

from course_utils.tools.gpu_budget import (
    BUDGET_GB,
    ESTIMATES,
    NOTEBOOKS,
    estimate,
    has_gpu_sizes,
    notebook_sizes,
    peak_meta_bytes,
)
from course_utils.tools.gpu_check import course_notebooks

GPU_NOTEBOOKS = [p for p in course_notebooks() if has_gpu_sizes(p)]


def test_every_notebook_with_gpu_sizes_has_an_estimate(tmp_path):
    assert GPU_NOTEBOOKS, "no notebook declares gpu sizes"
    assert sorted(p.stem for p in GPU_NOTEBOOKS) == sorted(ESTIMATES)
    # a translation (NN_name.zh.ipynb) shares its original's sizes and estimate
    translation = tmp_path / "00_environment.zh.ipynb"
    translation.write_bytes((NOTEBOOKS / "00_environment.ipynb").read_bytes())
    assert estimate(translation).notebook == "00_environment"


@pytest.mark.parametrize("nb", GPU_NOTEBOOKS, ids=lambda p: p.stem)
def test_gpu_profile_fits_the_budget(nb):
    e = estimate(nb)
    assert e.total_gb <= BUDGET_GB, str(e)
    assert e.activation_bytes > 0


def test_sizes_are_read_per_profile():
    nb = NOTEBOOKS / "07_gpt.ipynb"
    quick, default, gpu = (notebook_sizes(nb, p) for p in ("quick", "default", "gpu"))
    assert quick.d_model < default.d_model < gpu.d_model
    assert type(quick).__name__ == type(gpu).__name__ == "Sizes"
    # a notebook without gpu sizes runs its default sizes in the gpu profile
    nb = NOTEBOOKS / "06_transformer.ipynb"
    assert not has_gpu_sizes(nb)
    assert repr(notebook_sizes(nb, "gpu")) == repr(notebook_sizes(nb, "default"))


def test_a_notebook_without_sizes_is_a_clear_error(tmp_path: Path):
    nb = tmp_path / "x.ipynb"
    nb.write_text('{"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}]}')
    with pytest.raises(ValueError, match="by_profile"):
        notebook_sizes(nb)
    with pytest.raises(ValueError, match="profile must be"):
        notebook_sizes(NOTEBOOKS / "07_gpt.ipynb", "laptop")


def _tiny_gpt():
    from course_utils.gpt import GPTConfig

    return GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=32).build()


def test_meta_count_equals_the_real_count_on_cpu():
    """The meta meter against the real-tensor meter (the reference) for one training step."""
    from course_utils.tools.bench import _peak_tensor_memory

    peak_tensor_memory = _peak_tensor_memory()

    def step(model, device):
        x = torch.zeros(4, 16, dtype=torch.long, device=device)
        return lambda: model(x, x)[1].backward()

    torch.manual_seed(0)
    real = peak_tensor_memory(step(_tiny_gpt(), "cpu"))[1]
    with torch.device("meta"):
        meta_model = _tiny_gpt()
    meta = peak_meta_bytes(step(meta_model, "meta"))
    assert real > 0
    assert meta == pytest.approx(real, rel=0.05)
