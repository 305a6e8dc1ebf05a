"""The large-model landscape as a dated, sourced timeline (chapters 07 and 07b).

Every event has a release month and a source (a paper or the vendor's announcement). The
course states one cut-off, ``CUTOFF``: nothing later is listed, and chapters 07, 07b and 08
quote this same date. ``arch`` records what is published about the architecture:

* ``"dense"``: a decoder-only Transformer, every parameter used for every token;
* ``"moe"``: a mixture of experts (each token uses a few expert FFNs of many);
* ``"encoder"`` / ``"enc-dec"``: the other two Transformer branches;
* ``"undisclosed"``: the vendor has not published the architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from .tools.checks import one_of

CUTOFF = "2025-01"  # the course's landscape cut-off (year-month)
ARCHS = ("dense", "moe", "encoder", "enc-dec", "undisclosed")


@dataclass(frozen=True)
class Event:
    month: str  # "YYYY-MM", the first public release
    name: str
    org: str
    arch: str
    china: bool
    source: str

    @property
    def year(self) -> float:
        """The month as a decimal year (mid-month): "2020-05" -> 2020.375."""
        y, m = self.month.split("-")
        return int(y) + (int(m) - 0.5) / 12


EVENTS: tuple[Event, ...] = (
    Event("2017-06", "Transformer", "Google", "enc-dec", False, "Vaswani et al., arXiv:1706.03762"),
    Event("2018-06", "GPT-1", "OpenAI", "dense", False, "Radford et al. 2018, OpenAI report"),
    Event("2018-10", "BERT", "Google", "encoder", False, "Devlin et al., arXiv:1810.04805"),
    Event("2019-02", "GPT-2", "OpenAI", "dense", False, "Radford et al. 2019, OpenAI report"),
    Event("2019-10", "T5", "Google", "enc-dec", False, "Raffel et al., arXiv:1910.10683"),
    Event("2020-05", "GPT-3", "OpenAI", "dense", False, "Brown et al., arXiv:2005.14165"),
    Event("2022-03", "InstructGPT", "OpenAI", "dense", False, "Ouyang et al., arXiv:2203.02155"),
    Event("2022-11", "ChatGPT", "OpenAI", "undisclosed", False, "openai.com/blog/chatgpt"),
    Event("2023-02", "LLaMA", "Meta", "dense", False, "Touvron et al., arXiv:2302.13971"),
    Event("2023-03", "GPT-4", "OpenAI", "undisclosed", False, "OpenAI, arXiv:2303.08774"),
    Event(
        "2023-03", "文心一言 ERNIE Bot", "Baidu", "undisclosed", True, "Baidu launch, 16 Mar 2023"
    ),
    Event(
        "2023-03", "ChatGLM-6B", "Zhipu AI / Tsinghua", "dense", True, "github.com/THUDM/ChatGLM-6B"
    ),
    Event(
        "2023-04",
        "通义千问 Tongyi Qianwen",
        "Alibaba",
        "undisclosed",
        True,
        "Alibaba Cloud launch, Apr 2023",
    ),
    Event(
        "2023-06", "Baichuan-7B", "Baichuan", "dense", True, "github.com/baichuan-inc/Baichuan-7B"
    ),
    Event("2023-07", "Llama 2", "Meta", "dense", False, "Touvron et al., arXiv:2307.09288"),
    Event(
        "2023-08", "Qwen-7B", "Alibaba", "dense", True, "github.com/QwenLM/Qwen; arXiv:2309.16609"
    ),
    Event("2023-12", "Mixtral 8x7B", "Mistral AI", "moe", False, "Jiang et al., arXiv:2401.04088"),
    Event("2024-01", "DeepSeekMoE 16B", "DeepSeek", "moe", True, "Dai et al., arXiv:2401.06066"),
    Event("2024-05", "DeepSeek-V2", "DeepSeek", "moe", True, "DeepSeek-AI, arXiv:2405.04434"),
    Event("2024-05", "GPT-4o", "OpenAI", "undisclosed", False, "openai.com/index/hello-gpt-4o"),
    Event("2024-06", "Qwen2", "Alibaba", "dense", True, "Yang et al., arXiv:2407.10671"),
    Event("2024-09", "Qwen2.5", "Alibaba", "dense", True, "qwenlm.github.io/blog/qwen2.5"),
    Event("2024-12", "DeepSeek-V3", "DeepSeek", "moe", True, "DeepSeek-AI, arXiv:2412.19437"),
    Event("2025-01", "DeepSeek-R1", "DeepSeek", "moe", True, "DeepSeek-AI, arXiv:2501.12948"),
)

_STYLE = {  # arch -> (marker, label)
    "dense": ("o", "decoder-only, dense"),
    "moe": ("D", "decoder-only, mixture of experts (MoE)"),
    "encoder": ("s", "encoder-only"),
    "enc-dec": ("^", "encoder–decoder"),
    "undisclosed": ("X", "architecture undisclosed"),
}


def events(until: str = CUTOFF, archs=ARCHS) -> list[Event]:
    """The events released up to ``until`` ("YYYY-MM") whose arch is in ``archs``."""
    for a in archs:
        one_of("arch", a, ARCHS)
    return [e for e in EVENTS if e.month <= until and e.arch in archs]


def timeline_figure(until: str = CUTOFF, archs=ARCHS, title: str | None = None) -> Figure:
    """One row per event: marker = architecture, red = from China, blue = elsewhere."""
    import matplotlib.pyplot as plt

    rows = events(until, archs)
    fig, ax = plt.subplots(figsize=(10, 0.28 * len(rows) + 1.4))
    start = min(e.year for e in rows) - 0.3
    for i, e in enumerate(rows):
        color = "tab:red" if e.china else "tab:blue"
        marker = _STYLE[e.arch][0]
        ax.scatter([e.year], [-i], color=color, marker=marker, zorder=3)
        ax.hlines(-i, start, e.year, color=color, lw=0.6, alpha=0.4)
        ax.text(e.year + 0.08, -i, f"{e.name} ({e.org})", va="center", fontsize=8, color=color)
    for a in dict.fromkeys(e.arch for e in rows):
        ax.scatter([], [], color="gray", marker=_STYLE[a][0], label=_STYLE[a][1])
    ax.legend(loc="lower left", fontsize=8)
    ax.set_xlim(start, int(until[:4]) + 2.5)
    ax.set_yticks([])
    ax.set_xlabel(f"release (cut-off {until})")
    ax.set_title(title or "大模型时间线 (红: 中国, 蓝: 其他; 形状: 架构)")
    fig.tight_layout()
    return fig
