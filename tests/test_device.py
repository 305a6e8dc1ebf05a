import random

import numpy as np
import pytest
import torch

from course_utils.tools.device import get_device, set_seed


def test_get_device_falls_back_to_cpu_without_accelerators():
    dev = get_device()
    assert isinstance(dev, torch.device)
    if not torch.cuda.is_available():
        assert dev.type in ("cpu", "mps")


def test_get_device_prefer_cpu_and_bad_names():
    assert get_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="one of 'cpu', 'cuda', 'mps'"):
        get_device("tpu")
    with pytest.raises(TypeError, match="must be a string"):
        get_device(0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            get_device("cuda")


def test_set_seed_makes_python_numpy_torch_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002 -- the global RNG set_seed seeds

    set_seed(123)
    a = draw()
    set_seed(123)
    b = draw()
    set_seed(124)
    c = draw()
    assert a == b
    assert a != c


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", True])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises((TypeError, ValueError), match="seed must be"):
        set_seed(bad)
