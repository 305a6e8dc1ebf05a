"""GPT-1, GPT-2 and GPT-3 side by side: configurations, parameter counts, data and compute.

Parameters are never copied from papers: each configuration is built on the
``meta`` device and counted with ``course_utils.model_size.count_parameters``.
The printed figures (GPT-3's Table 2.1, Brown et al. 2020) are kept only to be
compared with the counts. Training compute (6·N·D) is
``course_utils.model_size.training_flops``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .gpt import GPT_PRESETS, GPTConfig
from .model_size import count_parameters


@dataclass(frozen=True)
class GPT3Row:
    """One row of Table 2.1 of Brown et al. 2020, as printed."""

    name: str
    n_params: float  # printed total, e.g. 125e6
    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    batch_tokens: float  # printed batch size in tokens
    lr: float


GPT3_TABLE: tuple[GPT3Row, ...] = (
    GPT3Row("GPT-3 Small", 125e6, 12, 768, 12, 64, 0.5e6, 6.0e-4),
    GPT3Row("GPT-3 Medium", 350e6, 24, 1024, 16, 64, 0.5e6, 3.0e-4),
    GPT3Row("GPT-3 Large", 760e6, 24, 1536, 16, 96, 0.5e6, 2.5e-4),
    GPT3Row("GPT-3 XL", 1.3e9, 24, 2048, 24, 128, 1e6, 2.0e-4),
    GPT3Row("GPT-3 2.7B", 2.7e9, 32, 2560, 32, 80, 1e6, 1.6e-4),
    GPT3Row("GPT-3 6.7B", 6.7e9, 32, 4096, 32, 128, 2e6, 1.2e-4),
    GPT3Row("GPT-3 13B", 13.0e9, 40, 5140, 40, 128, 2e6, 1.0e-4),
    GPT3Row("GPT-3 175B", 175.0e9, 96, 12288, 96, 128, 3.2e6, 0.6e-4),
)
GPT3_CONTEXT = 2048
GPT3_VOCAB = 50257
GPT3_TRAIN_TOKENS = 300e9


def table_inconsistencies(rows=GPT3_TABLE) -> list[str]:
    """Rows where n_heads x d_head differs from d_model, as readable strings."""
    return [
        f"{r.name}: n_heads x d_head = {r.n_heads} x {r.d_head} = {r.n_heads * r.d_head}, "
        f"but d_model = {r.d_model}"
        for r in rows
        if r.n_heads * r.d_head != r.d_model
    ]


# The two printed inconsistencies, and the repair the other columns imply.
GPT3_FIXES: dict[str, dict] = {
    # 24 heads x 128 = 3072, not 2048. The width 2048 is what fits 1.3B parameters,
    # so the head count is 2048 / 128 = 16 (heads do not change the count; width does).
    "GPT-3 XL": {"n_head": 16},
    # 5140 is not 40 x 128 and not even divisible by 40 heads: a typo for 5120.
    "GPT-3 13B": {"d_model": 5120},
}


def gpt3_config(row: GPT3Row) -> GPTConfig:
    """A buildable GPTConfig for a Table 2.1 row (with ``GPT3_FIXES`` applied)."""
    values = {"n_head": row.n_heads, "d_model": row.d_model, **GPT3_FIXES.get(row.name, {})}
    return GPTConfig(vocab_size=GPT3_VOCAB, block_size=GPT3_CONTEXT, n_layer=row.n_layers, **values)


@dataclass(frozen=True)
class Generation:
    """One GPT generation: the configuration plus what the papers say about data and use."""

    name: str
    preset: GPTConfig
    year: int
    data: str
    train_tokens: str
    objective: str
    use: str


GENERATIONS: tuple[Generation, ...] = (
    Generation(
        "GPT-1",
        GPT_PRESETS["openai-gpt"],
        2018,
        "BooksCorpus (~7,000 unpublished books)",
        "~1B words, 100 epochs of 64x512",
        "causal LM pre-training, then supervised fine-tuning (+ LM aux loss)",
        "fine-tune one copy per task",
    ),
    Generation(
        "GPT-2 (1.5B)",
        GPT_PRESETS["gpt2-xl"],
        2019,
        "WebText: 8M web pages linked from Reddit",
        "40 GB of text (token count not published)",
        "causal LM only",
        "zero-shot: the task written as text",
    ),
    Generation(
        "GPT-3 (175B)",
        gpt3_config(GPT3_TABLE[-1]),
        2020,
        "filtered Common Crawl, WebText2, Books1/2, Wikipedia",
        "300B tokens",
        "causal LM only",
        "zero-, one- and few-shot in-context learning, no gradient updates",
    ),
)


def generation_table(generations=GENERATIONS) -> list[dict]:
    """Rows for the side-by-side table; the parameter column is counted on the meta device."""
    rows = []
    for g in generations:
        c = g.preset
        rows.append(
            {
                "model": g.name,
                "year": g.year,
                "layers": c.n_layer,
                "d_model": c.d_model,
                "heads": c.n_head,
                "d_ff": c.d_ff,
                "context": c.block_size,
                "vocab": c.vocab_size,
                "norm": "pre-norm + final LN" if c.norm_first else "post-norm",
                "parameters": count_parameters(c),
                "data": g.data,
                "tokens": g.train_tokens,
                "objective": g.objective,
                "use": g.use,
            }
        )
    return rows
