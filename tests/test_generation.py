"""course_utils.generation: one generate loop and one KV cache for GPT and Llama.

Each model is checked against a plain reference loop that replays the whole window
every step and picks the token by hand, so the cache, the window and the sampling
are each pinned by an independent implementation.
"""

import math

import pytest
import torch

from course_utils.generation import KVCache, generate
from course_utils.gpt import GPTConfig
from course_utils.llama import tiny_config

GPT_TINY = GPTConfig(vocab_size=40, block_size=12, n_layer=2, n_head=2, d_model=16)


def gpt():
    torch.manual_seed(0)
    model = GPT_TINY.build().eval()
    with torch.no_grad():  # GPT-2's init (std 0.02) gives near-uniform logits: make them peaked
        model.lm_head.weight.mul_(10)  # tied: the token embeddings grow too
    return model


def llama(preset="llama-2-7b", **overrides):
    torch.manual_seed(0)
    return tiny_config(preset, vocab_size=40, **overrides).build().eval()


MODELS = {
    "gpt": gpt,
    "llama": llama,
    "mistral-window": lambda: llama("mistral-7b", sliding_window=3),
    "baichuan-alibi": lambda: llama("baichuan-13b"),
}


@torch.no_grad()
def reference_loop(model, idx, n, pick):
    """No cache: replay the last block_size tokens (all of them for Llama), then pick."""
    for _ in range(n):
        window = idx if model.block_size is None else idx[:, -model.block_size :]
        logits = model(window)[0][:, -1].float()  # (batch, vocab)
        idx = torch.cat([idx, pick(logits)], dim=1)
    return idx


def argmax(logits):
    return logits.argmax(dim=-1, keepdim=True)


def prompt(batch=2, length=4, seed=1):
    return torch.randint(0, 40, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("use_cache", [True, False])
def test_temperature_zero_is_the_argmax_loop(name, use_cache):
    model = MODELS[name]()
    n = 14  # GPT: 4 + 14 > block_size 12, so the window slides and the cache is refilled
    got = model.generate(prompt(), n, temperature=0, use_cache=use_cache)
    assert got.shape == (2, 4 + n)
    assert torch.equal(got, reference_loop(model, prompt(), n, argmax))


@pytest.mark.parametrize("name", MODELS)
def test_sampling_draws_from_softmax_of_logits_over_temperature(name):
    model, t = MODELS[name](), 0.7

    def draw(g):
        return lambda logits: torch.multinomial((logits / t).softmax(-1), 1, generator=g)

    want = reference_loop(model, prompt(), 10, draw(torch.Generator().manual_seed(3)))
    for use_cache in (True, False):
        got = generate(
            model,
            prompt(),
            10,
            temperature=t,
            use_cache=use_cache,
            generator=torch.Generator().manual_seed(3),
        )
        assert torch.equal(got, want)


@pytest.mark.parametrize("name", ["gpt", "llama"])
def test_top_k_and_top_p_paths(name):
    model = MODELS[name]()
    greedy = model.generate(prompt(), 8, temperature=0)

    def run(**kw):
        return model.generate(prompt(), 8, generator=torch.Generator().manual_seed(5), **kw)

    # one candidate left: sampling at any temperature is greedy
    assert torch.equal(run(temperature=5.0, top_k=1), greedy)
    assert torch.equal(run(temperature=1.0, top_p=1e-6), greedy)
    # filters that keep every token change nothing
    assert torch.equal(run(top_k=40), run())
    assert torch.equal(run(top_p=1.0), run())
    # a real filter only ever picks among the k most probable tokens
    g = torch.Generator().manual_seed(5)
    want = reference_loop(
        model,
        prompt(),
        8,
        lambda logits: torch.multinomial(
            logits.masked_fill(logits < logits.topk(3).values[:, -1:], -math.inf).softmax(-1),
            1,
            generator=g,
        ),
    )
    assert torch.equal(run(top_k=3), want)


@pytest.mark.parametrize("name", ["gpt", "llama"])
def test_eos_stops_when_every_row_has_emitted_one(name):
    model = MODELS[name]()
    full = model.generate(prompt(), 8, temperature=0)  # (2, 12)
    new = full[:, 4:]
    eos = [int(new[0, 1]), int(new[1, 3])]
    hit = torch.isin(new, torch.tensor(eos))  # (2, 8)
    steps = [int(row.nonzero()[0]) + 1 for row in hit]  # tokens each row needs to emit one
    got = model.generate(prompt(), 8, temperature=0, eos_token_id=eos)
    assert got.size(1) == 4 + max(steps)  # stops at the last row's first eos ...
    assert torch.equal(got, full[:, : got.size(1)])  # ... and is the same text up to there
    first = model.generate(prompt()[:1], 8, temperature=0, eos_token_id=int(new[0, 0]))
    assert torch.equal(first, full[:1, :5])  # one row: stops right after its first new token
    never = model.generate(prompt(), 8, temperature=0, eos_token_id=99)  # not in the vocabulary
    assert never.shape == (2, 12)


def test_generate_restores_training_mode_and_zero_tokens():
    model = gpt().train()
    out = model.generate(prompt(), 3)
    assert model.training and out.shape == (2, 7)
    assert torch.equal(model.generate(prompt(), 0), prompt())


def test_kv_cache_update_appends_on_the_position_axis():
    cache = KVCache(2)
    assert len(cache) == 0 and cache.nbytes() == 0
    k, v = cache.update(0, torch.zeros(1, 2, 3, 4), torch.ones(1, 2, 3, 4))
    assert k.shape == v.shape == (1, 2, 3, 4) and len(cache) == 3
    k, v = cache.update(0, torch.zeros(1, 2, 1, 4), torch.ones(1, 2, 1, 4))
    assert k.shape == (1, 2, 4, 4) and v.sum() == 1 * 2 * 4 * 4
    k, _ = cache.update(1, k=torch.zeros(1, 5, 8))  # GPT's W_K hook: keys alone
    _, v = cache.update(1, v=torch.ones(1, 5, 8))  # then W_V's hook: values alone
    assert k.shape == v.shape == (1, 5, 8)
    assert cache.nbytes() == 4 * (2 * 1 * 2 * 4 * 4 + 2 * 5 * 8)
    cache.clear()
    assert len(cache) == 0 and cache.keys == [None, None]


@pytest.mark.parametrize("name", ["gpt", "llama"])
def test_cached_forward_equals_the_full_forward(name):
    model = MODELS[name]()
    idx = prompt(length=7)
    cache = model.new_cache()
    with torch.no_grad():
        parts = [
            model(idx[:, :4], cache=cache)[0],
            model(idx[:, 4:6], cache=cache)[0],
            model(idx[:, 6:], cache=cache)[0],
        ]
        full = model(idx)[0]
    assert len(cache) == 7
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-5, atol=1e-5)


BAD_GENERATE = [
    (dict(idx=torch.tensor([1, 2, 3])), ValueError, r"idx must have shape \(batch, seq\)"),  # 1-D
    (dict(idx=torch.zeros(1, 0, dtype=torch.long)), ValueError, "idx must not be empty"),
    (dict(idx=torch.zeros(0, 3, dtype=torch.long)), ValueError, "idx must not be empty"),
    (dict(idx=torch.zeros(1, 3)), TypeError, "idx must have dtype integer"),
    (dict(idx=[[1, 2]]), TypeError, "idx must be a torch.Tensor"),
    (dict(max_new_tokens=-1), ValueError, "max_new_tokens must be a non-negative int"),
    (dict(max_new_tokens=2.5), TypeError, "max_new_tokens"),
    (dict(temperature=float("nan")), ValueError, "temperature must be a finite number"),
    (dict(temperature=-0.5), ValueError, "temperature must be a number in"),
    (dict(temperature=None), TypeError, "temperature"),
    (dict(top_k=0), ValueError, "top_k must be a positive int"),
    (dict(top_k=1.0), TypeError, "top_k"),
    (dict(top_p=0), ValueError, "top_p"),
    (dict(top_p=1.01), ValueError, "top_p"),
    (dict(temperature=0, top_p=-1), ValueError, "top_p"),  # checked even when greedy
    (dict(eos_token_id=-1), ValueError, "eos_token_id must be a non-negative int"),
    (dict(eos_token_id=[]), ValueError, "eos_token_id must not be empty"),
    (dict(eos_token_id="2"), TypeError, "eos_token_id must be a list or tuple"),
    (dict(eos_token_id=[2, 1.5]), TypeError, "eos_token_id"),
    (dict(greedy=True), TypeError, "greedy"),  # gone: temperature=0 is greedy
]


@pytest.mark.parametrize("name", ["gpt", "llama"])
@pytest.mark.parametrize("bad, error, match", BAD_GENERATE)
def test_generate_bad_input(name, bad, error, match):
    model = MODELS[name]()
    args = {"idx": prompt(), "max_new_tokens": 2, **bad}
    with pytest.raises(error, match=match):
        model.generate(args.pop("idx"), args.pop("max_new_tokens"), **args)


def test_kv_cache_bad_size():
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        KVCache(0)
