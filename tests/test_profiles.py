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
