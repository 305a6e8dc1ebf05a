"""The course's Llama-style model against Hugging Face transformers, weights copied."""

from dataclasses import replace

import pytest
import torch

from course_utils.generation import KVCache
from course_utils.llama import (
    LLAMA_PRESETS,
    LlamaConfig,
    MoE,
    MoEConfig,
    SwiGLU,
    repeat_kv,
    tiny_config,
)
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


# ---------------------------------------------------------------- mixture of experts
def _mixtral_pair():
    """A tiny Mixtral in transformers and in the course, with the same weights."""
    from course_utils.hf_checkpoint import config_from_hf, load_hf_state_dict

    torch.manual_seed(0)
    hc = transformers.MixtralConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=2,
        max_position_embeddings=64,
        attn_implementation="eager",
    )
    hf = transformers.MixtralForCausalLM(hc).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    state = {}
    for name, t in hf.state_dict().items():  # transformers 5 stores the experts fused
        if name.endswith("experts.gate_up_proj"):
            prefix = name[: -len("gate_up_proj")]
            for e, w in enumerate(t):
                gate, up = w.chunk(2, dim=0)
                state[f"{prefix}{e}.gate_proj.weight"] = gate
                state[f"{prefix}{e}.up_proj.weight"] = up
        elif name.endswith("experts.down_proj"):
            prefix = name[: -len("down_proj")]
            for e, w in enumerate(t):
                state[f"{prefix}{e}.down_proj.weight"] = w
        else:
            state[name.replace("block_sparse_moe.", "mlp.")] = t
    ours = config_from_hf(hc.to_dict()).build().eval()
    load_hf_state_dict(ours, state)
    return hf, ours


def test_mixtral_logits_match_transformers():
    if not hasattr(transformers, "MixtralForCausalLM"):
        pytest.skip("this transformers has no Mixtral")
    hf, ours = _mixtral_pair()
    assert all(isinstance(layer.mlp, MoE) for layer in ours.model.layers)
    idx = torch.randint(0, 128, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx)[0], hf(idx).logits, **TOL)


def test_moe_routes_each_token_to_its_top_k_experts():
    torch.manual_seed(0)
    cfg = MoEConfig(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=8)
    moe = MoE(16, cfg).eval()
    x = torch.randn(1, 5, 16)  # (batch, seq, hidden)
    weights, experts = moe.route(x.view(5, 16))  # (tokens, k) each
    torch.testing.assert_close(weights.sum(-1), torch.ones(5))  # renormalised over the k
    by_hand = torch.stack(
        [sum(w * moe.experts[e](x[0, t]) for w, e in zip(weights[t], experts[t])) for t in range(5)]
    )
    with torch.no_grad():
        torch.testing.assert_close(moe(x)[0], by_hand)
    # An expert that no token chose does not change the output.
    unused = sorted(set(range(4)) - set(experts.flatten().tolist()))
    if unused:
        with torch.no_grad():
            before = moe(x)
            moe.experts[unused[0]].down_proj.weight.mul_(10)
            assert torch.equal(moe(x), before)


def test_shared_experts_and_unnormalised_weights_match_deepseek_v2_moe_block():
    """DeepSeekMoE's routing (softmax, greedy top-k, no renormalisation, shared experts)
    against transformers' DeepseekV2Moe block with the same weights."""
    if not hasattr(transformers, "DeepseekV2Config"):
        pytest.skip("this transformers has no DeepSeek-V2")
    from transformers.models.deepseek_v2.modeling_deepseek_v2 import DeepseekV2Moe

    torch.manual_seed(0)
    hc = transformers.DeepseekV2Config(
        hidden_size=32,
        moe_intermediate_size=8,
        n_routed_experts=6,
        n_shared_experts=2,
        num_experts_per_tok=3,
        topk_method="greedy",
        norm_topk_prob=False,
        routed_scaling_factor=1.0,
        n_group=1,
        topk_group=1,
    )
    ref = DeepseekV2Moe(hc).eval()
    for p in ref.parameters():
        torch.nn.init.normal_(p, std=0.2)
    cfg = MoEConfig(6, 3, 8, n_shared_experts=2, norm_topk_prob=False)
    ours = MoE(32, cfg).eval()
    state = {"gate.weight": ref.gate.weight}
    for e in range(6):
        gate, up = ref.experts.gate_up_proj[e].chunk(2, dim=0)
        state |= {
            f"experts.{e}.gate_proj.weight": gate,
            f"experts.{e}.up_proj.weight": up,
            f"experts.{e}.down_proj.weight": ref.experts.down_proj[e],
        }
    state |= {f"shared_experts.{k}": v for k, v in ref.shared_experts.state_dict().items()}
    ours.load_state_dict(state)
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_moe_config_checks_and_dense_first_layers():
    with pytest.raises(ValueError, match="num_experts_per_tok .3. cannot exceed num_experts .2."):
        MoEConfig(2, 3, 8)
    with pytest.raises(ValueError, match="n_shared_experts"):
        MoEConfig(4, 2, 8, n_shared_experts=-1)
    ds = tiny_config("deepseek-moe-16b")
    model = ds.build()
    kinds = [type(layer.mlp).__name__ for layer in model.model.layers]
    assert kinds == ["SwiGLU", "MoE"]  # first_k_dense_replace = 1
    assert model.model.layers[1].mlp.shared_experts is not None
    idx = torch.randint(0, 256, (1, 6))
    with torch.no_grad():
        assert model(idx)[0].shape == (1, 6, 256)
    assert torch.equal(
        model.generate(idx, 4, temperature=0, use_cache=True),
        model.generate(idx, 4, temperature=0, use_cache=False),
    )


# ------------------------------------------- formulas checked by hand


@torch.no_grad()
def test_loss_is_the_mean_cross_entropy_over_the_kept_targets():
    torch.manual_seed(0)
    model = tiny_config("llama-3-8b").build().eval()
    idx = torch.randint(0, 256, (2, 5))
    targets = torch.randint(0, 256, (2, 5))
    targets[0, 1] = targets[1, 4] = -100  # ignored positions
    logits, loss = model(idx, targets)
    logp = torch.log_softmax(logits.float(), dim=-1)  # (2, 5, vocab)
    kept = [(b, t) for b in range(2) for t in range(5) if targets[b, t] != -100]
    want = -sum(float(logp[b, t, targets[b, t]]) for b, t in kept) / len(kept)
    assert float(loss) == pytest.approx(want, rel=1e-5)
    assert model(idx)[1] is None


def test_alibi_bias_is_the_causal_mask_plus_alibi():
    from course_utils.alibi import alibi_bias

    model = tiny_config("baichuan-13b").build()
    assert model.config.position == "alibi" and model.model.rotary_emb is None
    bias = model.model.attn_bias(3, 5, torch.device("cpu"))  # 3 new queries after 2 cached keys
    causal = torch.tensor([[j > i + 2 for j in range(5)] for i in range(3)])  # True = hidden
    want = alibi_bias(4, 3, 5).masked_fill(causal, float("-inf"))  # (heads, 3, 5)
    assert torch.equal(bias, want)


@torch.no_grad()
def test_interleaved_rope_equals_half_split_rope_on_permuted_weights():
    """ChatGLM rotates (2i, 2i+1) pairs: the same model as one rotating (i, i + r/2) pairs whose
    W_Q and W_K rows are reordered within each head's rotary part."""
    torch.manual_seed(0)
    cfg = tiny_config("chatglm3-6b")
    assert cfg.rope_interleaved and cfg.rotary_dim < cfg.head_dim  # rotary on part of a head
    glm = cfg.build().eval()
    assert all(layer.self_attn.rope_interleaved for layer in glm.model.layers)
    split = replace(cfg, rope_interleaved=False).build().eval()
    split.load_state_dict(glm.state_dict())
    r, hd = cfg.rotary_dim, cfg.head_dim
    perm = [*range(0, r, 2), *range(1, r, 2), *range(r, hd)]  # per head
    for layer in split.model.layers:
        attn = layer.self_attn
        for proj in (attn.q_proj, attn.k_proj):
            heads = proj.out_features // hd
            rows = torch.tensor([h * hd + p for h in range(heads) for p in perm])
            proj.weight.copy_(proj.weight[rows])
            if proj.bias is not None:
                proj.bias.copy_(proj.bias[rows])
    idx = torch.randint(0, 256, (2, 6))
    assert torch.allclose(glm(idx)[0], split(idx)[0], atol=1e-4)
    assert not torch.allclose(glm(idx)[0], cfg.build().eval()(idx)[0], atol=1e-3)


def test_tiny_config_keeps_the_family_at_toy_size():
    mha, gqa = tiny_config("llama-2-7b"), tiny_config("llama-3-8b")
    for cfg in (mha, gqa):
        assert (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers) == (256, 64, 2)
        assert (cfg.num_attention_heads, cfg.head_dim) == (4, 16)
        assert (cfg.intermediate_size, cfg.max_position_embeddings) == (172, 128)
    assert mha.shape.kv_heads == 4  # multi-head attention stays multi-head
    assert gqa.shape.kv_heads == 1  # 32 heads share 8 K/V heads: 4 share 1
    assert tiny_config(LLAMA_PRESETS["llama-3-8b"]) == gqa  # a config, not only a name
    moe = tiny_config("mixtral-8x7b")
    assert moe.moe.moe_intermediate_size == 32 and moe.moe.num_experts == 8
    assert tiny_config("llama-2-7b", num_hidden_layers=3).num_hidden_layers == 3


# a Llama config.json with only the fields that have no default
MINIMAL_HF = dict(
    model_type="llama",
    vocab_size=100,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
)


def test_from_hf_defaults_of_a_minimal_config():
    minimal = MINIMAL_HF
    cfg = LlamaConfig.from_hf(minimal)
    assert cfg.model_type == "llama"
    assert cfg.rms_norm_eps == 1e-6 and cfg.rope_theta == 10000.0
    assert cfg.max_position_embeddings == 4096 and cfg.tie_word_embeddings is False
    assert cfg.shape.kv_heads == 4 and cfg.head_dim == 16 and cfg.sliding_window is None
    assert LlamaConfig.from_hf({**minimal, "sliding_window": 8}).sliding_window is None
    mistral = LlamaConfig.from_hf({**minimal, "model_type": "mistral", "sliding_window": 8})
    assert mistral.model_type == "mistral" and mistral.sliding_window == 8
    nested = LlamaConfig.from_hf({**minimal, "rope_parameters": {"rope_theta": 5e5}})
    assert nested.rope_theta == 5e5
    top = {**minimal, "rope_theta": 2e5, "rope_parameters": {"rope_theta": 5e5}}
    assert LlamaConfig.from_hf(top).rope_theta == 2e5  # the top-level field wins
    with pytest.raises(ValueError, match="num_local_experts"):
        LlamaConfig.from_hf({**minimal, "model_type": "mixtral", "num_experts_per_tok": 2})
    with pytest.raises(ValueError, match="num_experts_per_tok"):
        LlamaConfig.from_hf({**minimal, "model_type": "mixtral", "num_local_experts": 4})


@pytest.mark.parametrize(
    "scaling, announced",
    [
        ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, True),
        ({"rope_scaling": {"type": "linear", "factor": 2.0}}, True),  # the older key
        ({"rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5}}, True),
        ({"rope_parameters": {"rope_type": "default", "rope_theta": 5e5}}, False),
        ({}, False),
    ],
)
def test_rope_scaling_is_announced_wherever_it_is_written(scaling, announced):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LlamaConfig.from_hf({**MINIMAL_HF, **scaling})
    assert any("rope scaling" in str(w.message) for w in caught) is announced


def test_chatglm_deepseek_baichuan_and_mixtral_readers_defaults():
    """Each family's reader from a minimal config.json: its defaults, and every required field
    named when it is missing."""
    glm_min = dict(
        model_type="chatglm",
        padded_vocab_size=100,
        hidden_size=64,
        num_layers=2,
        num_attention_heads=4,
        ffn_hidden_size=128,
    )
    glm = LlamaConfig.from_hf(glm_min)
    assert (glm.vocab_size, glm.num_hidden_layers, glm.intermediate_size) == (100, 2, 128)
    assert glm.shape.kv_heads == 4 and glm.head_dim == 16 and glm.rotary_dim == 8
    assert glm.max_position_embeddings == 8192 and glm.rms_norm_eps == 1e-5
    assert glm.rope_theta == 10000.0 and glm.rope_interleaved is True
    assert glm.attention_bias is False and glm.tie_word_embeddings is False
    mq = LlamaConfig.from_hf({**glm_min, "multi_query_attention": True})
    assert mq.shape.kv_heads == 4  # no group number given: one K/V head per query head
    grouped = {**glm_min, "multi_query_attention": True, "multi_query_group_num": 2}
    assert LlamaConfig.from_hf(grouped).shape.kv_heads == 2
    assert LlamaConfig.from_hf({**glm_min, "multi_query_group_num": 2}).shape.kv_heads == 4
    extra = {**glm_min, "rope_ratio": 2.0, "kv_channels": 8, "layernorm_epsilon": 1e-6}
    tuned = LlamaConfig.from_hf({**extra, "seq_length": 1024, "add_qkv_bias": True})
    assert tuned.rope_theta == 20000.0 and tuned.head_dim == 8 and tuned.rms_norm_eps == 1e-6
    assert tuned.max_position_embeddings == 1024 and tuned.attention_bias is True
    for field in ("hidden_size", "num_layers", "num_attention_heads", "ffn_hidden_size"):
        with pytest.raises(ValueError, match=field):
            LlamaConfig.from_hf({k: v for k, v in glm_min.items() if k != field})

    moe_fields = dict(n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=32)
    ds_min = {**MINIMAL_HF, "model_type": "deepseek", **moe_fields}
    ds = LlamaConfig.from_hf(ds_min).moe
    assert (ds.num_experts, ds.num_experts_per_tok, ds.moe_intermediate_size) == (4, 2, 32)
    assert ds.n_shared_experts == 0 and ds.first_k_dense_replace == 0
    assert ds.norm_topk_prob is False
    for field in moe_fields:
        with pytest.raises(ValueError, match=field):
            LlamaConfig.from_hf({k: v for k, v in ds_min.items() if k != field})

    mixtral = {**MINIMAL_HF, "model_type": "mixtral", "num_local_experts": 4}
    moe = LlamaConfig.from_hf({**mixtral, "num_experts_per_tok": 2}).moe
    assert (moe.num_experts, moe.num_experts_per_tok, moe.moe_intermediate_size) == (4, 2, 128)

    bc = {**MINIMAL_HF, "model_type": "baichuan", "tie_word_embeddings": True}
    small = LlamaConfig.from_hf(bc)
    assert small.position == "alibi" and small.max_position_embeddings == 4096
    assert small.tie_word_embeddings is False  # Baichuan never ties its head
    wide = LlamaConfig.from_hf({**bc, "hidden_size": 4096, "num_attention_heads": 32})
    assert wide.position == "rope"  # Baichuan-7B and Baichuan2-7B
    assert LlamaConfig.from_hf({**bc, "model_max_length": 2048}).max_position_embeddings == 2048
