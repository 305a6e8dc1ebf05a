"""What every model config shares: its shape, and how it reads a Hugging Face config.json.

``ModelShape`` holds the few numbers that size a Transformer: layers, width,
heads, key/value heads, head width, feed-forward width and vocabulary. Each of
the course's configs (``GPTConfig``, ``BertConfig``, ``LlamaConfig``) gives one
as ``config.shape``, so ``course_utils.model_size`` reads them all alike.

``HFFields`` reads a ``config.json`` dict one field at a time. Each read checks
the value's type and range and names the field when it refuses one, so a
config with ``"num_hidden_layers": -3`` or ``"tie_word_embeddings": "false"``
raises an error instead of describing a model that cannot exist. Each config
class's ``from_hf`` uses it to translate its own family's fields.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .tools.checks import (
    finite_number,
    instance_of,
    non_negative_int,
    one_of,
    positive_int,
    probability,
)


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a Transformer that parameter, memory and KV-cache formulas read."""

    layers: int
    d_model: int
    heads: int  # query heads
    kv_heads: int  # key/value heads: = heads (MHA), fewer (GQA), 1 (MQA)
    head_dim: int
    d_ff: int  # feed-forward width
    vocab: int
    decoder: bool  # generates token by token, so it keeps a KV cache


_REQUIRED = object()


class HFFields:
    """A config.json dict, read field by field; every read checks type and range."""

    def __init__(self, d: dict, model_type: str, prefix: str = ""):
        self.d, self.model_type, self.prefix = d, model_type, prefix

    @classmethod
    def of(cls, d: Any, model_types: Collection[str]) -> HFFields:
        """Fields of ``d``, whose ``model_type`` must be one of ``model_types``."""
        instance_of("config", d, dict)
        if "model_type" not in d:
            raise ValueError(f"config.json has no model_type; expected one of {list(model_types)}")
        return cls(d, one_of("config.json field 'model_type'", d["model_type"], model_types))

    def name(self, key: str) -> str:
        return f"config.json field {self.prefix + key!r}"

    def require(self, *keys: str) -> None:
        """Raise one ValueError listing every key of ``keys`` that the config lacks."""
        missing = [k for k in keys if k not in self.d]
        if missing:
            raise ValueError(f"config.json of model_type {self.model_type!r} lacks {missing}")

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.d:
            if default is _REQUIRED:
                self.require(key)
            return default
        value = self.d[key]
        return default if value is None and default is not _REQUIRED else value

    def positive_int(self, key: str, default: Any = _REQUIRED) -> Any:
        """An int >= 1; ``default`` when absent or null (required when no default is given)."""
        value = self._get(key, default)
        return value if value is default else positive_int(self.name(key), value)

    def non_negative_int(self, key: str, default: Any = _REQUIRED) -> Any:
        """An int >= 0; ``default`` when absent or null."""
        value = self._get(key, default)
        return value if value is default else non_negative_int(self.name(key), value)

    def number(self, key: str, default: Any = _REQUIRED) -> Any:
        """A finite float > 0; ``default`` when absent or null."""
        value = self._get(key, default)
        if value is default:
            return value
        return float(finite_number(self.name(key), value, low=0.0, low_inclusive=False))

    def probability(self, key: str, default: Any = _REQUIRED) -> Any:
        """A dropout rate in [0, 1); ``default`` when absent or null."""
        value = self._get(key, default)
        if value is default:
            return value
        return float(probability(self.name(key), value, allow_one=False))

    def flag(self, key: str, default: bool) -> bool:
        """A JSON true/false; a string such as "false" is refused, never read as true."""
        return instance_of(self.name(key), self._get(key, default), bool)

    def choice(self, key: str, default: str, choices: Collection[str]) -> str:
        return one_of(self.name(key), self._get(key, default), choices)

    def section(self, key: str) -> HFFields:
        """Fields of a nested object (``rope_scaling``, ...); empty when absent or null."""
        value = instance_of(self.name(key), self._get(key, {}), dict)
        return HFFields(value, self.model_type, prefix=f"{self.prefix}{key}.")
