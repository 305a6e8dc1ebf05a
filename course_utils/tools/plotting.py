"""Plots that render Chinese: CJK font set-up and the course's common figures.

``place_labels`` labels the points of a scatter plot so that no two labels overlap and none
leaves the axes; ``label_problems`` counts what a figure's labels still get wrong.

``setup_cjk_font()`` finds an installed CJK font by name, registers font files
that were installed after matplotlib built its font cache, and puts the CJK
font *after* the default font in ``font.family``. Matplotlib (>= 3.6) then
falls back glyph by glyph, so Latin text and the minus sign keep the default
font and only Chinese characters come from the CJK font.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.text import Text

# Family names as fonts report them, in order of preference.
CJK_FONT_NAMES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "STHeiti",
    "Hiragino Sans GB",
    "Arial Unicode MS",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
)
# Substrings of font file names that hold those families.
_CJK_FILE_HINTS = (
    "wqy",
    "notosanscjk",
    "notoserifcjk",
    "notosanssc",
    "sourcehansans",
    "simhei",
    "msyh",
    "pingfang",
    "stheiti",
    "hiragino",
    "arialuni",
    "droidsansfallback",
)
INSTALL_HINT = (
    "No CJK font found, so Chinese labels would render as boxes. Install one:\n"
    "  Debian/Ubuntu (AutoDL): apt-get install -y fonts-wqy-microhei   (or fonts-noto-cjk)\n"
    "  conda: conda install -c conda-forge font-ttf-noto-cjk\n"
    "  macOS/Windows already ship PingFang SC / Microsoft YaHei.\n"
    "Then restart the kernel."
)

_found: str | None = None
_warned = False


def _registered_families() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def find_cjk_font(register: bool = True) -> str | None:
    """Name of an installed CJK font family, or None. With ``register``,
    font files on the system that matplotlib's cache does not know yet are added."""
    families = _registered_families()
    for name in CJK_FONT_NAMES:
        if name in families:
            return name
    if register:
        for path in font_manager.findSystemFonts():
            low = path.replace("-", "").replace("_", "").lower()
            if any(hint in low for hint in _CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except Exception:  # unreadable font file: skip it
                    continue
        families = _registered_families()
        for name in CJK_FONT_NAMES:
            if name in families:
                return name
    return None


def setup_cjk_font(quiet: bool = False) -> str | None:
    """Configure matplotlib so that Chinese renders; return the CJK family used.

    With no CJK font on the machine, warn once with the install command and return None.
    """
    global _found, _warned
    name = find_cjk_font()
    if name is None:
        if not _warned and not quiet:
            warnings.warn(INSTALL_HINT, stacklevel=2)
            _warned = True
        return None
    base = [f for f in matplotlib.rcParams["font.sans-serif"] if f != name][:1] or ["DejaVu Sans"]
    matplotlib.rcParams["font.family"] = [base[0], name]
    matplotlib.rcParams["axes.unicode_minus"] = True
    _found = name
    return name


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def heatmap(
    matrix,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    cmap: str = "viridis",
    annotate: bool | str = False,
    xlabel: str | None = None,
    ylabel: str | None = None,
    colorbar: bool = True,
    **imshow_kw,
):
    """A labelled heatmap of a 2-D array or tensor.

    ``annotate`` may be a format string such as ".2f".
    """
    m = np.asarray(matrix.detach().cpu() if hasattr(matrix, "detach") else matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"heatmap expects a 2-D matrix, got shape {m.shape}")
    for name, labels, n in (
        ("row_labels", row_labels, m.shape[0]),
        ("col_labels", col_labels, m.shape[1]),
    ):
        if labels is not None and len(labels) != n:
            raise ValueError(
                f"{name} has {len(labels)} labels but the matrix has {n} along that axis"
            )
    ax = _axes(ax)
    im = ax.imshow(m, cmap=cmap, aspect="auto", **imshow_kw)
    if row_labels is not None:
        ax.set_yticks(range(m.shape[0]), labels=list(row_labels))
    if col_labels is not None:
        ax.set_xticks(range(m.shape[1]), labels=list(col_labels))
    if annotate:
        fmt = annotate if isinstance(annotate, str) else ".2f"
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                r, g, b, _ = im.cmap(im.norm(m[i, j]))
                luminance = 0.299 * r + 0.587 * g + 0.114 * b  # dark cell -> white text
                ax.text(
                    j,
                    i,
                    format(m[i, j], fmt),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if luminance < 0.5 else "black",
                )
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def scatter_2d(
    points,
    labels: Sequence[str] | None = None,
    ax=None,
    colors=None,
    title: str | None = None,
    fontsize: int = 9,
    **scatter_kw,
):
    """Scatter 2-D points (e.g. PCA/t-SNE of embeddings) with a text label beside each."""
    p = np.asarray(points.detach().cpu() if hasattr(points, "detach") else points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"scatter_2d expects points of shape (n, 2), got {p.shape}")
    if labels is not None and len(labels) != len(p):
        raise ValueError(f"got {len(labels)} labels for {len(p)} points")
    ax = _axes(ax)
    ax.scatter(p[:, 0], p[:, 1], c=colors, s=scatter_kw.pop("s", 18), **scatter_kw)
    if labels is not None:
        for (x, y), text in zip(p, labels):
            ax.annotate(
                str(text), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=fontsize
            )
    if title:
        ax.set_title(title)
    return ax


def _as_points(points) -> np.ndarray:
    p = np.asarray(points.detach().cpu() if hasattr(points, "detach") else points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"expected points of shape (n, 2), got {p.shape}")
    return p


# Where a label may go, in points from its point, nearest first: the four corners, then the
# four sides, on rings of growing radius. Each comes with the alignment that keeps the text on
# that side of the point.
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
_ALIGN_X = {1: "left", 0: "center", -1: "right"}
_ALIGN_Y = {1: "bottom", 0: "center", -1: "top"}
LABEL_RINGS = (3.0, 9.0, 16.0, 24.0)
LEADER_RINGS = (36.0, 50.0)  # farther out, a thin line joins a label to its point


def _inside(box, frame) -> bool:
    return frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def _text_box(text, renderer):
    """The box of a label's text alone, in pixels (an annotation's own extent includes its line)."""
    if hasattr(text, "update_positions"):
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def _box_distances(box, marks: np.ndarray) -> np.ndarray:
    """(n,) distance in pixels from each point of ``marks`` (n, 2) to ``box``; 0 inside it."""
    dx = np.maximum(np.maximum(box.x0 - marks[:, 0], marks[:, 0] - box.x1), 0)
    dy = np.maximum(np.maximum(box.y0 - marks[:, 1], marks[:, 1] - box.y1), 0)
    return np.hypot(dx, dy)


def place_labels(
    ax,
    points,
    labels: Sequence[str],
    indices: Sequence[int] | None = None,
    *,
    fontsize: float = 10,
    avoid_points: bool = False,
    rings: Sequence[float] = LABEL_RINGS,
    leader_rings: Sequence[float] = LEADER_RINGS,
    **text_kw,
) -> list[Text]:
    """Label ``points[i]`` with ``labels[i]`` for each ``i`` of ``indices`` (default: all), in
    that order, so that no two labels overlap and none leaves the axes.

    Each label tries positions around its point, nearest first (the four corners, then the four
    sides, at each distance of ``rings``, in points) and takes the first that stays inside the
    axes and keeps a quarter of the font size away from every label placed before it. With
    ``avoid_points`` it must also keep clear of the other points and lie nearer to its own
    point than to any other, so that it cannot be read as another point's. A label that finds
    no such place tries the farther ``leader_rings``, joined to its point by a thin line; one
    that fits nowhere is left out, so list the most important points first. Returns the
    matplotlib ``Annotation`` of every label placed; ``label_problems`` checks them.

    Call it once the layout is final (after ``tight_layout`` and setting the limits): it
    measures the labels in the drawn figure.
    """
    p = _as_points(points)
    if len(labels) != len(p):
        raise ValueError(f"got {len(labels)} labels for {len(p)} points")
    order = range(len(p)) if indices is None else [int(i) for i in indices]
    if not rings or min(rings) < 0 or min(leader_rings, default=0) < 0:
        raise ValueError(f"rings must be non-empty distances >= 0 (points), got {rings!r}")
    fig = ax.figure
    fig.canvas.draw()  # fixes the limits and the layout the labels are measured in
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    marks = ax.transData.transform(p) if avoid_points else np.empty((0, 2))  # (n, 2) pixels
    marker = fontsize * fig.dpi / 72 / 3  # pixels kept clear around a point: about its marker
    gap = fontsize * fig.dpi / 72 / 4  # pixels between two labels, so that they never read as one
    leader = dict(arrowstyle="-", color="0.4", lw=0.6, shrinkA=1, shrinkB=3)
    placed: list[Text] = []
    boxes: list = []  # the pixel box of each label placed

    def crosses_a_label(box, i: int) -> bool:
        # the leader runs from the point towards the box's centre: sample it outside the box
        start = ax.transData.transform(p[i])
        end = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        path = start + np.linspace(0, 1, 25)[:, None] * (end - start)  # (25, 2)
        path = path[_box_distances(box, path) > 0]
        return any(_box_distances(b, path).min(initial=np.inf) == 0 for b in boxes)

    def fits(box, i: int, with_leader: bool) -> bool:
        if not _inside(box, frame) or any(box.padded(gap).overlaps(b) for b in boxes):
            return False
        if with_leader and crosses_a_label(box, i):
            return False
        dist = _box_distances(box, marks)  # (n,) or (0,) without avoid_points
        others = np.delete(dist, i) if len(dist) else dist
        nearest_other = others.min(initial=np.inf)
        # a leader line shows which point a label belongs to; without one, the nearest point does
        return nearest_other > (marker if with_leader or not len(dist) else max(marker, dist[i]))

    for i in order:
        for with_leader, distances in ((False, rings), (True, leader_rings)):
            text = ax.annotate(
                str(labels[i]),
                p[i],
                xytext=(0, 0),
                textcoords="offset points",
                fontsize=fontsize,
                arrowprops=leader if with_leader else None,
                **text_kw,
            )
            for r, (sx, sy) in itertools.product(distances, _DIRECTIONS):
                text.set_position((r * sx, r * sy))
                text.set_horizontalalignment(_ALIGN_X[sx])
                text.set_verticalalignment(_ALIGN_Y[sy])
                box = _text_box(text, renderer)
                if fits(box, i, with_leader):
                    placed.append(text)
                    boxes.append(box)
                    break
            else:
                text.remove()
                continue
            break
    return placed


def label_problems(ax, texts) -> tuple[int, int]:
    """(pairs of overlapping labels, labels outside the axes) of ``texts``, measured on the
    drawn figure: ``(0, 0)`` means every label is readable."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = [_text_box(t, renderer) for t in texts]
    frame = ax.get_window_extent(renderer)
    n_overlaps = sum(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i))
    n_outside = sum(not _inside(b, frame) for b in boxes)
    return n_overlaps, n_outside


def loss_curve(
    losses,
    ax=None,
    label: str | None = None,
    smooth: int = 0,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str = "loss",
    logy: bool = False,
):
    """Plot a loss curve; ``smooth`` > 1 adds a moving average over that many steps."""
    y = np.asarray(losses, dtype=float)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"loss_curve expects a non-empty 1-D sequence, got shape {y.shape}")
    ax = _axes(ax)
    line = ax.plot(y, alpha=0.35 if smooth > 1 else 1.0, label=None if smooth > 1 else label)[0]
    if smooth > 1 and len(y) >= smooth:
        kernel = np.ones(smooth) / smooth
        ax.plot(
            np.arange(smooth - 1, len(y)),
            np.convolve(y, kernel, mode="valid"),
            color=line.get_color(),
            label=label,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if label:
        ax.legend()
    return ax
