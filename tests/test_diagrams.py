"""The course's diagrams: each draws, has its size and key labels, keeps every label inside the
figure and inside its box, has no two labels on top of each other, renders its Chinese, and is
the same on every run."""

import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from course_utils import diagrams  # noqa: E402
from course_utils.tools import plotting  # noqa: E402

# name -> (size in inches, labels that must appear)
EXPECTED = {
    "word2vec_figure": (
        (9.5, 7.5),
        [
            "跳元模型",
            "连续词袋模型",
            "负采样",
            "V  input vectors",
            "U  output vectors",
            "mean",
            "中心词",
            "上下文词",
            "target",
        ],
    ),
    "lstm_figure": (
        (9.5, 6.3),
        [
            "循环神经网络",
            "长短期记忆网络",
            "遗忘门",
            "输入门",
            "输出门",
            "隐状态",
            "tanh",
            r"$c_{t-1}$",
            r"$h_{t-1}$",
            "candidate",
        ],
    ),
    "elmo_figure": (
        (9.5, 7.55),
        [
            "字符卷积网络",
            "双向语言模型",
            "标量混合",
            "<bow>",
            "convolutions of widths 1, 2, 3, 4",
            "max-pool",
            "Highway",
            "Linear projection",
            "softmax (shared)",
            r"$s_0$",
            "γ",
        ],
    ),
    "self_attention_figure": (
        (9.5, 4.35),
        [
            "自注意力",
            "X",
            "Q",
            "K",
            "V",
            r"$(n,\ d_{model})$",
            r"$(n,\ d_k)$",
            r"$(n,\ n)$",
            "softmax",
            "P V",
            "Z",
        ],
    ),
    "multi_head_attention_figure": (
        (9.5, 4.7),
        [
            "多头注意力",
            "concat",
            "× $W_O$",
            r"$d_k = d_{model}/h$",
            r"$\mathrm{head}_4$",
            r"$(n,\ d_{model})$",
        ],
    ),
    "transformer_figure": (
        (9.4, 9.3),
        [
            "Input Embedding",
            "Positional\nEncoding",
            "Multi-Head Attention",
            "Add&Norm",
            "Feed Forward",
            "Masked Multi-Head Attention",
            "编码器",
            "解码器",
            "×N",
            "Linear",
            "Softmax",
            "输出概率 Output Probabilities",
            "K, V",
        ],
    ),
    "gpt_figure": (
        (9.5, 8.3),
        [
            "仅解码器",
            "removed",
            "cross-attention",
            "因果掩码",
            "post-norm",
            "pre-norm",
            "final LayerNorm",
            "×12",
        ],
    ),
    "llama_block_figure": (
        (9.5, 7.55),
        [
            "GPT-2 block",
            "Llama block",
            "RMSNorm",
            "RoPE",
            "GQA",
            "SwiGLU",
            "no bias",
            "untied",
            "LM head: its own matrix",
            "final RMSNorm",
        ],
    ),
    "rlhf_pipeline_figure": (
        (9.5, 5.3),
        [
            "预训练",
            "监督微调 (SFT)",
            "奖励模型",
            "近端策略优化",
            "InstructGPT",
            "ChatGPT",
            "ranked",
            "KL",
        ],
    ),
    "chat_template_figure": (
        (9.5, 4.3),
        ["对话模板", "损失掩码", "<|user|>", "<|assistant|>", "<|end|>", "loss mask", "−100"],
    ),
    "preference_methods_figure": (
        (9.5, 5.9),
        [
            "直接偏好优化",
            "近端策略优化",
            "组相对策略优化",
            "(frozen)",
            "value model",
            "verifiable reward",
            "reward model",
            r"$A_i=",
        ],
    ),
    "lora_figure": (
        (9.5, 5.9),
        [
            "低秩适配",
            "冻结",
            "可训练",
            r"$W$   $(d_{out}\times d_{in})$",
            r"$A$   $(r\times d_{in})$",
            r"$B$   $(d_{out}\times r)$",
            "random init",
            "zero init",
            "bottleneck",
            r"$\times\ \alpha/r$",
            r"$h=Wx+(\alpha/r)\,BAx$",
            r"full: $d_{in}\cdot d_{out}$",
            r"LoRA: $r\cdot(d_{in}+d_{out})$",
            r"$W'=W+(\alpha/r)\,BA$",
            "no extra cost at inference",
        ],
    ),
    "grpo_group_figure": (
        (9.5, 5.6),
        [
            "组相对策略优化",
            "把 305 写成",
            "三百零五",
            "三百五",
            "三千零五",
            "✓  r = 1",
            "✗  r = 0",
            "A = +0.87",
            "A = −0.87",
            "std(r) = 0.577",
            "±0.866",
            "teaches nothing",
            r"$\pi_{ref}$",
            r"$-\beta\,\mathrm{KL}$",
            r"\mathrm{clip}(",
        ],
    ),
    "moe_figure": (
        (9.5, 5.2),
        ["混合专家", "router", "top-k (k = 2)", "FFN 8", "total parameters", "active per token"],
    ),
}


def test_every_public_figure_is_checked():
    assert sorted(EXPECTED) == sorted(diagrams.__all__)


@pytest.fixture(scope="module")
def drawn():
    """Each figure, drawn once, with the warnings its drawing raised."""
    assert plotting.setup_cjk_font() is not None, plotting.INSTALL_HINT
    out = {}
    for name in EXPECTED:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = getattr(diagrams, name)()
            fig.canvas.draw()
        out[name] = (fig, [str(w.message) for w in caught])
    yield out
    plt.close("all")


def _texts(fig):
    return [t for ax in fig.axes for t in ax.texts if t.get_visible() and t.get_text().strip()]


def _overlap(a: Bbox, b: Bbox, tol: float = 1.0) -> bool:
    """True when the two boxes share more than tol pixels in both directions."""
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_size_and_key_labels(drawn, name):
    fig, _ = drawn[name]
    size, labels = EXPECTED[name]
    assert isinstance(fig, Figure)
    assert tuple(round(v, 2) for v in fig.get_size_inches()) == size
    assert 8 <= size[0] <= 10  # notebook width
    text = "\n".join(t.get_text() for t in _texts(fig))
    missing = [label for label in labels if label not in text]
    assert not missing, f"{name} lacks {missing}"


def layout_problems(fig) -> list[str]:
    """Labels cut off at the figure's edge, labels spilling out of their box, boxes outside the
    figure, and pairs of labels drawn on top of each other."""
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    texts = _texts(fig)
    extents = [t.get_window_extent(renderer) for t in texts]
    problems = [
        f"clipped: {t.get_text()!r}"
        for t, e in zip(texts, extents)
        if e.x0 < frame.x0 - 0.5
        or e.y0 < frame.y0 - 0.5
        or e.x1 > frame.x1 + 0.5
        or e.y1 > frame.y1 + 0.5
    ]
    patches = {p.get_gid(): p for ax in fig.axes for p in ax.patches if p.get_gid()}
    for t, e in zip(texts, extents):
        gid = t.get_gid()
        if gid and gid.endswith("-text"):
            box = patches[gid[: -len("-text")]].get_window_extent(renderer)
            if e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1:
                problems.append(f"spills out of its box: {t.get_text()!r}")
    for gid, p in patches.items():
        e = p.get_window_extent(renderer)
        if e.x0 < frame.x0 or e.y0 < frame.y0 or e.x1 > frame.x1 or e.y1 > frame.y1:
            problems.append(f"box outside the figure: {gid}")
    problems += [
        f"overlap: {texts[i].get_text()!r} and {texts[j].get_text()!r}"
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if _overlap(extents[i], extents[j])
    ]
    return problems


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layout_is_clean(drawn, name):
    fig, _ = drawn[name]
    assert any(p.get_gid() for p in fig.axes[0].patches), "boxes carry a gid"
    assert layout_problems(fig) == []


def test_the_layout_check_can_fail():
    """A figure drawn with the same helpers, with each defect once: every one is reported."""
    fig, ax = diagrams._canvas(8.0, 3.0, "a title")
    diagrams._box(ax, 2.0, 1.5, 0.5, 0.3, "a label far wider than its box")
    diagrams._label(ax, 5.0, 1.5, "one label")
    diagrams._label(ax, 5.1, 1.52, "another label")
    diagrams._label(ax, 7.9, 0.5, "cut off at the edge", ha="left")
    fig.canvas.draw()
    problems = layout_problems(fig)
    plt.close(fig)
    assert any(p.startswith("spills out") for p in problems)
    assert any(p.startswith("overlap: 'one label'") for p in problems)
    assert any(p.startswith("clipped: 'cut off") for p in problems)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_chinese_renders_without_missing_glyphs(drawn, name):
    _, caught = drawn[name]
    missing = [m for m in caught if "missing from" in m]
    assert not missing, missing


def test_the_glyph_check_can_fail():
    """Without the CJK font the same figure reports missing glyphs: the check above is real."""
    fig = diagrams.transformer_figure()
    for t in _texts(fig):
        t.set_fontfamily("DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    assert any("missing from" in str(w.message) for w in caught)


def test_the_overlap_check_can_fail():
    a, b = Bbox.from_extents(0, 0, 10, 10), Bbox.from_extents(5, 5, 20, 20)
    assert _overlap(a, b) and not _overlap(a, Bbox.from_extents(10, 0, 20, 10))


def test_figures_are_the_same_on_every_run():
    images = []
    for _ in range(2):
        fig = diagrams.transformer_figure()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        images.append(buf.getvalue())
    assert images[0] == images[1]
