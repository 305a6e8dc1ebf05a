"""Plots that render Chinese: CJK font set-up and the course's common figures.

``setup_cjk_font()`` finds an installed CJK font by name, registers font files
that were installed after matplotlib built its font cache, and puts the CJK
font *after* the default font in ``font.family``. Matplotlib (>= 3.6) then
falls back glyph by glyph, so Latin text and the minus sign keep the default
font and only Chinese characters come from the CJK font.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib import font_manager

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
