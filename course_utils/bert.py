"""A BERT-style encoder made of the course's Transformer blocks.

BERT (Devlin et al. 2018) is the Transformer's encoder stack with three changes,
all options of ``course_utils.transformer``'s blocks:

* learned position embeddings and token-type (segment) embeddings, summed with
  the word embeddings (not scaled by sqrt(d_model)) and then layer-normalised;
* GELU instead of ReLU in the feed-forward network;
* LayerNorm eps 1e-12. Add & Norm stays post-norm, as in the paper.

A ``pooler`` (dense + tanh on the first token) completes the checkpoint layout,
so the parameter count matches published BERT figures (110M for BERT-base).
``hf_to_course_name`` maps a Hugging Face ``BertModel`` state-dict name to ours;
``course_utils.hf_checkpoint.load_hf_state_dict`` uses it to load a checkpoint.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .attention import MultiHeadedAttention
from .model_config import HFFields, ModelShape
from .tools.checks import finite_number, one_of, positive_int, probability
from .transformer import Encoder, EncoderLayer, PositionwiseFeedForward


@dataclass
class BertConfig:
    """The fields (and names) of a Hugging Face BERT ``config.json``; BERT-base by default."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    dropout: float = 0.1

    HF_MODEL_TYPES: ClassVar[tuple[str, ...]] = ("bert",)
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "type_vocab_size",
    )

    def __post_init__(self):
        for name in self.SIZE_FIELDS:
            positive_int(f"BertConfig.{name}", getattr(self, name))
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        finite_number("BertConfig.layer_norm_eps", self.layer_norm_eps, low=0, low_inclusive=False)
        one_of("BertConfig.hidden_act", self.hidden_act, ("gelu", "relu"))
        probability("BertConfig.dropout", self.dropout, allow_one=False)

    @classmethod
    def from_hf(cls, d: dict) -> BertConfig:
        """BERT from its Hugging Face config.json dict (fields this encoder does not use are
        ignored)."""
        f = HFFields.of(d, cls.HF_MODEL_TYPES)
        f.require(*cls.SIZE_FIELDS)
        return cls(
            **{k: f.positive_int(k) for k in cls.SIZE_FIELDS},
            layer_norm_eps=f.number("layer_norm_eps", 1e-12),
            hidden_act=f.choice("hidden_act", "gelu", ("gelu", "relu")),
            dropout=f.probability("hidden_dropout_prob", 0.1),
        )

    @property
    def shape(self) -> ModelShape:
        return ModelShape(
            layers=self.num_hidden_layers,
            d_model=self.hidden_size,
            heads=self.num_attention_heads,
            kv_heads=self.num_attention_heads,
            head_dim=self.hidden_size // self.num_attention_heads,
            d_ff=self.intermediate_size,
            vocab=self.vocab_size,
            decoder=False,
        )

    def build(self) -> BertModel:
        return BertModel(self)


class BertEmbeddings(nn.Module):
    """word + learned position + token type, then LayerNorm and dropout."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, input_ids, token_type_ids=None):
        seq = input_ids.size(1)
        if seq > self.position_embeddings.num_embeddings:
            raise ValueError(
                f"sequence length {seq} exceeds max_position_embeddings "
                f"{self.position_embeddings.num_embeddings}"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        pos = torch.arange(seq, device=input_ids.device)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(pos)
            + self.token_type_embeddings(token_type_ids)
        )  # (batch, seq, hidden)
        return self.dropout(self.norm(x))


class BertPooler(nn.Module):
    """tanh(W h_[CLS] + b): BERT's sentence vector for next-sentence prediction."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden):
        return torch.tanh(self.dense(hidden[:, 0]))  # (batch, hidden)


class BertModel(nn.Module):
    """Embeddings, N post-norm encoder layers (course_utils.transformer), then the pooler."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        d, eps = cfg.hidden_size, cfg.layer_norm_eps
        attn = MultiHeadedAttention(cfg.num_attention_heads, d, cfg.dropout)
        ff = PositionwiseFeedForward(d, cfg.intermediate_size, cfg.dropout, cfg.hidden_act)
        layer = EncoderLayer(d, copy.deepcopy(attn), copy.deepcopy(ff), cfg.dropout, False, eps)
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = Encoder(layer, cfg.num_hidden_layers, norm_first=False, eps=eps)
        self.pooler = BertPooler(d)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        """Returns (last hidden states (batch, seq, hidden), pooled (batch, hidden)).

        ``attention_mask`` (batch, seq): 1 on real tokens, 0 on padding.
        """
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be (batch, seq), got shape {tuple(input_ids.shape)}")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = attention_mask.bool().unsqueeze(1)  # (batch, 1, seq): every query sees the real keys
        hidden = self.encoder(
            self.embeddings(input_ids, token_type_ids), mask
        )  # (batch, seq, hidden)
        return hidden, self.pooler(hidden)


_LAYER_MAP = {
    "attention.self.query": "self_attn.linears.0",
    "attention.self.key": "self_attn.linears.1",
    "attention.self.value": "self_attn.linears.2",
    "attention.output.dense": "self_attn.linears.3",
    "attention.output.LayerNorm": "sublayer.0.norm",
    "intermediate.dense": "feed_forward.w_1",
    "output.dense": "feed_forward.w_2",
    "output.LayerNorm": "sublayer.1.norm",
}


def hf_to_course_name(name: str) -> str | None:
    """Checkpoint name -> our name, e.g. 'encoder.layer.3.attention.self.query.weight' ->
    'encoder.layers.3.self_attn.linears.0.weight'.

    Returns None for buffers that are not parameters (``embeddings.position_ids``).
    Raises KeyError for a name it does not know.
    """
    name = name.removeprefix("bert.")
    if name == "embeddings.position_ids":
        return None
    if name.startswith("embeddings.LayerNorm."):
        return name.replace("embeddings.LayerNorm.", "embeddings.norm.")
    if name.startswith(("embeddings.", "pooler.dense.")):
        return name
    m = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name)
    if m and m.group(2) in _LAYER_MAP:
        return f"encoder.layers.{m.group(1)}.{_LAYER_MAP[m.group(2)]}.{m.group(3)}"
    raise KeyError(f"no course name for checkpoint tensor {name!r}")
