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


def test_place_labels_keeps_a_crowded_plot_readable():
    plotting.setup_cjk_font()
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.05, (30, 2)), rng.normal(3, 1.0, (30, 2))])  # (60, 2)
    words = [f"词{i}" for i in range(len(points))]
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(points[:, 0], points[:, 1], s=10)
    texts = plotting.place_labels(ax, points, words)
    assert plotting.label_problems(ax, texts) == (0, 0)  # no overlap, none outside the axes
    assert 0 < len(texts) < len(points)  # the tight cluster cannot hold every label
    assert texts[0].get_text() == "词0"  # the first label always fits: commonest first
    # Without the helper, the same labels overlap
    naive = [
        ax.annotate(w, p, xytext=(3, 3), textcoords="offset points") for w, p in zip(words, points)
    ]
    assert plotting.label_problems(ax, naive)[0] > 0
    plt.close(fig)


def test_place_labels_avoid_points_labels_each_point_nearest_its_own():
    plotting.setup_cjk_font()
    points = np.array([[0.0, 0.0], [0.02, 0.02], [1.0, 1.0], [1.0, 1.03]])  # two close pairs
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.scatter(points[:, 0], points[:, 1])
    ax.margins(0.3)
    texts = plotting.place_labels(ax, points, ["莫斯科", "伦敦", "巴黎", "法国"], avoid_points=True)
    assert len(texts) == 4 and plotting.label_problems(ax, texts) == (0, 0)
    renderer = fig.canvas.get_renderer()
    pixels = ax.transData.transform(points)  # (4, 2)
    for i, text in enumerate(texts):
        box = text.get_window_extent(renderer)
        dx = np.maximum(np.maximum(box.x0 - pixels[:, 0], pixels[:, 0] - box.x1), 0)
        dy = np.maximum(np.maximum(box.y0 - pixels[:, 1], pixels[:, 1] - box.y1), 0)
        dist = np.hypot(dx, dy)
        assert dist.argmin() == i and np.all(np.delete(dist, i) > 0)  # covers no other point
    plt.close(fig)
    # Points too close for a label beside each: the last ones go farther out, joined by a line
    fig, ax = plt.subplots(figsize=(4, 3))
    cluster = np.array([[0.0, 0.0], [0.004, 0.0], [0.008, 0.0], [0.012, 0.0], [1.0, 1.0]])
    ax.scatter(cluster[:, 0], cluster[:, 1])
    ax.margins(0.3)
    texts = plotting.place_labels(ax, cluster, list("ABCDE"), avoid_points=True)
    assert len(texts) == 5 and plotting.label_problems(ax, texts) == (0, 0)
    assert any(t.arrow_patch is not None for t in texts)
    plt.close(fig)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plotting.place_labels(ax, np.zeros(3), ["a", "b", "c"])
    with pytest.raises(ValueError, match="2 labels for 1 points"):
        plotting.place_labels(ax, np.zeros((1, 2)), ["a", "b"])
