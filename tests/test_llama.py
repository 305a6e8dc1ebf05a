"""The course's Llama-style model against Hugging Face transformers, weights copied."""

import pytest
import torch

from course_utils.generation import KVCache
from course_utils.llama import LLAMA_PRESETS, LlamaConfig, SwiGLU, repeat_kv, tiny_config
from course_utils.model_size import kv_cache_bytes

transformers = pytest.importorskip("transformers")

TOL = dict(rtol=1e-4, atol=1e-4)  # float32 logits agree to 1e-4


def _hf_pair(kind):
    torch.manual_seed(0)
    common = dict(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-6,
        attn_implementation="eager",
    )
    if kind == "llama":
        hc = transformers.LlamaConfig(**common, rope_theta=10000.0, tie_word_embeddings=False)
        hf = transformers.LlamaForCausalLM(hc)
    elif kind == "qwen2":
        hc = transformers.Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True)
        hf = transformers.Qwen2ForCausalLM(hc)
    else:
        hc = transformers.MistralConfig(**common, rope_theta=10000.0, sliding_window=4)
        hf = transformers.MistralForCausalLM(hc)
    with torch.no_grad():  # biases start at zero: make them count
        for name, p in hf.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    from course_utils.hf_checkpoint import config_from_hf, load_hf_state_dict

    ours = config_from_hf(hc.to_dict()).build()
    load_hf_state_dict(ours, hf.state_dict())
    return hf.eval(), ours.eval()


@pytest.mark.parametrize("kind", ["llama", "qwen2", "mistral"])
def test_logits_match_transformers(kind):
    hf, ours = _hf_pair(kind)
    idx = torch.randint(0, 128, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = hf(idx).logits
        logits, _ = ours(idx)
    assert logits.shape == (2, 12, 128)
    torch.testing.assert_close(logits, ref, **TOL)


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_greedy_generation_matches_transformers(kind):
    hf, ours = _hf_pair(kind)
    idx = torch.tensor([[5, 17, 42]])
    ref = hf.generate(idx, max_new_tokens=8, do_sample=False, pad_token_id=0)
    assert torch.equal(ours.generate(idx, 8, temperature=0), ref)


def test_kv_cache_gives_the_same_tokens_and_its_bytes():
    torch.manual_seed(0)
    for preset in ("llama-2-7b", "chatglm3-6b", "baichuan-13b", "mistral-7b"):
        m = tiny_config(preset).build().eval()
        idx = torch.randint(0, 256, (2, 5))
        assert torch.equal(
            m.generate(idx, 6, temperature=0, use_cache=True),
            m.generate(idx, 6, temperature=0, use_cache=False),
        )
        cfg = m.config
        cache = KVCache(cfg.num_hidden_layers)
        with torch.no_grad():
            m(idx, cache=cache)
        assert len(cache) == 5
        assert cache.nbytes() == kv_cache_bytes(cfg, context=5, batch=2, dtype="fp32")


def test_gqa_and_mqa_cache_is_smaller():
    mha = LlamaConfig(hidden_size=64, num_attention_heads=8, num_hidden_layers=1, vocab_size=10)
    gqa = LlamaConfig(
        hidden_size=64,
        num_attention_heads=8,
        num_key_value_heads=2,
        num_hidden_layers=1,
        vocab_size=10,
    )
    mqa = LlamaConfig(
        hidden_size=64,
        num_attention_heads=8,
        num_key_value_heads=1,
        num_hidden_layers=1,
        vocab_size=10,
    )
    sizes = [kv_cache_bytes(c) for c in (mha, gqa, mqa)]
    assert sizes[0] == 4 * sizes[1] == 8 * sizes[2]


def test_repeat_kv_and_swiglu_shapes():
    x = torch.randn(2, 3, 5, 4)
    y = repeat_kv(x, 2)
    assert (
        y.shape == (2, 6, 5, 4) and torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 2], x[:, 1])
    )
    assert SwiGLU(8, 16)(torch.randn(2, 3, 8)).shape == (2, 3, 8)


def test_untied_and_tied_heads():
    untied = tiny_config("llama-2-7b").build()
    tied = tiny_config("qwen2-0.5b").build()
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight
    assert tied.lm_head.weight is tied.model.embed_tokens.weight


def test_presets_are_the_published_shapes():
    assert LLAMA_PRESETS["chatglm3-6b"].rotary_dim == 64
    assert LLAMA_PRESETS["baichuan-13b"].position == "alibi"


def test_bad_input():
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        LlamaConfig(num_attention_heads=32, num_key_value_heads=3)
    with pytest.raises(ValueError, match="'rope' or 'alibi'"):
        LlamaConfig(position="learned")
    m = tiny_config().build()
    with pytest.raises(TypeError, match="idx must have dtype"):
        m(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"idx must have shape \(batch, seq\)"):
        m(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets .* batch = 2"):
        m(torch.zeros(2, 3, dtype=torch.long), targets=torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="LlamaConfig"):
        type(m)(object())


def _tiny_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<unk>", "<|im_end|>", "<|im_start|>", "user", "assistant", "system"]
    words += [f"w{i}" for i in range(100)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path / "tokenizer.json"))


def test_local_checkpoint_loads_into_the_course_model(tmp_path, monkeypatch):
    """Item 7 without a download: a tiny Qwen2 saved by transformers, loaded by the course."""
    import json

    from course_utils.local_model import (
        chat_prompt,
        generate_text,
        load_local_model,
        local_model_dir,
    )

    hf, _ = _hf_pair("qwen2")
    hf.save_pretrained(tmp_path)
    _tiny_tokenizer(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": "<|im_start|>..."})
    )
    monkeypatch.setenv("COURSE_LOCAL_MODEL", str(tmp_path))
    assert local_model_dir() == tmp_path
    model, tok, cfg = load_local_model(local_model_dir())
    assert cfg["model_type"] == "qwen2"
    idx = torch.tensor([[3, 9, 27, 4]])
    with torch.no_grad():
        torch.testing.assert_close(model(idx)[0], hf(idx).logits, **TOL)
    prompt = chat_prompt("w1 w2", tmp_path)
    assert (
        prompt.startswith("<|im_start|>system\n") and "<|im_start|>user\nw1 w2<|im_end|>" in prompt
    )
    text = generate_text(model, tok, prompt, max_new_tokens=5, folder=tmp_path, hf_config=cfg)
    assert isinstance(text, str)
    ids = torch.tensor([tok.encode(prompt).ids])
    ref = hf.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert torch.equal(model.generate(ids, 5, temperature=0), ref)


def test_local_checkpoint_errors(tmp_path):
    from course_utils.local_model import load_local_model

    with pytest.raises(FileNotFoundError, match="config.json"):
        load_local_model(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "chatglm"}')
    with pytest.raises(ValueError, match="llama, mistral, qwen2"):
        load_local_model(tmp_path)


def test_generation_stops_at_eos_and_bf16_keeps_rope_exact():
    torch.manual_seed(0)
    m = tiny_config("qwen2-7b").build().eval()
    idx = torch.tensor([[1, 2, 3]])
    full = m.generate(idx, 6, temperature=0)
    first_new = full[0, 3].item()
    assert m.generate(idx, 6, temperature=0, eos_token_id=[first_new, 9999]).shape == (1, 4)
    bf16 = tiny_config("qwen2-7b").build().eval()
    bf16.load_state_dict(m.state_dict())
    bf16 = bf16.to(torch.bfloat16)
    with torch.no_grad():
        ref, low = m(idx)[0], bf16(idx)[0].float()
    assert (ref - low).abs().max() < 0.05
