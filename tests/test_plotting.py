import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.tools import plotting  # noqa: E402


def _render(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    return [str(w.message) for w in caught]


def test_a_cjk_font_is_installed_and_chinese_renders():
    name = plotting.setup_cjk_font()
    assert name is not None, plotting.INSTALL_HINT
    fig, ax = plt.subplots()
    ax.set_title("北京 上海 香蕉 —— 独热编码 −1.5")
    ax.set_xlabel("词向量 dimension")
    ax.plot([-1, 1], [0, 1])
    missing = [m for m in _render(fig) if "missing from" in m]
    assert not missing, missing


def test_without_setup_default_font_misses_glyphs():
    """The check above can fail: the default font alone lacks CJK glyphs."""
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("北京")
        assert any("missing from" in m for m in _render(fig))


def test_helpers_draw_and_validate():
    plotting.setup_cjk_font()
    ax = plotting.heatmap(np.eye(2), ["床", "前"], ["明", "月"], annotate=True, title="独热")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["明", "月"]
    plotting.scatter_2d(np.zeros((2, 2)), ["北京", "上海"])
    plotting.loss_curve([3, 2, 1.5, 1.2], smooth=2, label="loss")
    plt.close("all")
    with pytest.raises(ValueError, match="2-D matrix"):
        plotting.heatmap(np.zeros(3))
    with pytest.raises(ValueError, match="row_labels has 1 labels"):
        plotting.heatmap(np.zeros((2, 2)), row_labels=["a"])
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plotting.scatter_2d(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        plotting.loss_curve([])


def test_missing_font_warns_with_install_command(monkeypatch):
    monkeypatch.setattr(plotting, "find_cjk_font", lambda register=True: None)
    monkeypatch.setattr(plotting, "_warned", False)
    with pytest.warns(UserWarning, match="apt-get install -y fonts-wqy-microhei"):
        assert plotting.setup_cjk_font() is None


def test_annotation_text_contrasts_with_its_cell():
    for cmap in ("viridis", "Blues"):
        ax = plotting.heatmap(np.array([[0.0, 1.0]]), annotate=".1f", cmap=cmap, colorbar=False)
        colors = {t.get_text(): t.get_color() for t in ax.texts}
        if cmap == "Blues":  # light at low values, dark at high
            assert colors == {"0.0": "black", "1.0": "white"}
        else:  # viridis: dark at low values, light at high
            assert colors == {"0.0": "white", "1.0": "black"}
        plt.close("all")
