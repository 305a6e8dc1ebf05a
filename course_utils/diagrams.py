"""The course's own architecture diagrams, drawn with matplotlib.

Each ``*_figure()`` function draws one concept and returns the matplotlib ``Figure``. In a
notebook, follow the call with ``plt.show()``, so that the figure is shown once and the cell's
value is None (a trailing semicolon would do the same in JupyterLab, but not under nbval, which
runs cells without storing them in the history that IPython's semicolon check reads)::

    from course_utils.diagrams import transformer_figure

    transformer_figure()
    plt.show()

All figures share one small drawing layer (``_canvas``, ``_box``, ``_arrow``, ``_path``,
``_label``, ``_op``, ``_matrix``, ``_group``, ``_badge``): the axes span the whole figure and
one data unit is one inch, so a box of width 2 is 2 inches wide at any size. Colours name what a
block does (``PALETTE``), the same in every figure: attention is orange, feed-forward blue,
normalisation yellow, embeddings purple, recurrent cells teal, outputs green; red marks what
changed, grey dashed what was removed. Chinese labels render through
``course_utils.tools.plotting.setup_cjk_font``. Nothing is random: a figure is the same on
every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from .tools.plotting import setup_cjk_font

__all__ = [
    "chat_template_figure",
    "elmo_figure",
    "gpt_figure",
    "grpo_group_figure",
    "llama_block_figure",
    "lora_figure",
    "lstm_figure",
    "moe_figure",
    "multi_head_attention_figure",
    "preference_methods_figure",
    "rlhf_pipeline_figure",
    "self_attention_figure",
    "transformer_figure",
    "word2vec_figure",
]

# --------------------------------------------------------------------------
# The drawing layer
# --------------------------------------------------------------------------

# kind -> (fill, edge). One colour per role, the same in every figure.
PALETTE: dict[str, tuple[str, str]] = {
    "input": ("#F2F2F2", "#707070"),
    "embed": ("#ECE2F7", "#7A52B3"),
    "attn": ("#FDE3C6", "#D37A1F"),
    "norm": ("#FFF2BD", "#AE8C0A"),
    "ffn": ("#D6E8F7", "#3573B0"),
    "rnn": ("#D4EFEA", "#23877A"),
    "output": ("#DDF1DC", "#3C8D40"),
    "new": ("#FCE0DB", "#C0392B"),
    "removed": ("#FFFFFF", "#A8A8A8"),
    "plain": ("#FFFFFF", "#555555"),
}
# Colours of the parts of a tensor (heads, Q/K/V, positive/negative samples).
TINTS: dict[str, str] = {
    "q": "#F5C08E",
    "k": "#9FC5E8",
    "v": "#A8D8A8",
    "s": "#D5C4EA",
    "pos": "#8CCB8C",
    "neg": "#F2A49A",
    "hi": "#F5C08E",
    "grey": "#E4E4E4",
}
HEAD_TINTS = ("#F5C08E", "#9FC5E8", "#A8D8A8", "#D5C4EA")
INK = "#333333"
MUTED = "#777777"
RED = "#C0392B"
FONT = 10.0
SMALL = 8.5


@dataclass(frozen=True)
class Box:
    """Where a drawn box sits: centre (x, y), width w and height h, in inches."""

    x: float
    y: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def top(self) -> float:
        return self.y + self.h / 2

    @property
    def bottom(self) -> float:
        return self.y - self.h / 2

    def n(self, dx: float = 0.0) -> tuple[float, float]:
        """A point on the top edge, dx from the centre."""
        return (self.x + dx, self.top)

    def s(self, dx: float = 0.0) -> tuple[float, float]:
        """A point on the bottom edge."""
        return (self.x + dx, self.bottom)

    def e(self, dy: float = 0.0) -> tuple[float, float]:
        """A point on the right edge."""
        return (self.right, self.y + dy)

    def w_(self, dy: float = 0.0) -> tuple[float, float]:
        """A point on the left edge."""
        return (self.left, self.y + dy)


def _canvas(
    width: float, height: float, title: str | None = None, y0: float = 0.0
) -> tuple[Figure, Axes]:
    """A blank figure whose axes fill it, one data unit per inch, with an optional title.

    The drawing spans x in [0, width] and y in [y0, y0 + height]."""
    setup_cjk_font()
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, width)
    ax.set_ylim(y0, y0 + height)
    ax.set_axis_off()
    if title:
        ax.text(width / 2, y0 + height - 0.28, title, ha="center", va="center", fontsize=13)
    return fig, ax


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str = "",
    kind: str = "plain",
    fontsize: float = FONT,
    dashed: bool = False,
    lw: float = 1.3,
    color: str = INK,
    fill: str | None = None,
) -> Box:
    """A rounded box centred at (x, y) with its text centred inside; ``fill`` overrides the
    kind's fill colour.

    The patch and its text share a ``gid`` (``box<i>`` and ``box<i>-text``), so that a test can
    check that every label fits inside its box.
    """
    face, edge = PALETTE[kind]
    gid = f"box{sum(1 for p in ax.patches if str(p.get_gid() or '').startswith('box'))}"
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2),
        w,
        h,
        boxstyle="round,pad=0,rounding_size=0.07",
        facecolor=face if fill is None else fill,
        edgecolor=edge,
        linewidth=lw,
        linestyle="--" if dashed else "-",
        zorder=2,
    )
    patch.set_gid(gid)
    ax.add_patch(patch)
    if text:
        t = ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color=MUTED if kind == "removed" else color,
            linespacing=1.25,
            zorder=4,
        )
        t.set_gid(f"{gid}-text")
    return Box(x, y, w, h)


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    color: str = INK,
    lw: float = 1.3,
    dashed: bool = False,
    rad: float = 0.0,
    head: bool = True,
) -> None:
    """A straight (or, with ``rad``, curved) arrow from start to end."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>" if head else "-",
            mutation_scale=11,
            shrinkA=0,
            shrinkB=0,
            color=color,
            linewidth=lw,
            linestyle="--" if dashed else "-",
            connectionstyle=f"arc3,rad={rad}",
            zorder=3,
        )
    )


def _path(
    ax: Axes,
    points: Sequence[tuple[float, float]],
    color: str = INK,
    lw: float = 1.3,
    dashed: bool = False,
    head: bool = True,
) -> None:
    """A polyline through ``points``; the last segment carries the arrow head."""
    xs = [p[0] for p in points[:-1]]
    ys = [p[1] for p in points[:-1]]
    ax.add_line(
        Line2D(xs, ys, color=color, linewidth=lw, linestyle="--" if dashed else "-", zorder=3)
    )
    _arrow(ax, points[-2], points[-1], color=color, lw=lw, dashed=dashed, head=head)


def _label(
    ax: Axes,
    x: float,
    y: float,
    text: str,
    fontsize: float = SMALL,
    color: str = INK,
    ha: str = "center",
    va: str = "center",
    style: str = "normal",
) -> None:
    """Free text: a note, a shape, a name beside something."""
    ax.text(
        x,
        y,
        text,
        fontsize=fontsize,
        color=color,
        ha=ha,
        va=va,
        style=style,
        linespacing=1.25,
        zorder=5,
    )


def _op(ax: Axes, x: float, y: float, symbol: str = "+", r: float = 0.13) -> Box:
    """A circled operator: '+' (add), 'x' (element-wise product). Drawn with lines, no glyphs."""
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=INK, linewidth=1.3, zorder=3))
    d = r * (0.62 if symbol == "+" else 0.45)
    if symbol == "+":
        segments = [((x - d, x + d), (y, y)), ((x, x), (y - d, y + d))]
    else:
        segments = [((x - d, x + d), (y - d, y + d)), ((x - d, x + d), (y + d, y - d))]
    for xs, ys in segments:
        ax.add_line(Line2D(xs, ys, color=INK, linewidth=1.3, zorder=4))
    return Box(x, y, 2 * r, 2 * r)


def _matrix(
    ax: Axes,
    x: float,
    y: float,
    rows: int,
    cols: int,
    cell: float = 0.14,
    color: str = "#FFFFFF",
    col_colors: Sequence[str] | None = None,
    row_colors: dict[int, str] | None = None,
    cell_h: float | None = None,
) -> Box:
    """A tensor drawn as a grid of rows x cols cells centred at (x, y).

    ``col_colors`` tints the columns (e.g. one tint per head); ``row_colors`` tints chosen rows
    (e.g. the rows a lookup reads).
    """
    ch = cell if cell_h is None else cell_h
    w, h = cols * cell, rows * ch
    x0, y0 = x - w / 2, y - h / 2
    for i in range(rows):
        for j in range(cols):
            fill = color
            if col_colors is not None:
                fill = col_colors[j]
            if row_colors is not None and i in row_colors:
                fill = row_colors[i]
            ax.add_patch(
                Rectangle(
                    (x0 + j * cell, y0 + h - (i + 1) * ch),
                    cell,
                    ch,
                    facecolor=fill,
                    edgecolor="#9A9A9A",
                    linewidth=0.5,
                    zorder=2,
                )
            )
    ax.add_patch(
        Rectangle((x0, y0), w, h, fill=False, edgecolor="#555555", linewidth=1.0, zorder=3)
    )
    return Box(x, y, w, h)


def _group(
    ax: Axes,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    color: str = "#8A8A8A",
    fill: str = "#FAFAFA",
) -> Box:
    """A dashed frame around a repeated block (a layer that is stacked N times)."""
    ax.add_patch(
        FancyBboxPatch(
            (x0, y0),
            x1 - x0,
            y1 - y0,
            boxstyle="round,pad=0,rounding_size=0.12",
            facecolor=fill,
            edgecolor=color,
            linewidth=1.2,
            linestyle=(0, (4, 3)),
            zorder=1,
        )
    )
    return Box((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


def _badge(ax: Axes, x: float, y: float, number: int, color: str = RED, r: float = 0.11) -> None:
    """A small numbered disc that ties a block to a note."""
    ax.add_patch(Circle((x, y), r, facecolor=color, edgecolor="none", zorder=6))
    ax.text(
        x,
        y,
        str(number),
        ha="center",
        va="center",
        fontsize=7.5,
        color="white",
        zorder=7,
    )


# --------------------------------------------------------------------------
# 05 self-attention
# --------------------------------------------------------------------------


def self_attention_figure() -> Figure:
    """One attention head with the shape of every tensor: X -> Q, K, V -> scores -> softmax -> Z."""
    fig, ax = _canvas(9.5, 4.35, "Self-attention 自注意力: one head, with the shape of each tensor")
    _label(
        ax,
        4.75,
        3.72,
        r"$\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\left(QK^{\top}/\sqrt{d_k}\right)\,V$",
        fontsize=11,
    )
    n, d_model, d_k, cell = 4, 6, 3, 0.15
    rows_y = {"Q": 3.05, "K": 1.95, "V": 0.85}
    tints = {"Q": TINTS["q"], "K": TINTS["k"], "V": TINTS["v"]}
    x_box = _matrix(ax, 0.95, 1.95, n, d_model, cell, color="#F4F4F4")
    _label(ax, x_box.left - 0.15, x_box.y, "X", fontsize=12)
    _label(ax, x_box.x, x_box.bottom - 0.17, r"$(n,\ d_{model})$")
    qkv = {}
    for name, y in rows_y.items():
        w = _box(ax, 2.55, y, 1.0, 0.52, f"× $W_{name}$", kind="attn", fontsize=10.5)
        _label(ax, w.x, w.bottom - 0.16, r"$(d_{model},\ d_k)$", fontsize=8)
        _arrow(ax, x_box.e(), w.w_())
        m = _matrix(ax, 3.85, y, n, d_k, cell, color=tints[name])
        _label(ax, m.left - 0.16, m.y, name, fontsize=12)
        _label(ax, m.x, m.bottom - 0.17, r"$(n,\ d_k)$")
        _arrow(ax, w.e(), (m.left - 0.3, y))
        qkv[name] = m
    score = _box(ax, 5.1, 2.5, 1.15, 0.62, r"$QK^{\top}/\sqrt{d_k}$", kind="attn", fontsize=10.5)
    _arrow(ax, qkv["Q"].e(), score.w_(0.12))
    _arrow(ax, qkv["K"].e(), score.w_(-0.12))
    s = _matrix(ax, 6.4, 2.5, n, n, cell, color=TINTS["s"])
    _label(ax, s.x, s.top + 0.2, "scores S")
    _label(ax, s.x, s.bottom - 0.17, r"$(n,\ n)$")
    _arrow(ax, score.e(), s.w_())
    p = _matrix(ax, 8.1, 2.5, n, n, cell, color="#B9A3DB")
    _label(ax, p.x, p.top + 0.2, "weights P")
    _label(ax, p.x, p.bottom - 0.17, r"$(n,\ n)$, rows sum to 1")
    _arrow(ax, s.e(), p.w_())
    _label(ax, (s.right + p.left) / 2, 2.78, "softmax\nover each row", fontsize=8.5)
    pv = _box(ax, 6.9, 0.85, 0.75, 0.5, "P V", kind="attn", fontsize=10.5)
    _arrow(ax, qkv["V"].e(), pv.w_())
    _path(ax, [(p.x, p.bottom - 0.33), (p.x, 1.45), (pv.x, 1.45), pv.n()])
    z = _matrix(ax, 8.45, 0.85, n, d_k, cell, color="#FFE9A8")
    _label(ax, z.right + 0.2, z.y, "Z", fontsize=12)
    _label(ax, z.x, z.bottom - 0.17, r"$(n,\ d_k)$")
    _arrow(ax, pv.e(), z.w_())
    return fig


def multi_head_attention_figure() -> Figure:
    """h heads: project, split the columns into heads, attend in parallel, concat, then W_O."""
    fig, ax = _canvas(9.5, 4.7, "Multi-head attention 多头注意力: h heads side by side (h = 4)")
    _label(
        ax,
        4.75,
        4.03,
        r"$\mathrm{MultiHead}(X)=\mathrm{Concat}(\mathrm{head}_1,\dots,\mathrm{head}_h)\,W_O,"
        r"\quad \mathrm{head}_i=\mathrm{Attention}(Q_i,K_i,V_i)$",
        fontsize=10.5,
    )
    n, d_model, h, cell = 4, 8, 4, 0.1
    cols = [HEAD_TINTS[j // (d_model // h)] for j in range(d_model)]
    x_box = _matrix(ax, 0.72, 1.95, n, d_model, cell, color="#F4F4F4")
    _label(ax, x_box.left - 0.14, x_box.y, "X", fontsize=12)
    _label(ax, x_box.x, x_box.bottom - 0.17, r"$(n,\ d_{model})$")
    proj = _box(
        ax, 2.05, 1.95, 1.05, 1.1, "$Q = X W_Q$\n$K = X W_K$\n$V = X W_V$", kind="attn", fontsize=10
    )
    _label(ax, proj.x, proj.bottom - 0.3, "each $W$:\n" + r"$(d_{model},\ d_{model})$", fontsize=8)
    _arrow(ax, x_box.e(), proj.w_())
    ys = {"Q": 3.0, "K": 1.95, "V": 0.9}
    for name, y in ys.items():
        m = _matrix(ax, 3.35, y, n, d_model, cell, col_colors=cols)
        _label(ax, m.left - 0.14, y, name, fontsize=11)
        _label(ax, m.x, m.bottom - 0.15, r"$(n,\ d_{model})$", fontsize=8)
        _arrow(ax, proj.e((y - 1.95) * 0.35), (m.left - 0.3, y))
    _label(ax, 3.35, 3.55, "split the columns:\nblock i → head i", fontsize=8.5, color=MUTED)
    bus_x = 4.05
    ax.add_line(Line2D([bus_x, bus_x], [0.9, 3.0], color=INK, linewidth=1.3, zorder=3))
    for y in ys.values():
        ax.add_line(Line2D([3.35 + d_model * cell / 2, bus_x], [y, y], color=INK, linewidth=1.3))
    head_ys = [3.05, 2.35, 1.65, 0.95]
    heads = []
    for i, y in enumerate(head_ys):
        hb = _box(
            ax,
            5.25,
            y,
            1.75,
            0.5,
            rf"$\mathrm{{head}}_{i + 1}$: $(n,\ d_k)$",
            kind="attn",
            fill=HEAD_TINTS[i],
            fontsize=9.5,
        )
        _arrow(ax, (bus_x, y), hb.w_())
        heads.append(hb)
    _label(ax, 5.25, 0.45, r"$d_k = d_{model}/h$, all heads in parallel", fontsize=8.5)
    cat = _matrix(ax, 7.05, 1.95, n, d_model, cell, col_colors=cols)
    _label(ax, cat.x, cat.top + 0.2, "concat")
    _label(
        ax, cat.x, cat.bottom - 0.3, r"$(n,\ h\,d_k)$" + "\n" + r"$=(n,\ d_{model})$", fontsize=8
    )
    for hb in heads:
        _arrow(ax, hb.e(), cat.w_((hb.y - 1.95) * 0.12))
    wo = _box(ax, 8.0, 1.95, 0.62, 0.46, "× $W_O$", kind="attn", fontsize=10)
    _label(ax, wo.x, wo.top + 0.28, r"$W_O$:" + "\n" + r"$(d_{model},\ d_{model})$", fontsize=8)
    _arrow(ax, cat.e(), wo.w_())
    out = _matrix(ax, 8.9, 1.95, n, d_model, cell, color="#FFE9A8")
    _label(ax, out.x, out.top + 0.2, "output")
    _label(ax, out.x, out.bottom - 0.17, r"$(n,\ d_{model})$", fontsize=8)
    _arrow(ax, wo.e(), out.w_())
    return fig


# --------------------------------------------------------------------------
# 06 the encoder-decoder Transformer, 07 GPT, 08 Llama
# --------------------------------------------------------------------------


def _fork(ax: Axes, x: float, y: float, box: Box, spread: float, n: int = 3) -> None:
    """The stream at (x, y) splits into n arrows into the bottom of ``box`` (Q, K and V)."""
    xs = [x + spread * (i - (n - 1) / 2) for i in range(n)]
    ax.add_line(Line2D([xs[0], xs[-1]], [y, y], color=INK, linewidth=1.3, zorder=3))
    for xi in xs:
        _arrow(ax, (xi, y), (xi, box.bottom))


def _residual(ax: Axes, x: float, y_from: float, target: Box, side: float) -> None:
    """A residual connection: from the stream at (x, y_from), around the side, into ``target``."""
    xr = x + side
    edge = target.w_() if side < 0 else target.e()
    _path(ax, [(x, y_from), (xr, y_from), (xr, target.y), edge], color="#555555")
    ax.add_patch(Circle((x, y_from), 0.035, color=INK, zorder=4))


def _wave(ax: Axes, x: float, y: float, r: float = 0.2) -> Box:
    """The positional-encoding icon: a sine wave in a circle."""
    import numpy as np

    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=INK, linewidth=1.2, zorder=3))
    t = np.linspace(-0.7 * r, 0.7 * r, 40)
    ax.add_line(
        Line2D(
            t + x, y + 0.45 * r * np.sin(t / r * 4.5), color=PALETTE["embed"][1], lw=1.3, zorder=4
        )
    )
    return Box(x, y, 2 * r, 2 * r)


def transformer_figure() -> Figure:
    """The encoder-decoder Transformer with the course outline's block names."""
    fig, ax = _canvas(9.4, 9.3, "The Transformer: 编码器-解码器 (encoder–decoder)")
    xe, xd, bw, bh = 2.75, 6.55, 2.2, 0.44
    sub = [("Multi-Head Attention", "attn"), ("Add&Norm", "norm")]
    ffn = [("Feed Forward", "ffn"), ("Add&Norm", "norm")]

    def column(x: float, side: float, masked: bool) -> tuple[list[Box], float]:
        """Embedding, positional encoding and the stacked sublayers of one column."""
        words = "outputs so far (shifted right)" if masked else "inputs (source tokens)"
        _label(ax, x, 0.3, words, fontsize=9, color=MUTED)
        emb_name = "Output Embedding" if masked else "Input Embedding"
        emb = _box(ax, x, 0.9, bw, bh, emb_name, kind="embed")
        _arrow(ax, (x, 0.45), emb.s())
        add = _op(ax, x, 1.5)
        _arrow(ax, emb.n(), add.s())
        wave = _wave(ax, x + side * 0.62, 1.5)
        _arrow(ax, wave.w_() if side > 0 else wave.e(), add.e() if side > 0 else add.w_())
        _label(
            ax,
            x + side * 1.35,
            1.5,
            "Positional\nEncoding",
            fontsize=9,
            ha="left" if side > 0 else "right",
        )
        layers = (
            [("Masked Multi-Head Attention", "attn"), ("Add&Norm", "norm")] + sub + ffn
            if masked
            else sub + ffn
        )
        boxes, y = [], 2.35
        for name, kind in layers:
            boxes.append(_box(ax, x, y, bw, bh, name, kind=kind))
            y += 0.72
        return boxes, add.top

    enc, enc_in = column(xe, -1.0, masked=False)
    dec, dec_in = column(xd, 1.0, masked=True)
    for x, boxes, start, side in ((xe, enc, enc_in, -1.0), (xd, dec, dec_in, 1.0)):
        prev_top = start
        for i in range(0, len(boxes), 2):
            layer, norm = boxes[i], boxes[i + 1]
            branch = (prev_top + layer.bottom) / 2
            ax.add_line(Line2D([x, x], [prev_top, branch], color=INK, linewidth=1.3, zorder=3))
            if x == xd and i == 2:  # Q from below; K and V come from the encoder
                _arrow(ax, (x, branch), layer.s())
                _label(ax, x + 0.12, (branch + layer.bottom) / 2, "Q", fontsize=8.5, ha="left")
            elif layer.y == boxes[-2].y:  # the feed-forward sublayer: one input
                _arrow(ax, (x, branch), layer.s())
            else:
                _fork(ax, x, branch + 0.08, layer, spread=0.55)
                ax.add_line(Line2D([x, x], [branch, branch + 0.08], color=INK, linewidth=1.3))
            _residual(ax, x, branch, norm, side * (bw / 2 + 0.28))
            _arrow(ax, layer.n(), norm.s())
            prev_top = norm.top
    # the groups, stacked N times
    g_enc = _group(ax, xe - bw / 2 - 0.45, 1.76, xe + bw / 2 + 0.2, enc[-1].top + 0.22)
    g_dec = _group(ax, xd - bw / 2 - 0.2, 1.76, xd + bw / 2 + 0.45, dec[-1].top + 0.22)
    _label(ax, g_enc.left - 0.1, g_enc.y, "编码器\nEncoder\n×N", fontsize=10.5, ha="right")
    _label(ax, g_dec.right + 0.1, g_dec.y, "解码器\nDecoder\n×N", fontsize=10.5, ha="left")
    # the encoder's output feeds every decoder layer's cross-attention as K and V
    cross = dec[2]
    x_mid = g_dec.left - 0.3
    top = g_enc.top + 0.35
    _path(
        ax,
        [enc[-1].n(), (xe, top), (x_mid, top), (x_mid, cross.y), cross.w_()],
        color=PALETTE["ffn"][1],
        lw=1.6,
    )
    _label(ax, (xe + x_mid) / 2, top + 0.17, r"encoder output: memory $(n_{src},\ d_{model})$")
    _label(ax, (x_mid + cross.left) / 2, cross.y + 0.15, "K, V", fontsize=8.5)
    # the output head
    lin = _box(ax, xd, g_dec.top + 0.5, bw, bh, "Linear", kind="output")
    _arrow(ax, dec[-1].n(), lin.s())
    soft = _box(ax, xd, lin.y + 0.7, bw, bh, "Softmax", kind="output")
    _arrow(ax, lin.n(), soft.s())
    probs = _box(ax, xd, soft.y + 0.72, bw + 0.4, 0.5, "输出概率 Output Probabilities", "output")
    _arrow(ax, soft.n(), probs.s())
    _label(
        ax,
        xd - 0.12,
        (lin.top + soft.bottom) / 2,
        r"logits $(n_{tgt},\ |V|)$",
        fontsize=8,
        ha="right",
    )
    # a key
    kx, ky = 0.35, 7.9
    _path(ax, [(kx, ky), (kx + 0.45, ky)], color="#555555")
    _label(ax, kx + 0.6, ky, "residual connection 残差连接", ha="left")
    _fork(ax, kx + 0.22, ky - 0.5, Box(kx + 0.22, ky - 0.25, 0.4, 0.1), spread=0.18)
    _label(
        ax,
        kx + 0.6,
        ky - 0.38,
        "self-attention: Q, K and V\nall come from the same stream",
        ha="left",
    )
    _label(
        ax, kx, ky - 0.95, "×N: the layer is stacked N times\n(N = 6 in the base model)", ha="left"
    )
    return fig


def _causal_mask_icon(ax: Axes, x: float, y: float, n: int = 5, cell: float = 0.11) -> Box:
    """A lower-triangular grid: row t (a query) may look at columns 1..t (keys)."""
    colors = {}
    box = _matrix(ax, x, y, n, n, cell, color="#FFFFFF")
    for i in range(n):
        for j in range(i + 1):
            colors[(i, j)] = TINTS["q"]
            ax.add_patch(
                Rectangle(
                    (box.left + j * cell, box.top - (i + 1) * cell),
                    cell,
                    cell,
                    facecolor=TINTS["q"],
                    edgecolor="#9A9A9A",
                    linewidth=0.5,
                    zorder=2.5,
                )
            )
    return box


def _post_norm_block(ax: Axes, x: float, y0: float, bw: float) -> list[Box]:
    """GPT-1's block (as the Transformer's): sublayer -> add -> LayerNorm, twice."""
    attn = _box(ax, x, y0, bw, 0.46, "Masked Multi-Head\nAttention", "attn", fontsize=9)
    add1 = _op(ax, x, y0 + 0.62)
    ln1 = _box(ax, x, y0 + 1.12, bw, 0.36, "LayerNorm", "norm", fontsize=9)
    ff = _box(ax, x, y0 + 1.72, bw, 0.36, "Feed Forward", "ffn", fontsize=9)
    add2 = _op(ax, x, y0 + 2.3)
    ln2 = _box(ax, x, y0 + 2.8, bw, 0.36, "LayerNorm", "norm", fontsize=9)
    _fork(ax, x, attn.bottom - 0.14, attn, spread=0.4)
    ax.add_line(Line2D([x, x], [attn.bottom - 0.32, attn.bottom - 0.14], color=INK, lw=1.3))
    _residual(ax, x, attn.bottom - 0.24, add1, bw / 2 + 0.2)
    _arrow(ax, attn.n(), add1.s())
    _arrow(ax, add1.n(), ln1.s())
    _arrow(ax, ln1.n(), ff.s())
    _residual(ax, x, (ln1.top + ff.bottom) / 2, add2, bw / 2 + 0.2)
    _arrow(ax, ff.n(), add2.s())
    _arrow(ax, add2.n(), ln2.s())
    return [attn, ln1, ff, ln2]


def _pre_norm_block(ax: Axes, x: float, y0: float, bw: float, norm: str = "LayerNorm") -> list[Box]:
    """GPT-2's block: norm -> sublayer -> add, twice; the residual stream is never normalised."""
    kind = "new"
    ln1 = _box(ax, x, y0, bw, 0.36, norm, kind, fontsize=9)
    attn = _box(ax, x, y0 + 0.68, bw, 0.46, "Masked Multi-Head\nAttention", "attn", fontsize=9)
    add1 = _op(ax, x, y0 + 1.25)
    ln2 = _box(ax, x, y0 + 1.75, bw, 0.36, norm, kind, fontsize=9)
    ff = _box(ax, x, y0 + 2.33, bw, 0.36, "Feed Forward", "ffn", fontsize=9)
    add2 = _op(ax, x, y0 + 2.9)
    _residual(ax, x, ln1.bottom - 0.2, add1, bw / 2 + 0.2)
    _fork(ax, x, ln1.top + 0.08, attn, spread=0.4)
    ax.add_line(Line2D([x, x], [ln1.top, ln1.top + 0.08], color=INK, lw=1.3))
    _arrow(ax, attn.n(), add1.s())
    _residual(ax, x, (add1.top + ln2.bottom) / 2, add2, bw / 2 + 0.2)
    _arrow(ax, add1.n(), ln2.s())
    _arrow(ax, ln2.n(), ff.s())
    _arrow(ax, ff.n(), add2.s())
    return [ln1, attn, ln2, ff, Box(x, add2.y, 0.26, 0.26)]


def gpt_figure() -> Figure:
    """GPT as a decoder-only stack: what it removes from the encoder-decoder, GPT-1's post-norm
    block and GPT-2's pre-norm block with its final LayerNorm."""
    fig, ax = _canvas(
        9.5, 8.3, "GPT 仅解码器 (decoder-only): the decoder without the encoder", y0=-0.6
    )
    top = 6.95
    # panel 1: the encoder-decoder, with what GPT drops
    _label(ax, 1.6, top, "1  Start from the encoder–decoder", fontsize=10)
    enc = _box(ax, 0.62, 3.55, 0.8, 2.9, "编码器\nEncoder", kind="removed", dashed=True)
    _label(ax, enc.x, enc.bottom - 0.2, "removed", fontsize=9, color=RED)
    x1, bw1 = 2.25, 1.6
    names = [
        ("Masked Multi-Head\nAttention", "attn"),
        ("Add&Norm", "norm"),
        ("Multi-Head Attention\n(cross-attention)", "removed"),
        ("Add&Norm", "removed"),
        ("Feed Forward", "ffn"),
        ("Add&Norm", "norm"),
    ]
    y, dec = 2.35, []
    for name, kind in names:
        dec.append(_box(ax, x1, y, bw1, 0.46, name, kind, fontsize=8.5, dashed=kind == "removed"))
        y += 0.66
    for a, b in zip(dec, dec[1:]):
        _arrow(ax, a.n(), b.s(), color=MUTED if "removed" in (a, b) else INK)
    _arrow(ax, enc.e(dec[2].y - enc.y), dec[2].w_(), color="#A8A8A8", dashed=True)
    _label(ax, dec[2].right + 0.05, dec[2].y - 0.33, "removed", fontsize=8, color=RED, ha="right")
    _arrow(ax, (x1, 1.75), dec[0].s())
    _label(ax, x1, 1.55, "解码器 Decoder: what is left\n(without cross-attention)", fontsize=8.5)
    mask = _causal_mask_icon(ax, 1.05, 0.75, cell=0.12)
    _label(
        ax,
        mask.right + 0.15,
        mask.y,
        "causal mask 因果掩码:\nthe query at position t\nsees the keys 1…t",
        fontsize=8.5,
        ha="left",
    )
    _label(ax, mask.x, mask.bottom - 0.14, "keys →", fontsize=7.5, color=MUTED)
    _label(ax, mask.left - 0.08, mask.y, "queries ↓", fontsize=7.5, color=MUTED, ha="right")
    # panel 2: GPT-1, post-norm
    x2, bw = 4.75, 1.75
    _label(ax, x2, top, "2  GPT-1 (2018): post-norm", fontsize=10)
    emb2 = _box(ax, x2, 0.95, bw + 0.15, 0.46, "token + position\nembedding", "embed", fontsize=9)
    _label(ax, x2, 0.35, "tokens", fontsize=9, color=MUTED)
    _arrow(ax, (x2, 0.5), emb2.s())
    blk = _post_norm_block(ax, x2, 2.1, bw)
    ax.add_line(Line2D([x2, x2], [emb2.top, blk[0].bottom - 0.32], color=INK, lw=1.3))
    g2 = _group(ax, x2 - bw / 2 - 0.15, 1.5, x2 + bw / 2 + 0.35, blk[-1].top + 0.15)
    _label(ax, g2.left - 0.06, g2.top - 0.18, "×12", fontsize=10, ha="right")
    head2 = _box(ax, x2, g2.top + 0.55, bw, 0.4, "Linear → softmax", "output", fontsize=9)
    _arrow(ax, blk[-1].n(), head2.s())
    _label(ax, x2, head2.top + 0.25, "next-token probabilities", fontsize=8.5)
    # panel 3: GPT-2, pre-norm and a final LayerNorm
    x3 = 7.95
    _label(ax, x3, top, "3  GPT-2 (2019): pre-norm", fontsize=10)
    emb3 = _box(ax, x3, 0.95, bw + 0.15, 0.46, "token + position\nembedding", "embed", fontsize=9)
    _label(ax, x3, 0.35, "tokens", fontsize=9, color=MUTED)
    _arrow(ax, (x3, 0.5), emb3.s())
    blk3 = _pre_norm_block(ax, x3, 2.0, bw)
    _arrow(ax, emb3.n(), blk3[0].s())
    g3 = _group(ax, x3 - bw / 2 - 0.15, 1.5, x3 + bw / 2 + 0.35, blk3[-1].top + 0.15)
    _label(ax, g3.left - 0.06, g3.top - 0.18, "×N", fontsize=10, ha="right")
    lnf = _box(ax, x3, g3.top + 0.45, bw, 0.36, "final LayerNorm", "new", fontsize=9)
    _arrow(ax, blk3[-1].n(), lnf.s())
    head3 = _box(ax, x3, lnf.top + 0.45, bw, 0.4, "Linear → softmax", "output", fontsize=9)
    _arrow(ax, lnf.n(), head3.s())
    _label(ax, x3, head3.top + 0.25, "next-token probabilities", fontsize=8.5)
    for b in (blk3[0], blk3[2]):
        _badge(ax, b.left - 0.02, b.top, 1)
    _badge(ax, lnf.left - 0.02, lnf.top, 2)
    notes = (
        "GPT-2 moves LayerNorm to each sublayer's input: the residual stream itself is never "
        "normalised (pre-norm)",
        "GPT-2 adds a final LayerNorm after the last block",
    )
    for i, note in enumerate(notes):
        _badge(ax, 0.3, -0.2 - 0.27 * i, i + 1)
        _label(ax, 0.48, -0.2 - 0.27 * i, note, ha="left")
    return fig


def _gqa_icon(ax: Axes, x: float, y: float, h: int = 8, h_kv: int = 2) -> None:
    """h query heads above, h_kv key/value heads below; each K/V head serves h / h_kv queries."""
    size, gap = 0.17, 0.05
    width = h * size + (h - 1) * gap
    x0 = x - width / 2 + size / 2
    group = h // h_kv
    q_centres = [x0 + i * (size + gap) for i in range(h)]
    for i, qx in enumerate(q_centres):
        ax.add_patch(
            Rectangle(
                (qx - size / 2, y + 0.2),
                size,
                size,
                facecolor=HEAD_TINTS[i // group],
                edgecolor="#777777",
                lw=0.6,
                zorder=3,
            )
        )
    for g in range(h_kv):
        kx = sum(q_centres[g * group : (g + 1) * group]) / group
        ax.add_patch(
            Rectangle(
                (kx - size / 2, y - 0.3),
                size,
                size,
                facecolor=HEAD_TINTS[g],
                edgecolor="#333333",
                lw=1.0,
                zorder=3,
            )
        )
        for qx in q_centres[g * group : (g + 1) * group]:
            ax.add_line(
                Line2D([kx, qx], [y - 0.3 + size, y + 0.2], color="#999999", lw=0.8, zorder=2)
            )
    _label(ax, x - width / 2 - 0.08, y + 0.2 + size / 2, f"Q: {h}", fontsize=8, ha="right")
    _label(ax, x - width / 2 - 0.08, y - 0.3 + size / 2, f"K, V: {h_kv}", fontsize=8, ha="right")


def llama_block_figure() -> Figure:
    """A Llama decoder block beside GPT-2's, with every change marked and explained."""
    fig, ax = _canvas(9.5, 7.55, "From GPT-2 to Llama: what changed in the block", y0=-0.05)
    xg, xl, bw = 1.65, 4.75, 2.35
    rows = {"emb": 0.9, "n1": 1.9, "attn": 2.65, "a1": 3.35, "n2": 3.85, "ffn": 4.6, "a2": 5.3}
    col_top = 7.0
    _label(ax, xg, col_top, "GPT-2 block", fontsize=10.5)
    _label(ax, xl, col_top, "Llama block", fontsize=10.5)
    specs = {
        xg: {
            "emb": ("token embedding wte\n+ position embedding wpe", "embed"),
            "n1": ("LayerNorm", "norm"),
            "attn": ("causal self-attention\nQ, K, V: h heads each", "attn"),
            "n2": ("LayerNorm", "norm"),
            "ffn": ("FFN: Linear → GELU → Linear\n(d → 4d → d)", "ffn"),
            "nf": ("final LayerNorm", "norm"),
            "head": ("LM head = wteᵀ (tied)", "output"),
        },
        xl: {
            "emb": ("token embedding only\n(no position table)", "new"),
            "n1": ("RMSNorm", "new"),
            "attn": ("causal self-attention\nRoPE on Q, K · GQA", "new"),
            "n2": ("RMSNorm", "new"),
            "ffn": ("SwiGLU FFN\n(SiLU gate ⊙ up) → down", "new"),
            "nf": ("final RMSNorm", "new"),
            "head": ("LM head: its own matrix", "new"),
        },
    }
    boxes: dict[float, dict[str, Box]] = {}
    for x, spec in specs.items():
        b: dict[str, Box] = {}
        _label(ax, x, 0.3, "tokens", fontsize=9, color=MUTED)
        for key in ("emb", "n1", "attn", "n2", "ffn"):
            text, kind = spec[key]
            h = 0.5 if "\n" in text else 0.36
            b[key] = _box(ax, x, rows[key], bw, h, text, kind, fontsize=8.8)
        b["a1"] = _op(ax, x, rows["a1"])
        b["a2"] = _op(ax, x, rows["a2"])
        _arrow(ax, (x, 0.42), b["emb"].s())
        branch1 = (b["emb"].top + b["n1"].bottom) / 2
        ax.add_line(Line2D([x, x], [b["emb"].top, branch1], color=INK, lw=1.3))
        _arrow(ax, (x, branch1), b["n1"].s())
        _residual(ax, x, branch1, b["a1"], bw / 2 + 0.2)
        _arrow(ax, b["n1"].n(), b["attn"].s())
        _arrow(ax, b["attn"].n(), b["a1"].s())
        branch2 = (b["a1"].top + b["n2"].bottom) / 2
        ax.add_line(Line2D([x, x], [b["a1"].top, branch2], color=INK, lw=1.3))
        _arrow(ax, (x, branch2), b["n2"].s())
        _residual(ax, x, branch2, b["a2"], bw / 2 + 0.2)
        _arrow(ax, b["n2"].n(), b["ffn"].s())
        _arrow(ax, b["ffn"].n(), b["a2"].s())
        g = _group(ax, x - bw / 2 - 0.12, 1.5, x + bw / 2 + 0.34, 5.6)
        _label(ax, g.left + 0.05, g.top + 0.12, "×N", fontsize=9.5, ha="left")
        text, kind = spec["nf"]
        b["nf"] = _box(ax, x, 6.0, bw, 0.36, text, kind, fontsize=8.8)
        text, kind = spec["head"]
        b["head"] = _box(ax, x, 6.55, bw, 0.36, text, kind, fontsize=8.8)
        _arrow(ax, b["a2"].n(), b["nf"].s())
        _arrow(ax, b["nf"].n(), b["head"].s())
        boxes[x] = b
    lb = boxes[xl]
    badges = [
        (lb["n1"], 1),
        (lb["n2"], 1),
        (lb["nf"], 1),
        (lb["attn"], 2),
        (lb["emb"], 2),
        (lb["ffn"], 4),
        (lb["head"], 6),
    ]
    for bx, num in badges:
        _badge(ax, bx.left - 0.02, bx.top, num)
    _badge(ax, lb["attn"].left + 0.22, lb["attn"].top, 3)
    _badge(ax, xl - bw / 2 + 0.45, 5.72, 5)
    # the notes
    nx = 6.55
    notes = [
        (1, 6.55, "RMSNorm: x / rms(x) · g\nno mean subtracted, no bias"),
        (2, 5.85, "RoPE: Q and K rotated by their\nposition inside attention;\nno position table"),
        (
            3,
            5.1,
            "GQA (Llama-2-70B, Llama 3): fewer\nK/V heads than Q heads, a smaller\n"
            "KV cache (Llama-2-7B keeps all 32)",
        ),
        (4, 3.55, "SwiGLU: a gated FFN with\nthree matrices:\n(SiLU(x W_gate) ⊙ x W_up) W_down"),
        (5, 2.7, "no bias in any Linear layer\n(Qwen2 keeps a bias on Q, K, V)"),
        (6, 2.05, "untied head (Llama-2-7B);\nsmall models still tie it"),
    ]
    for num, y, text in notes:
        _badge(ax, nx, y, num)
        _label(ax, nx + 0.18, y, text, ha="left", va="center")
    _gqa_icon(ax, 8.15, 4.4)
    return fig


# --------------------------------------------------------------------------
# 03 word2vec
# --------------------------------------------------------------------------

_W2V_VOCAB = ("我国", "经济", "持续", "快速", "发展", "足球", "春节")


def _w2v_panel(ax: Axes, yc: float, cbow: bool) -> None:
    """One row of word2vec_figure: lookups in V and U, dot products, sigmoid, targets."""
    rh, cw = 0.19, 0.15
    centre, noise = 2, (5, 6)
    context = (0, 1, 3, 4)
    positive = centre if cbow else 1
    # V: the input vectors (center word, or the context words for CBOW)
    v_rows = {i: TINTS["k"] for i in context} if cbow else {centre: TINTS["hi"]}
    vm = _matrix(ax, 1.4, yc, 7, 4, cw, row_colors=v_rows, cell_h=rh)
    for i, word in enumerate(_W2V_VOCAB):
        _label(ax, vm.left - 0.06, vm.top - (i + 0.5) * rh, word, fontsize=8, ha="right")
    _label(ax, vm.x, vm.top + 0.17, "V  input vectors", fontsize=8.5)
    _label(ax, vm.x, vm.bottom - 0.15, r"$(|V|,\ d)$", fontsize=8)
    vy = yc + 0.45
    if cbow:
        mean = _box(ax, 2.35, vy, 0.5, 0.34, "mean", "plain", fontsize=8.5)
        for i in context:
            _arrow(ax, (vm.right, vm.top - (i + 0.5) * rh), mean.w_(), lw=0.9)
        vec = _matrix(ax, 3.15, vy, 1, 4, 0.13, color=TINTS["k"])
        _arrow(ax, mean.e(), vec.w_())
        vname = r"$\bar v$"
    else:
        vec = _matrix(ax, 2.7, vy, 1, 4, 0.13, color=TINTS["hi"])
        _arrow(ax, (vm.right, vm.top - (centre + 0.5) * rh), vec.w_())
        vname = r"$v_c$"
    _label(ax, vec.x, vec.bottom - 0.15, vname, fontsize=10)
    # U: the output vectors of the positive word and the k noise words
    u_rows = {positive: TINTS["pos"], noise[0]: TINTS["neg"], noise[1]: TINTS["neg"]}
    um = _matrix(ax, 4.55, yc, 7, 4, cw, row_colors=u_rows, cell_h=rh)
    for i, word in enumerate(_W2V_VOCAB):
        _label(ax, um.left - 0.06, um.top - (i + 0.5) * rh, word, fontsize=8, ha="right")
    _label(ax, um.x, um.top + 0.17, "U  output vectors", fontsize=8.5)
    _label(ax, um.x, um.bottom - 0.15, r"$(|V|,\ d)$", fontsize=8)
    sel = _matrix(
        ax,
        5.55,
        yc - 0.25,
        3,
        4,
        0.13,
        row_colors={0: TINTS["pos"], 1: TINTS["neg"], 2: TINTS["neg"]},
    )
    for j, i in enumerate((positive, *noise)):
        _arrow(
            ax, (um.right, um.top - (i + 0.5) * rh), (sel.left, sel.top - (j + 0.5) * 0.13), lw=0.9
        )
    _label(ax, sel.x, sel.bottom - 0.15, r"$(1+k,\ d)$", fontsize=8)
    dot = _box(ax, 6.45, yc - 0.25, 0.62, 0.42, r"$\cdot\,$" + vname, "attn", fontsize=10)
    _arrow(ax, sel.e(), dot.w_())
    top = yc + 1.05
    _path(ax, [vec.n(), (vec.x, top), (dot.x, top), dot.n()], color=PALETTE["attn"][1])
    v = "\\bar v" if cbow else "v_c"
    pos_u = "u_c" if cbow else "u_o"
    names = [rf"$\sigma({pos_u}^\top {v})$", rf"$\sigma(u_1^\top {v})$", rf"$\sigma(u_2^\top {v})$"]
    for j, (name, target) in enumerate(zip(names, ("1", "0", "0"))):
        y = yc + 0.25 - j * 0.5
        kind = "output" if j == 0 else "new"
        b = _box(ax, 7.55, y, 1.05, 0.38, name, kind, fontsize=9.5)
        _arrow(ax, dot.e(), b.w_(), lw=0.9)
        t = _box(ax, 8.55, y, 0.34, 0.34, target, "plain", fontsize=10)
        _arrow(ax, b.e(), t.w_(), lw=0.9)
    _label(ax, 8.55, yc + 0.62, "target", fontsize=8.5)
    if cbow:
        loss = r"loss $=-\log\sigma(u_c^\top\bar v)-\Sigma_{j=1}^{k}\log\sigma(-u_j^\top\bar v)$"
    else:
        loss = r"loss $=-\log\sigma(u_o^\top v_c)-\Sigma_{j=1}^{k}\log\sigma(-u_j^\top v_c)$"
    _label(ax, 3.3, yc - 1.12, loss, fontsize=9.5)


def word2vec_figure() -> Figure:
    """Skip-gram and CBOW with negative sampling on one window of a sentence."""
    fig, ax = _canvas(
        9.5, 7.5, "word2vec with negative sampling 负采样: skip-gram and CBOW", y0=0.0
    )
    # the window
    xs = [2.2 + 0.9 * i for i in range(5)]
    for i, x in enumerate(xs):
        kind, fill = ("attn", TINTS["hi"]) if i == 2 else ("ffn", TINTS["k"])
        _box(ax, x, 6.55, 0.76, 0.38, _W2V_VOCAB[i], kind, fontsize=10, fill=fill)
    _label(ax, xs[2], 6.15, "center 中心词 c", fontsize=8.5)
    _label(ax, (xs[0] + xs[1]) / 2, 6.15, "context 上下文词", fontsize=8.5)
    _label(ax, (xs[3] + xs[4]) / 2, 6.15, "context 上下文词", fontsize=8.5)
    _label(ax, xs[0] - 0.6, 6.55, "window m = 2:", fontsize=9, ha="right")
    _box(ax, 7.45, 6.55, 0.7, 0.38, "足球", "new", fontsize=10, fill=TINTS["neg"])
    _box(ax, 8.25, 6.55, 0.7, 0.38, "春节", "new", fontsize=10, fill=TINTS["neg"])
    _label(
        ax, 7.85, 6.15, r"k = 2 noise words, $P_n(w)\propto \mathrm{count}(w)^{0.75}$", fontsize=8
    )
    ax.add_line(Line2D([0.2, 9.3], [5.85, 5.85], color="#CCCCCC", lw=0.8))
    _label(
        ax,
        0.2,
        5.6,
        "Skip-gram 跳元模型: the center word predicts one context word o",
        ha="left",
        fontsize=10,
    )
    _w2v_panel(ax, 4.25, cbow=False)
    ax.add_line(Line2D([0.2, 9.3], [2.9, 2.9], color="#CCCCCC", lw=0.8))
    _label(
        ax,
        0.2,
        2.65,
        "CBOW 连续词袋模型: the mean of the context vectors predicts the center word",
        ha="left",
        fontsize=10,
    )
    _w2v_panel(ax, 1.4, cbow=True)
    return fig


# --------------------------------------------------------------------------
# 04 RNN, LSTM and ELMo
# --------------------------------------------------------------------------


def lstm_figure() -> Figure:
    """A recurrent network unrolled in time, then one LSTM cell: gates and the cell-state path."""
    fig, ax = _canvas(9.5, 6.3, "From an RNN to an LSTM cell")
    # the RNN, unrolled
    _label(ax, 1.65, 5.55, "RNN 循环神经网络: one state h", fontsize=10)
    xs, y = (0.75, 1.7, 2.65), 3.9
    prev = (0.12, y)
    _label(ax, 0.12, y + 0.2, "$h_0$", fontsize=9.5, ha="left")
    for t, x in enumerate(xs, start=1):
        cell = _box(ax, x, y, 0.6, 0.5, "tanh", "rnn", fontsize=9.5)
        _arrow(ax, prev, cell.w_())
        _arrow(ax, (x, 3.0), cell.s())
        _label(ax, x, 2.85, f"$x_{t}$", fontsize=10)
        _arrow(ax, cell.n(), (x, 4.75))
        _label(ax, x, 4.9, f"$h_{t}$", fontsize=10)
        prev = cell.e()
    _arrow(ax, prev, (3.25, y))
    _label(ax, 1.65, 2.4, r"$h_t=\tanh(W x_t+U h_{t-1}+b)$", fontsize=10)
    # the LSTM cell
    _label(ax, 6.45, 5.55, "LSTM 长短期记忆网络: a cell state c with gates", fontsize=10)
    ax.add_patch(
        FancyBboxPatch(
            (4.15, 2.55),
            4.45,
            2.65,
            boxstyle="round,pad=0,rounding_size=0.15",
            facecolor="#F7FBFA",
            edgecolor=PALETTE["rnn"][1],
            lw=1.3,
            zorder=1,
        )
    )
    cy = 4.85
    forget = _op(ax, 4.9, cy, "x")
    add = _op(ax, 6.35, cy, "+")
    _arrow(ax, (3.75, cy), forget.w_(), lw=2.0)
    _arrow(ax, forget.e(), add.w_(), lw=2.0)
    _arrow(ax, add.e(), (9.1, cy), lw=2.0)
    _label(ax, 3.75, cy + 0.2, "$c_{t-1}$", fontsize=10, ha="left")
    _label(ax, 9.1, cy + 0.2, "$c_t$", fontsize=10, ha="right")
    _label(ax, 5.62, cy + 0.2, "cell state: only × and +", fontsize=8, color=MUTED)
    gy, bus = 3.55, 2.95
    gates = {}
    for name, x, fn in (
        ("f", 4.9, r"\sigma"),
        ("i", 5.8, r"\sigma"),
        ("g", 6.75, r"\tanh"),
        ("o", 7.55, r"\sigma"),
    ):
        sym = r"\tilde c_t" if name == "g" else f"{name}_t"
        gates[name] = _box(ax, x, gy, 0.62, 0.5, f"${fn}$\n${sym}$", "rnn", fontsize=9.5)
        _arrow(ax, (x, bus), gates[name].s())
    ax.add_line(Line2D([3.75, 7.55], [bus, bus], color=INK, lw=1.3, zorder=3))
    _label(ax, 3.75, bus + 0.2, "$h_{t-1}$", fontsize=10, ha="left")
    _path(ax, [(4.45, 2.3), (4.45, bus)], head=False)
    ax.add_patch(Circle((4.45, bus), 0.035, color=INK, zorder=4))
    _label(ax, 4.45, 2.17, "$x_t$", fontsize=10)
    _label(ax, 6.1, bus - 0.2, r"$[h_{t-1},\ x_t]$ feeds every gate", fontsize=8, color=MUTED)
    _arrow(ax, gates["f"].n(), forget.s())
    mix = _op(ax, 6.35, 4.25, "x")
    _path(ax, [gates["i"].n(), (gates["i"].x, mix.y), mix.w_()])
    _path(ax, [gates["g"].n(), (gates["g"].x, mix.y), mix.e()])
    _arrow(ax, mix.n(), add.s())
    squash = _box(ax, 8.15, 4.25, 0.6, 0.32, "tanh", "rnn", fontsize=9)
    _path(ax, [(8.15, cy), squash.n()])
    ax.add_patch(Circle((8.15, cy), 0.035, color=INK, zorder=4))
    out = _op(ax, 8.15, gy, "x")
    _arrow(ax, squash.s(), out.n())
    _arrow(ax, gates["o"].e(), out.w_())
    _arrow(ax, out.e(), (9.1, gy), lw=1.6)
    _label(ax, 9.1, gy + 0.2, "$h_t$", fontsize=10, ha="right")
    # the equations
    ax.add_line(Line2D([0.2, 9.3], [1.95, 1.95], color="#CCCCCC", lw=0.8))
    eqs = (
        (r"$f_t=\sigma(W_f[h_{t-1},x_t]+b_f)$", "forget gate 遗忘门"),
        (r"$i_t=\sigma(W_i[h_{t-1},x_t]+b_i)$", "input gate 输入门"),
        (r"$o_t=\sigma(W_o[h_{t-1},x_t]+b_o)$", "output gate 输出门"),
        (r"$\tilde c_t=\tanh(W_c[h_{t-1},x_t]+b_c)$", "candidate"),
        (r"$c_t=f_t\odot c_{t-1}+i_t\odot\tilde c_t$", "new cell state"),
        (r"$h_t=o_t\odot\tanh(c_t)$", "hidden state 隐状态"),
    )
    for k, (eq, name) in enumerate(eqs):
        x0 = 0.3 if k < 3 else 4.95
        y = 1.6 - 0.5 * (k % 3)
        _label(ax, x0, y, eq, fontsize=10, ha="left")
        _label(ax, x0 + 2.45, y, name, fontsize=9, ha="left", color=MUTED)
    return fig


def elmo_figure() -> Figure:
    """ELMo: a char-CNN makes each word's vector, forward and backward LSTM stacks share one
    softmax, and a scalar mix combines the layers for a task."""
    fig, ax = _canvas(9.5, 7.55, "ELMo: 字符卷积 + 双向语言模型 + 标量混合")
    # the char-CNN, for one word
    _label(ax, 1.55, 6.8, "char-CNN 字符卷积网络 (one word)", fontsize=10)
    chars = ("<bow>", "经", "济", "<eow>")
    cx = [0.55, 1.2, 1.75, 2.4]
    for x, c in zip(cx, chars):
        _box(ax, x, 0.75, 0.58 if len(c) > 1 else 0.4, 0.34, c, "input", fontsize=8.5)
        col = _matrix(ax, x, 1.5, 4, 1, 0.13, color=PALETTE["embed"][0])
        _arrow(ax, (x, 0.92), col.s())
    _label(ax, 2.75, 1.5, "char\nembeddings", fontsize=8, ha="left")
    widths = _box(
        ax,
        1.5,
        2.5,
        2.4,
        0.5,
        "convolutions of widths 1, 2, 3, 4\n(several filters per width)",
        "ffn",
        fontsize=8.5,
    )
    for x in cx:
        _arrow(ax, (x, 1.76), (x, widths.bottom), lw=0.9)
    pool = _box(ax, 1.5, 3.25, 2.4, 0.42, "max-pool over positions, concat", "ffn", fontsize=8.5)
    _arrow(ax, widths.n(), pool.s())
    hw = _box(
        ax,
        1.5,
        3.95,
        2.4,
        0.5,
        "Highway: a gate g mixes\nrelu(W x) and the input x",
        "ffn",
        fontsize=8.5,
    )
    _arrow(ax, pool.n(), hw.s())
    proj = _box(ax, 1.5, 4.7, 2.4, 0.42, "Linear projection", "ffn", fontsize=8.5)
    _arrow(ax, hw.n(), proj.s())
    # the biLM
    cols = (3.85, 5.0, 6.15)
    words = ("经济", "持续", "增长")
    _label(ax, 5.0, 6.8, "biLM 双向语言模型", fontsize=10)
    top_soft = _box(
        ax, 5.0, 6.2, 3.25, 0.38, "softmax (shared) → next word", "output", fontsize=8.5
    )
    bot_soft = _box(
        ax, 5.0, 1.1, 3.25, 0.38, "the same softmax → previous word", "output", fontsize=8.5
    )
    rows = {"f2": 5.45, "f1": 4.7, "x": 3.9, "b1": 3.1, "b2": 2.35}
    grid: dict[tuple[str, int], Box] = {}
    for k, (x, word) in enumerate(zip(cols, words)):
        grid[("x", k)] = _box(ax, x, rows["x"], 0.8, 0.42, word, "embed", fontsize=9.5)
        for j in (1, 2):
            grid[(f"f{j}", k)] = _box(
                ax,
                x,
                rows[f"f{j}"],
                0.8,
                0.42,
                rf"$\overrightarrow{{h}}_{{{k + 1},{j}}}$",
                "rnn",
                fontsize=10,
            )
            grid[(f"b{j}", k)] = _box(
                ax,
                x,
                rows[f"b{j}"],
                0.8,
                0.42,
                rf"$\overleftarrow{{h}}_{{{k + 1},{j}}}$",
                "rnn",
                fontsize=10,
            )
        _arrow(ax, grid[("x", k)].n(), grid[("f1", k)].s())
        _arrow(ax, grid[("f1", k)].n(), grid[("f2", k)].s())
        _arrow(ax, grid[("f2", k)].n(), top_soft.s(x - 5.0))
        _arrow(ax, grid[("x", k)].s(), grid[("b1", k)].n())
        _arrow(ax, grid[("b1", k)].s(), grid[("b2", k)].n())
        _arrow(ax, grid[("b2", k)].s(), bot_soft.n(x - 5.0))
    for k in (0, 1):
        for j in (1, 2):
            _arrow(ax, grid[(f"f{j}", k)].e(), grid[(f"f{j}", k + 1)].w_(), color=PALETTE["rnn"][1])
            _arrow(ax, grid[(f"b{j}", k + 1)].w_(), grid[(f"b{j}", k)].e(), color=PALETTE["rnn"][1])
    for x, nxt, prv in zip(cols, ("持续", "增长", "<eos>"), ("<bos>", "经济", "持续")):
        _label(ax, x, 6.55, nxt, fontsize=8.5, color=MUTED)
        _label(ax, x, 0.72, prv, fontsize=8.5, color=MUTED)
    _path(ax, [proj.n(), (proj.x, 5.05), (2.95, 5.05), (2.95, rows["x"]), grid[("x", 0)].w_()])
    _label(ax, 3.05, rows["x"] + 0.2, "$x_1$", fontsize=9.5, ha="left")  # the vector of 经济
    _label(ax, 6.62, rows["f1"] + 0.37, "forward", fontsize=8, color=MUTED, ha="left")
    _label(ax, 6.62, rows["b1"] - 0.37, "backward", fontsize=8, color=MUTED, ha="left")
    # the scalar mix, for the token k = 持续
    k = 1
    frame = _group(ax, cols[k] - 0.5, 2.05, cols[k] + 0.5, 5.75, color=RED, fill="none")
    _label(ax, frame.x, frame.bottom - 0.14, "token k", fontsize=8, color=RED)
    _label(ax, 8.35, 6.8, "scalar mix 标量混合", fontsize=10)
    _label(ax, 8.35, 6.35, r"$\mathrm{ELMo}_k=\gamma\,\Sigma_j\, s_j\,h_{k,j}$", fontsize=10)
    _label(ax, 8.35, 5.95, r"$s=\mathrm{softmax}(w)$", fontsize=9)
    layer_names = (
        (r"$h_{k,2}=[\overrightarrow{h}_{k,2};\overleftarrow{h}_{k,2}]$", 4.7, "$s_2$"),
        (r"$h_{k,1}=[\overrightarrow{h}_{k,1};\overleftarrow{h}_{k,1}]$", 3.9, "$s_1$"),
        (r"$h_{k,0}=[x_k;\ x_k]$", 3.1, "$s_0$"),
    )
    mix = _op(ax, 8.35, 2.35, "+")
    for text, y, weight in layer_names:
        b = _box(ax, 8.35, y, 1.9, 0.42, text, "rnn", fontsize=9)
        _path(ax, [b.w_(), (7.25, y), (7.25, 2.35), mix.w_()], color=MUTED, lw=1.0)
        _label(ax, 7.12, y - 0.12, weight, fontsize=9.5, ha="right")
    out = _box(
        ax, 8.35, 1.45, 1.3, 0.42, r"$\times\,\gamma$  →  $\mathrm{ELMo}_k$", "output", fontsize=9.5
    )
    _arrow(ax, mix.s(), out.n())
    _label(ax, 8.35, 0.95, "w and γ are learned\nwith the task", fontsize=8, color=MUTED)
    return fig


# --------------------------------------------------------------------------
# 07b from GPT-3 to ChatGPT, 09 SFT and preference tuning
# --------------------------------------------------------------------------


def rlhf_pipeline_figure() -> Figure:
    """GPT-3 -> InstructGPT -> ChatGPT: pre-training, SFT, a reward model from rankings, PPO."""
    fig, ax = _canvas(9.5, 5.3, "From GPT-3 to InstructGPT and ChatGPT: four stages")
    xs = (1.2, 3.56, 5.94, 8.3)
    heads = (
        ("Pre-training 预训练", "embed"),
        ("Supervised fine-tuning\n监督微调 (SFT)", "attn"),
        ("Reward model 奖励模型", "ffn"),
        ("Reinforcement learning\nPPO 近端策略优化", "output"),
    )
    data = (
        "internet text and books\nnext-token prediction\n(GPT-3: 300B tokens)",
        "prompts with answers\nwritten by labellers\n(demonstrations)",
        "several model answers\nper prompt, ranked\nby labellers",
        "new prompts: the policy\nanswers, the reward\nmodel scores each answer",
    )
    models = (
        "GPT-3 (2020)\n基座模型 base model",
        "SFT model",
        "reward model\nr(x, y): one number",
        "policy = InstructGPT\n(2022)",
    )
    objectives = (
        r"$-\log p(\mathrm{next\ token})$",
        "the same loss, on the\nanswer tokens only",
        r"$-\log\sigma(r(x,y_w)-r(x,y_l))$",
        r"max $r(x,y)-\beta\,\mathrm{KL}(\pi_\theta\,\|\,\pi_{SFT})$",
    )
    mboxes = []
    for i, x in enumerate(xs):
        name, kind = heads[i]
        hb = _box(ax, x, 4.4, 2.15, 0.55, name, kind, fontsize=9.5)
        _badge(ax, hb.left + 0.02, hb.top, i + 1)
        db = _box(ax, x, 3.35, 2.15, 0.82, data[i], "input", fontsize=8.5)
        _arrow(ax, hb.s(), db.n())
        mb = _box(ax, x, 2.2, 2.15, 0.55, models[i], kind, fontsize=9)
        _arrow(ax, db.s(), mb.n())
        _label(ax, x, 1.55, objectives[i], fontsize=8.5)
        mboxes.append(mb)
    labels = ("initialises", "answers to rank", "scores")
    for (a, b), text in zip(zip(mboxes, mboxes[1:]), labels):
        _arrow(ax, a.e(), b.w_())
        _label(ax, (a.right + b.left) / 2, a.y + 0.42, text, fontsize=7.5, color=MUTED)
    sft, policy = mboxes[1], mboxes[3]
    _path(
        ax,
        [sft.s(-0.85), (sft.x - 0.85, 0.95), (policy.x, 0.95), (policy.x, 1.35)],
        color=PALETTE["attn"][1],
    )
    _label(
        ax,
        (sft.x + policy.x) / 2,
        0.78,
        "the SFT model is the starting policy and the frozen reference of the KL penalty",
        fontsize=8,
        color=PALETTE["attn"][1],
    )
    _label(
        ax,
        4.75,
        0.3,
        "ChatGPT (2022): the same stages, with conversations as the data",
        fontsize=9.5,
    )
    return fig


# One conversation of the course's chat template, as character tokens.
_CHAT_TOKENS = (
    ("<|user|>", "marker"),
    *((c, "user") for c in "25用汉字怎么写"),
    ("<|end|>", "marker"),
    ("<|assistant|>", "marker"),
    *((c, "assistant") for c in "二十五"),
    ("<|end|>", "assistant"),
)


def chat_template_figure() -> Figure:
    """The chat template with role markers, and the SFT loss mask over the answer only."""
    fig, ax = _canvas(
        9.5, 4.3, "SFT 监督微调: the chat template 对话模板 and the loss mask 损失掩码"
    )
    _label(ax, 4.75, 3.65, "<|user|>25用汉字怎么写<|end|><|assistant|>二十五<|end|>", fontsize=10)
    widths = {"<|user|>": 0.74, "<|end|>": 0.68, "<|assistant|>": 1.02}
    gap, x = 0.06, 1.0
    fills = {"marker": PALETTE["embed"][0], "user": TINTS["k"], "assistant": TINTS["hi"]}
    kinds = {"marker": "embed", "user": "ffn", "assistant": "attn"}
    boxes = []
    for tok, role in _CHAT_TOKENS:
        w = widths.get(tok, 0.38)
        boxes.append(
            _box(ax, x + w / 2, 2.45, w, 0.4, tok, kinds[role], fontsize=8.5, fill=fills[role])
        )
        x += w + gap
    _label(ax, 0.08, 2.45, "tokens", fontsize=9, ha="left")
    _label(ax, 0.08, 1.5, "target", fontsize=9, ha="left")
    _label(ax, 0.08, 0.98, "loss mask", fontsize=9, ha="left")
    for first, last, text, color in (
        (0, 9, "user turn: no loss", PALETTE["ffn"][1]),
        (11, 14, "the assistant's answer: loss", PALETTE["attn"][1]),
    ):
        a, b = boxes[first], boxes[last]
        ax.add_line(
            Line2D(
                [a.left, a.left, b.right, b.right], [2.75, 2.85, 2.85, 2.75], color=color, lw=1.2
            )
        )
        _label(ax, (a.left + b.right) / 2, 3.05, text, fontsize=9, color=color)
    # position t predicts token t + 1; only the assistant's tokens are kept as targets
    for t in range(1, len(boxes)):
        tok, role = _CHAT_TOKENS[t]
        keep = role == "assistant"
        b = boxes[t]
        _box(
            ax,
            b.x,
            1.5,
            b.w,
            0.4,
            tok,
            "output" if keep else "removed",
            fontsize=8.5,
            dashed=not keep,
        )
        _arrow(ax, boxes[t - 1].s(), (b.x, 1.7), lw=0.7, color=INK if keep else "#B0B0B0")
        _label(ax, b.x, 0.98, "1" if keep else "0", fontsize=9.5, color=INK if keep else MUTED)
    _label(
        ax,
        4.75,
        0.52,
        "Each position predicts the next token. Targets with mask 0 are set to "
        "−100, which cross_entropy ignores:",
        fontsize=8.5,
    )
    _label(
        ax,
        4.75,
        0.25,
        "the loss is the mean of −log p(target) over the green targets only: the "
        "model learns to answer, not to write questions.",
        fontsize=8.5,
    )
    return fig


def _flow(ax: Axes, x: float, items: Sequence[tuple[float, str, str]], w: float) -> list[Box]:
    """A vertical chain of boxes (y, text, kind) joined by arrows, top to bottom."""
    boxes = []
    for y, text, kind in items:
        h = 0.3 + 0.17 * text.count("\n") + 0.05
        boxes.append(_box(ax, x, y, w, h, text, kind, fontsize=8.5))
    for a, b in zip(boxes, boxes[1:]):
        _arrow(ax, a.s(), b.n())
    return boxes


def preference_methods_figure() -> Figure:
    """DPO, PPO (RLHF) and GRPO side by side: what each learns from and what it keeps in memory."""
    fig, ax = _canvas(9.5, 5.9, "Preference tuning 偏好微调: DPO, PPO and GRPO")
    xs, w = (1.6, 4.75, 7.9), 2.7
    heads = ("DPO 直接偏好优化", "PPO (RLHF) 近端策略优化", "GRPO 组相对策略优化")
    for x, text in zip(xs, heads):
        _label(ax, x, 5.2, text, fontsize=10.5)
    # DPO: offline pairs, a frozen reference, no reward model, no sampling
    pairs = _box(
        ax,
        xs[0],
        4.6,
        w,
        0.52,
        "offline pairs " + r"$(x,\ y_w,\ y_l)$" + "\nchosen, rejected; collected once",
        "input",
        fontsize=8.5,
    )
    pol = _box(
        ax,
        xs[0] - 0.7,
        3.6,
        1.25,
        0.52,
        "policy " + r"$\pi_\theta$" + "\n(trained)",
        "attn",
        fontsize=8.5,
    )
    ref = _box(
        ax,
        xs[0] + 0.7,
        3.6,
        1.25,
        0.52,
        "reference " + r"$\pi_{ref}$" + "\n(frozen)",
        "input",
        fontsize=8.5,
    )
    ratio = _box(
        ax,
        xs[0],
        2.55,
        w,
        0.6,
        "log-probability ratios\n" + r"$\Delta=\log\pi_\theta(y|x)-\log\pi_{ref}(y|x)$",
        "plain",
        fontsize=8.5,
    )
    loss = _box(
        ax,
        xs[0],
        1.45,
        w,
        0.45,
        r"loss $=-\log\sigma(\beta\,[\Delta_w-\Delta_l])$",
        "output",
        fontsize=8.5,
    )
    for m in (pol, ref):
        _arrow(ax, pairs.s(m.x - xs[0]), m.n())
        _arrow(ax, m.s(), ratio.n(m.x - xs[0]))
    _arrow(ax, ratio.s(), loss.n())
    # PPO: sample, score with a learned reward model, a value model for the baseline
    _flow(
        ax,
        xs[1],
        (
            (4.6, "prompt x", "input"),
            (3.85, "policy " + r"$\pi_\theta$" + " samples an answer y", "attn"),
            (
                3.0,
                "reward model r(x, y), learned\nfrom rankings; − β·KL to " + r"$\pi_{ref}$",
                "ffn",
            ),
            (2.1, "value model V: a learned\nbaseline → advantage (GAE)", "ffn"),
            (1.3, "clipped policy update", "output"),
        ),
        w,
    )
    # GRPO: a group of samples, an exact checker, advantages normalised in the group
    _flow(
        ax,
        xs[2],
        (
            (4.6, "prompt x", "input"),
            (3.85, "policy samples a group of\nG answers " + r"$y_1,\dots,y_G$", "attn"),
            (3.0, "checker: " + r"$r_i\in\{0,1\}$" + "\n(a verifiable reward)", "ffn"),
            (2.1, r"$A_i=(r_i-\mathrm{mean}(r))\,/\,\mathrm{std}(r)$", "plain"),
            (1.3, "clipped update + KL to " + r"$\pi_{ref}$", "output"),
        ),
        w,
    )
    ax.add_line(Line2D([0.2, 9.3], [0.85, 0.85], color="#CCCCCC", lw=0.8))
    needs = (
        "holds: policy, reference\nno sampling, no reward model",
        "holds: policy, reference,\nreward model, value model",
        "holds: policy, reference\nno reward model, no value model",
    )
    for x, text in zip(xs, needs):
        _label(ax, x, 0.45, text, fontsize=8.5, color=MUTED)
    return fig


def _cells(ax: Axes, m: Box, rows: int, cols: int, fills: Sequence[str]) -> None:
    """Tint the cells of a drawn ``_matrix`` one by one, row by row (fills cycle)."""
    cw, ch = m.w / cols, m.h / rows
    for i in range(rows):
        for j in range(cols):
            ax.add_patch(
                Rectangle(
                    (m.left + j * cw, m.top - (i + 1) * ch),
                    cw,
                    ch,
                    facecolor=fills[(i * cols + j) % len(fills)],
                    edgecolor="#9A9A9A",
                    linewidth=0.5,
                    zorder=2.5,
                )
            )


def lora_figure() -> Figure:
    """LoRA: a frozen W beside a trainable low-rank path B A through a rank-r bottleneck, the
    parameter counts, and the merge W' = W + (alpha/r) B A."""
    fig, ax = _canvas(9.5, 5.9, "LoRA 低秩适配: a frozen W plus a trainable low-rank update")
    cell, d, r = 0.16, 8, 2
    up, low = 4.35, 2.05
    red = PALETTE["new"][1]
    # the input x forks into the frozen path (top) and the low-rank path (bottom)
    x = _matrix(ax, 0.45, (up + low) / 2, d, 1, cell, color=TINTS["k"])
    _label(ax, x.x, x.top + 0.18, "x", fontsize=10)
    _label(ax, x.x, x.bottom - 0.18, r"$(d_{in})$", fontsize=8.5)
    fork = 0.9
    ax.add_line(Line2D([x.right, fork], [x.y, x.y], color=INK, lw=1.3, zorder=3))
    ax.add_patch(Circle((fork, x.y), 0.035, color=INK, zorder=4))
    # the frozen path: W, large and grey
    w = _matrix(ax, 3.1, up, d, d, cell, color=TINTS["grey"])
    _path(ax, [(fork, x.y), (fork, up), w.w_()])
    _label(ax, w.x, w.top + 0.2, r"$W$   $(d_{out}\times d_{in})$", fontsize=10)
    _label(ax, w.x, w.bottom - 0.2, "frozen 冻结: no gradient", fontsize=9, color=MUTED)
    # the low-rank path: A (r x d_in, random), the r numbers A x, B (d_out x r, zero)
    _group(ax, 1.15, 0.8, 6.15, 3.2, color=red, fill="#FFFAF9")
    _label(ax, 1.3, 3.0, "trainable 可训练: only A and B", fontsize=9, color=red, ha="left")
    a = _matrix(ax, 2.05, low, r, d, cell)
    _cells(
        ax, a, r, d, ("#F4B3A8", "#FCE0DB", "#E98B7D", "#F8CBC3", "#F2A49A", "#FBD9D3", "#EE9A8E")
    )
    _path(ax, [(fork, x.y), (fork, low), a.w_()])
    _label(ax, a.x, a.top + 0.2, r"$A$   $(r\times d_{in})$", fontsize=10)
    _label(ax, a.x, a.bottom - 0.3, "random init\n(as nn.Linear)", fontsize=8.5)
    z = _matrix(ax, 3.15, low, r, 1, cell, color=PALETTE["new"][0])
    _arrow(ax, a.e(), z.w_())
    _label(ax, z.x, z.bottom - 0.2, r"$Ax$", fontsize=9)
    _label(ax, z.x, z.top + 0.42, "rank r: the narrow\nbottleneck (r ≪ d)", fontsize=8.5, color=red)
    b = _matrix(ax, 4.3, low, d, r, cell, color="#FFFFFF")
    for i in range(d):
        for j in range(r):
            cx, cy = b.left + (j + 0.5) * cell, b.top - (i + 0.5) * cell
            _label(ax, cx, cy, "0", fontsize=6.5, color=MUTED)
    _arrow(ax, z.e(), b.w_())
    _label(ax, b.x, b.top + 0.2, r"$B$   $(d_{out}\times r)$", fontsize=10)
    _label(
        ax,
        b.x,
        b.bottom - 0.3,
        "zero init: B A = 0, so\nstep 0 = the pre-trained model",
        fontsize=8.5,
    )
    scale = _box(ax, 5.5, low, 0.75, 0.42, r"$\times\ \alpha/r$", "new", fontsize=10)
    _arrow(ax, b.e(), scale.w_())
    _label(ax, scale.x, scale.bottom - 0.25, "fixed scale", fontsize=8.5, color=MUTED)
    # the sum and the output h
    add = _op(ax, 6.6, up, "+")
    _arrow(ax, w.e(), add.w_())
    _label(ax, (w.right + add.left) / 2, up + 0.17, r"$Wx$", fontsize=9.5)
    _path(ax, [scale.e(), (add.x, low), add.s()])
    _label(ax, add.x - 0.08, 3.45, r"$(\alpha/r)\,BAx$", fontsize=9.5, ha="right")
    h = _matrix(ax, 7.2, up, d, 1, cell, color="#FFE9A8")
    _arrow(ax, add.e(), h.w_())
    _label(ax, h.x, h.top + 0.18, "h", fontsize=10)
    _label(ax, h.x, h.bottom - 0.18, r"$(d_{out})$", fontsize=8.5)
    # the equation, the parameter counts, the merge
    cx, cw = 8.45, 1.85
    _box(ax, cx, up, cw, 0.5, r"$h=Wx+(\alpha/r)\,BAx$", "output", fontsize=10)
    _box(
        ax,
        cx,
        3.05,
        cw,
        1.25,
        "trainable parameters\n"
        + r"full: $d_{in}\cdot d_{out}$"
        + "\n"
        + r"LoRA: $r\cdot(d_{in}+d_{out})$"
        + "\n"
        + r"$d_{in}=d_{out}=4096$, $r=8$:"
        + "\n16.8M → 65,536 (0.39%)",
        "plain",
        fontsize=8.5,
    )
    _box(
        ax,
        cx,
        1.55,
        cw,
        1.1,
        "merge after training:\n"
        + r"$W'=W+(\alpha/r)\,BA$"
        + "\nthe shape of W: exact,\nno extra cost at inference",
        "output",
        fontsize=8.5,
    )
    ax.add_line(Line2D([0.2, 9.3], [0.58, 0.58], color="#CCCCCC", lw=0.8))
    _label(
        ax,
        4.75,
        0.3,
        "Gradients and optimizer state only for A and B; one frozen base model can carry "
        "many small adapters.",
        fontsize=8.5,
    )
    return fig


_GRPO_GROUP = (
    ("三百零五", 1),
    ("三百五", 0),
    ("三百零五", 1),
    ("三千零五", 0),
)


def grpo_group_figure() -> Figure:
    """One GRPO step on one prompt: a group of G answers, exact rewards, advantages normalised
    in the group, the clipped update with a KL penalty; an all-equal group teaches nothing."""
    fig, ax = _canvas(9.5, 5.6, "GRPO 组相对策略优化: a group of answers is its own baseline")
    rewards = [reward for _, reward in _GRPO_GROUP]
    g = len(rewards)
    mean = sum(rewards) / g
    std = (sum((v - mean) ** 2 for v in rewards) / (g - 1)) ** 0.5  # sample std, as trl
    dev = max(rewards) - mean  # |r_i - mean|, the same for every answer here
    ys = [4.15 - 0.6 * i for i in range(g)]
    yc = sum(ys) / g
    prompt = _box(ax, 0.9, yc, 1.4, 0.85, "prompt x\n把 305 写成\n中文数字", "input", fontsize=9)
    policy = _box(
        ax,
        2.45,
        yc,
        1.25,
        0.85,
        "policy " + r"$\pi_\theta$" + "\nsamples\nG = 4 answers",
        "attn",
        fontsize=9,
    )
    _arrow(ax, prompt.e(), policy.w_())
    xa, xr, xv, xu = 4.05, 5.3, 6.45, 8.4
    for x, text in (
        (xa, "a group of G = 4"),
        (xr, "exact checker\nreward " + r"$r_i$"),
        (xv, "advantage " + r"$A_i$"),
    ):
        _label(ax, x, 4.8, text, fontsize=9)
    green, red = PALETTE["output"][1], PALETTE["new"][1]
    update = _box(
        ax,
        xu,
        yc,
        1.75,
        2.2,
        "update "
        + r"$\pi_\theta$"
        + ":\nraise p("
        + r"$y_i$"
        + "|x) where\n"
        + r"$A_i>0$"
        + ", lower it\nwhere "
        + r"$A_i<0$"
        + "\n\nclipped policy-gradient\nstep, as in PPO",
        "output",
        fontsize=9,
    )
    for i, ((answer, reward), y) in enumerate(zip(_GRPO_GROUP, ys)):
        ok = reward == 1
        adv = (reward - mean) / std
        ab = _box(ax, xa, y, 1.25, 0.4, f"y{chr(0x2081 + i)}  {answer}", "plain", fontsize=9.5)
        _arrow(ax, policy.e(), ab.w_())
        rb = _box(
            ax,
            xr,
            y,
            0.9,
            0.4,
            f"{'✓' if ok else '✗'}  r = {reward}",
            "plain",
            fontsize=9,
            color=green if ok else red,
            fill=PALETTE["output"][0] if ok else PALETTE["new"][0],
        )
        _arrow(ax, ab.e(), rb.w_())
        vb = _box(
            ax,
            xv,
            y,
            1.0,
            0.4,
            f"A = {adv:+.2f}".replace("-", "−"),
            "plain",
            fontsize=9,
            fill=TINTS["pos"] if ok else TINTS["neg"],
        )
        _arrow(ax, rb.e(), vb.w_())
        _arrow(ax, vb.e(), update.w_(y - yc))
    # the numbers of the normalisation
    _box(
        ax,
        5.35,
        1.55,
        3.3,
        0.75,
        f"mean(r) = {mean:.1f},   std(r) = {std:.3f}   (sample std, n − 1)\n"
        + r"$A_i=(r_i-\mathrm{mean})\,/\,\mathrm{std}$"
        + f" = ±{dev:.1f} / {std:.3f} = ±{dev / std:.3f}",
        "plain",
        fontsize=8.5,
    )
    ref = _box(
        ax, xu, 1.55, 1.75, 0.55, "reference " + r"$\pi_{ref}$" + "\n(frozen)", "input", fontsize=9
    )
    _arrow(ax, ref.n(), update.s())
    _label(
        ax, xu + 0.1, (ref.top + update.bottom) / 2, r"$-\beta\,\mathrm{KL}$", fontsize=9, ha="left"
    )
    _box(
        ax,
        1.65,
        1.55,
        2.9,
        0.75,
        "a group all right (1, 1, 1, 1) or all\nwrong (0, 0, 0, 0): std = 0, every A = 0:\n"
        "no gradient, it teaches nothing",
        "removed",
        fontsize=8.5,
        dashed=True,
    )
    ax.add_line(Line2D([0.2, 9.3], [0.9, 0.9], color="#CCCCCC", lw=0.8))
    _label(
        ax,
        4.75,
        0.55,
        r"maximise $(1/G)\,\Sigma_i\ \min(\rho_i A_i,\ "
        r"\mathrm{clip}(\rho_i,1-\epsilon,1+\epsilon)\,A_i)"
        r"-\beta\,\mathrm{KL}(\pi_\theta\,\|\,\pi_{ref})$,   "
        r"$\rho_i=\pi_\theta(y_i|x)\,/\,\pi_{old}(y_i|x)$",
        fontsize=9,
    )
    _label(
        ax,
        4.75,
        0.22,
        "no reward model and no value model: the group's mean is the baseline",
        fontsize=8.5,
        color=MUTED,
    )
    return fig


# --------------------------------------------------------------------------
# 08 mixture of experts
# --------------------------------------------------------------------------


def moe_figure() -> Figure:
    """A mixture-of-experts FFN: a router picks k of E experts per token; total against active
    parameters."""
    fig, ax = _canvas(9.5, 5.2, "Mixture of experts 混合专家 (MoE): each token uses k of E FFNs")
    n_experts, chosen = 8, (2, 5)
    line_y = 3.0
    h = _matrix(ax, 0.5, line_y, 6, 1, 0.15, color=TINTS["k"])
    _label(ax, h.x, h.top + 0.2, "token h", fontsize=9)
    _label(ax, h.x - 0.2, h.y, "(d)", fontsize=8.5, ha="right")
    # the router: scores for every expert, the top k chosen
    router = _box(ax, 1.75, 1.55, 1.15, 0.62, "router\n" + r"scores $h\,W_r$", "attn", fontsize=9)
    _label(ax, router.x, router.bottom - 0.2, r"$W_r$: $(d,\ E)$", fontsize=8.5)
    ax.add_patch(Circle((1.0, line_y), 0.035, color=INK, zorder=4))
    _path(ax, [(1.0, line_y), (1.0, router.y), router.w_()])
    scores = (0.35, 0.5, 1.0, 0.3, 0.2, 0.85, 0.55, 0.4)
    bx0, base, bw = 2.75, 1.0, 0.16
    for i, sc in enumerate(scores):
        ax.add_patch(
            Rectangle(
                (bx0 + i * (bw + 0.05), base),
                bw,
                sc * 1.1,
                facecolor=TINTS["hi"] if i in chosen else TINTS["grey"],
                edgecolor="#777777",
                lw=0.6,
                zorder=2,
            )
        )
    right = bx0 + 8 * (bw + 0.05)
    ax.add_line(Line2D([bx0 - 0.05, right], [base, base], color=INK, lw=0.8))
    _arrow(ax, router.e(), (bx0 - 0.1, router.y))
    mid = (bx0 + right) / 2
    _label(ax, mid, base - 0.2, "E = 8 scores", fontsize=8.5)
    _label(
        ax, mid + 0.2, 2.35, "top-k (k = 2): FFN 3 and FFN 6", fontsize=9, color=PALETTE["attn"][1]
    )
    # the experts: h goes only to the chosen ones
    ex, bus = 5.75, 4.9
    experts = []
    for i in range(n_experts):
        y = 4.15 - i * 0.47
        on = i in chosen
        experts.append(
            _box(
                ax,
                ex,
                y,
                1.05,
                0.36,
                f"FFN {i + 1}",
                "ffn" if on else "removed",
                fontsize=9,
                dashed=not on,
            )
        )
    ax.add_line(Line2D([h.right, bus], [line_y, line_y], color=INK, lw=1.3, zorder=3))
    ax.add_line(Line2D([bus, bus], [experts[chosen[1]].y, experts[chosen[0]].y], color=INK, lw=1.3))
    for i in chosen:
        _arrow(ax, (bus, experts[i].y), experts[i].w_())
    _arrow(ax, (right + 0.05, 1.6), (bus - 0.05, 1.95), color=PALETTE["attn"][1], dashed=True)
    mix = _op(ax, 7.3, line_y, "+")
    for i in chosen:
        _path(ax, [experts[i].e(), (6.8, experts[i].y), (6.8, line_y), mix.w_()])
        _label(ax, 6.9, experts[i].y + 0.15, f"$g_{i + 1}$", fontsize=10, ha="left")
    out = _matrix(ax, 8.1, line_y, 6, 1, 0.15, color="#FFE9A8")
    _arrow(ax, mix.e(), out.w_())
    _label(ax, out.x, out.top + 0.2, "output y", fontsize=9)
    _label(ax, 8.05, 1.9, r"$y=\Sigma_{i\in\mathrm{top}k}\ g_i\,\mathrm{FFN}_i(h)$", fontsize=10)
    _label(
        ax,
        8.05,
        1.45,
        "g: softmax over the k chosen\nscores (as in Mixtral)",
        fontsize=8.5,
        color=MUTED,
    )
    ax.add_line(Line2D([0.2, 9.3], [0.6 + 0.05, 0.6 + 0.05], color="#CCCCCC", lw=0.8))
    _label(
        ax,
        4.75,
        0.35,
        "total parameters = non-expert + E × (one FFN);   active per token = non-expert + "
        "k × (one FFN);   non-expert: embeddings, attention, norms, router",
        fontsize=8.5,
    )
    return fig
