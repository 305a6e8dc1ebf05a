"""The OpenAI-compatible server: the official SDK and the course's llm_client against it, bad
requests, a loopback load test, and the lock that keeps concurrent generations apart."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from course_utils.assistant import how_to_make
from course_utils.llm_client import LLMClient, LLMSettings, ModelNotFoundError
from course_utils.serve import APIError, main, parse_chat_request, start_server

HELLO = [{"role": "user", "content": "你好"}]


@pytest.fixture(scope="module")
def server(tiny_assistant):
    with start_server(tiny_assistant) as handle:
        yield handle


@pytest.fixture(scope="module")
def sdk(server):
    return openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0, timeout=30)


def request(server, method: str, path: str, body=None, raw: bytes | None = None):
    """(status, headers, parsed JSON or text) of one request on a fresh connection."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    kind = resp.getheader("Content-Type", "")
    return resp.status, resp, json.loads(text) if kind.startswith("application/json") else text


def sse_chunks(text: str) -> list:
    events = [e.removeprefix("data: ") for e in text.split("\n\n") if e]
    assert events[-1] == "[DONE]", events[-3:]
    return [json.loads(e) for e in events[:-1]]


# ---------------------------------------------------------------- the official SDK


def test_models_and_health(server, sdk, tiny_assistant):
    assert [m.id for m in sdk.models.list()] == [tiny_assistant.name]
    status, _, body = request(server, "GET", "/health")
    assert status == 200 and body["status"] == "ok" and body["model"] == tiny_assistant.name


def test_sdk_plain_answer(sdk, tiny_assistant, tiny_chats):
    for chat in tiny_chats:
        r = sdk.chat.completions.create(
            model=tiny_assistant.name, messages=chat[:-1], temperature=0, max_tokens=30
        )
        assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
        assert r.model == tiny_assistant.name and r.created > 0
        choice = r.choices[0]
        assert choice.message.role == "assistant" and choice.finish_reason == "stop"
        assert choice.message.content == chat[-1]["content"]
        prompt = tiny_assistant.count_prompt_tokens(chat[:-1])
        assert r.usage.prompt_tokens == prompt
        assert r.usage.completion_tokens == len(chat[-1]["content"])
        assert r.usage.total_tokens == prompt + r.usage.completion_tokens
    r = sdk.chat.completions.create(model=tiny_assistant.name, messages=HELLO, max_tokens=2)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 2


def test_sdk_streaming_matches_the_plain_answer(sdk, tiny_assistant):
    kwargs = dict(model=tiny_assistant.name, temperature=0.9, top_p=0.8, seed=7, max_tokens=20)
    plain = sdk.chat.completions.create(messages=HELLO, **kwargs)
    chunks = list(
        sdk.chat.completions.create(
            messages=HELLO, stream=True, stream_options={"include_usage": True}, **kwargs
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == [plain.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == plain.usage.total_tokens
    pieces = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) == plain.usage.completion_tokens  # one chunk per token: streamed


def test_sdk_unknown_model_is_404(sdk):
    with pytest.raises(openai.NotFoundError) as err:
        sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert err.value.status_code == 404 and err.value.code == "model_not_found"


# ---------------------------------------------------------------- chapter 08's client


def test_llm_client_with_only_the_base_url_changed(server, tiny_assistant, monkeypatch):
    monkeypatch.setenv("LLM_API_KEY", "local")  # any key: the server checks none
    monkeypatch.setenv("LLM_MODEL", tiny_assistant.name)
    monkeypatch.setenv("LLM_BASE_URL", server.base_url)
    client = LLMClient()
    assert client.chat("把 305 写成中文数字", temperature=0) == "三百零五"
    assert "".join(client.stream("一心一意的下一个成语", temperature=0)) == "意气风发"
    system = "回答要简短。"
    assert client.chat("天空是什么颜色", system=system, temperature=0) == "蓝色"
    wrong = LLMClient(LLMSettings(api_key="local", base_url=server.base_url, model="qwen-plus"))
    with pytest.raises(ModelNotFoundError):
        wrong.chat("你好")


# ---------------------------------------------------------------- bad requests


def body(**fields):
    return {"model": "course-assistant", "messages": HELLO, **fields}


BAD_REQUESTS = {
    "not JSON": (b'{"messages": [', 400, None, "not valid JSON"),
    "not an object": (b"[1, 2]", 400, None, "JSON object"),
    "no messages": ({"model": "course-assistant"}, 400, "messages", "'messages' is required"),
    "empty messages": (body(messages=[]), 400, "messages", "non-empty list"),
    "unknown role": (
        body(messages=[{"role": "wizard", "content": "hi"}]),
        400,
        "messages",
        "role",
    ),
    "no role": (body(messages=[{"content": "hi"}]), 400, "messages[0]", "role"),
    "image content": (
        body(messages=[{"role": "user", "content": [{"type": "image_url"}]}]),
        400,
        "messages[0].content",
        "text only",
    ),
    "turns out of order": (
        body(messages=[{"role": "assistant", "content": "hi"}]),
        400,
        "messages",
        "expected",
    ),
    "negative max_tokens": (body(max_tokens=-5), 400, "max_tokens", "at least 1"),
    "zero max_tokens": (body(max_completion_tokens=0), 400, "max_completion_tokens", "at least 1"),
    "max_tokens not an int": (body(max_tokens="10"), 400, "max_tokens", "integer"),
    "max_tokens over the limit": (body(max_tokens=10_000), 400, "max_tokens", "at most 64"),
    "prompt too long": (
        body(messages=[{"role": "user", "content": "一" * 70}]),
        400,
        "messages",
        "context is 64",
    ),
    "answer past the context": (
        body(messages=[{"role": "user", "content": "一" * 50}], max_tokens=20),
        400,
        "max_tokens",
        "at most 11",  # 64 - (50 characters + 3 markers)
    ),
    "temperature too high": (body(temperature=2.5), 400, "temperature", r"\[0, 2\]"),
    "temperature a string": (body(temperature="hot"), 400, "temperature", "number"),
    "top_p zero": (body(top_p=0), 400, "top_p", r"\(0, 1\]"),
    "n = 2": (body(n=2), 400, "n", "one choice"),
    "unknown model": (body(model="deepseek-chat"), 404, "model", "does not exist"),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_requests_get_openai_errors(server, name):
    import re

    payload, status, param, pattern = BAD_REQUESTS[name]
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    got, _, answer = request(server, "POST", "/v1/chat/completions", raw=raw)
    assert got == status, answer
    assert set(answer) == {"error"} and set(answer["error"]) == {"message", "type", "param", "code"}
    assert answer["error"]["param"] == param and re.search(pattern, answer["error"]["message"])
    assert answer["error"]["type"] == "invalid_request_error"
    if "context" in name or "past" in name:
        assert answer["error"]["code"] == "context_length_exceeded"


def test_unknown_paths_and_methods(server):
    status, _, answer = request(server, "GET", "/v1/completions")
    assert status == 404 and answer["error"]["code"] == "unknown_url"
    status, _, answer = request(server, "POST", "/v2/chat/completions", body=body())
    assert status == 404
    status, _, answer = request(server, "GET", "/v1/chat/completions")
    assert status == 405 and "error" in answer
    # the connection is still good after errors on it: a body left unread would break it
    status, _, answer = request(server, "POST", "/v1/chat/completions", body=body(max_tokens=3))
    assert status == 200


def test_parse_chat_request_defaults(tiny_assistant):
    raw = json.dumps({"messages": HELLO}).encode()  # no model: the one served
    req = parse_chat_request(raw, tiny_assistant, max_tokens_limit=32)
    assert (req.temperature, req.top_p, req.seed, req.stream) == (1.0, 1.0, None, False)
    assert req.max_tokens == 32  # the limit, as the context leaves room
    assert req.prompt_tokens == tiny_assistant.count_prompt_tokens(HELLO)
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "你"}, {"type": "text", "text": "好"}],
        }
    ]
    req = parse_chat_request(json.dumps({"messages": parts}).encode(), tiny_assistant, 32)
    assert req.messages == HELLO
    with pytest.raises(APIError) as err:
        parse_chat_request(b"\xff", tiny_assistant, 32)
    assert err.value.status == 400


# ---------------------------------------------------------------- the page


def test_chat_page_is_served_and_self_contained(server):
    status, resp, html = request(server, "GET", "/")
    assert status == 200 and resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "connect-src 'self'" in resp.getheader("Content-Security-Policy")
    assert '<html lang="zh-CN">' in html and "v1/chat/completions" in html
    assert "getReader" in html and 'id="temperature"' in html and 'id="top-p"' in html
    assert "http://" not in html and "https://" not in html and "src=" not in html  # no CDN


# ---------------------------------------------------------------- load and the lock


def test_loopback_load(server, tiny_assistant, tiny_chats):
    """50 requests from 8 threads, half streamed: every answer whole and right, no error."""
    expected = {c[0]["content"]: c[-1]["content"] for c in tiny_chats if len(c) == 2}
    prompts = list(expected)
    client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0, timeout=60)

    def one(i: int):
        prompt = prompts[i % len(prompts)]
        messages = [{"role": "user", "content": prompt}]
        kwargs = dict(model=tiny_assistant.name, messages=messages, temperature=0, max_tokens=30)
        if i % 2:
            chunks = list(client.chat.completions.create(stream=True, **kwargs))
            text = "".join(c.choices[0].delta.content or "" for c in chunks)
            finish = chunks[-1].choices[0].finish_reason
        else:
            choice = client.chat.completions.create(**kwargs).choices[0]
            text, finish = choice.message.content, choice.finish_reason
        return text == expected[prompt] and finish == "stop"

    started = time.perf_counter()
    errors, complete = 0, 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(one, i) for i in range(50)]:
            try:
                complete += future.result()
            except Exception:
                errors += 1
    seconds = time.perf_counter() - started
    print(f"\nload test: 50 requests, 8 threads, {seconds:.2f} s, {errors} errors")
    assert errors == 0 and complete == 50
    status, _, health = request(server, "GET", "/health")
    assert status == 200 and health["status"] == "ok" and not health["busy"]


def test_concurrent_streams_equal_the_same_requests_alone(server, tiny_assistant, tiny_chats):
    """Sampled answers with fixed seeds: the same text whether the requests overlap or not."""
    jobs = [(chat[:-1], seed) for seed in (1, 2) for chat in tiny_chats[:4]]

    def stream(job):
        messages, seed = job
        payload = body(messages=messages, stream=True, temperature=1.2, seed=seed, max_tokens=25)
        status, _, text = request(server, "POST", "/v1/chat/completions", body=payload)
        chunks = sse_chunks(text)
        assert status == 200 and chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
        return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)

    alone = [stream(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        together = list(pool.map(stream, jobs))
    assert together == alone
    direct = [tiny_assistant.chat(m, 25, temperature=1.2, seed=s) for m, s in jobs]
    assert alone == direct


class SlowBackend:
    """A fake model that sleeps per token and records how many generations overlap."""

    name = "slow"
    context_length = 100

    def __init__(self):
        self.active = self.most_active = 0
        self.guard = threading.Lock()

    def count_prompt_tokens(self, messages):
        return sum(len(m["content"]) for m in messages)

    def stream(self, messages, max_tokens, temperature, top_p, seed=None):
        with self.guard:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            for i in range(max_tokens):
                time.sleep(0.005)
                yield f"{seed}:{i} "
        finally:
            with self.guard:
                self.active -= 1
        return "length"


def test_the_lock_allows_one_generation_at_a_time():
    backend = SlowBackend()
    with start_server(backend) as handle:

        def ask(seed):
            payload = {"messages": HELLO, "max_tokens": 8, "seed": seed, "stream": seed % 2 == 0}
            status, _, answer = request(handle, "POST", "/v1/chat/completions", body=payload)
            if payload["stream"]:
                chunks = sse_chunks(answer)
                return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
            return answer["choices"][0]["message"]["content"]

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(ask, range(12)))
    assert backend.most_active == 1  # never two at once
    assert answers == ["".join(f"{s}:{i} " for i in range(8)) for s in range(12)]
    assert not handle.running


def test_stop_closes_connections_frees_the_port_and_main_reports_a_missing_checkpoint(
    tmp_path, capsys
):
    handle = start_server(SlowBackend())
    port = int(handle.url.rsplit(":", 1)[1])
    client = openai.OpenAI(base_url=handle.base_url, api_key="local", max_retries=0, timeout=10)
    assert client.chat.completions.create(model="slow", messages=HELLO, max_tokens=2).choices
    handle.stop()
    with pytest.raises(openai.APIConnectionError):  # its kept-alive connection was closed too
        client.chat.completions.create(model="slow", messages=HELLO, max_tokens=2)
    with start_server(SlowBackend(), port=port) as again:  # the port is free again
        assert again.url.endswith(f":{port}")
    assert main(["--checkpoint", str(tmp_path / "none.pt")]) == 1
    assert how_to_make() in capsys.readouterr().err
