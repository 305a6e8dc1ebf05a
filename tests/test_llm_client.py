"""The client against a local chat-completions server on 127.0.0.1 (no network, no key)."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from course_utils.llm_client import (
    AuthenticationError,
    ConnectionFailedError,
    IncompleteStreamError,
    LLMClient,
    LLMSettings,
    MalformedResponseError,
    ModelNotFoundError,
    RateLimitError,
    ReadTimeoutError,
    _explain,
    setup_instructions,
    try_client,
)

KEY = "sk-test-key"


def _completion(text):
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
    }


class Handler(BaseHTTPRequestHandler):
    calls: list = []
    rate_limited_once = set()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.calls.append(body)
        model = body["model"]
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._json(
                401,
                {
                    "error": {
                        "message": "Incorrect API key",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        if model == "no-such-model":
            return self._json(
                404, {"error": {"message": "model not found", "code": "model_not_found"}}
            )
        if model == "always-429" or (
            model == "429-once" and model not in Handler.rate_limited_once
        ):
            Handler.rate_limited_once.add(model)
            return self._json(
                429, {"error": {"message": "Rate limit reached", "code": "rate_limit"}}
            )
        if model == "malformed":
            data = b"<html>not json</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if model == "no-choices":
            return self._json(
                200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m"}
            )
        if model == "slow":  # connected at once, answers after the client's timeout
            time.sleep(1.5)
            try:
                return self._json(200, _completion("too late"))
            except (BrokenPipeError, ConnectionResetError):  # the client has given up
                return None
        user = body["messages"][-1]["content"]
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            pieces = ["你好", "，", user]
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1 and model != "cut-stream"
                chunk = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": piece},
                            "finish_reason": "stop" if last else None,
                        }
                    ],
                }
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
                if model == "cut-stream" and i == 1:
                    return None  # the connection closes mid-answer: no finish_reason, no [DONE]
            self.wfile.write(b"data: [DONE]\n\n")
            return None
        return self._json(200, _completion(f"echo: {user}"))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """A proxy in the environment must not intercept calls to 127.0.0.1."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _client(server, model="ok", key=KEY, **kw):
    settings = dict(timeout=5, max_retries=2, backoff=0.01) | kw
    return LLMClient(LLMSettings(api_key=key, base_url=server, model=model, **settings))


def test_success(server):
    assert _client(server).chat("hi", system="be brief") == "echo: hi"
    sent = Handler.calls[-1]
    assert sent["model"] == "ok" and sent["messages"][0] == {
        "role": "system",
        "content": "be brief",
    }


def test_streaming(server):
    assert list(_client(server).stream("世界")) == ["你好", "，", "世界"]


def test_bad_key_is_401(server):
    with pytest.raises(AuthenticationError, match="rejected the API key"):
        _client(server, key="sk-wrong").chat("hi")


def test_wrong_model_is_404(server):
    with pytest.raises(ModelNotFoundError, match="does not know model 'no-such-model'"):
        _client(server, model="no-such-model").chat("hi")


def test_429_then_success(server):
    client = _client(server, model="429-once")
    assert client.chat("again") == "echo: again"
    assert client.retries_done == 1


def test_429_forever_gives_up(server):
    client = _client(server, model="always-429")
    with pytest.raises(RateLimitError, match="after 2 retries"):
        client.chat("hi")
    assert client.retries_done == 2


@pytest.mark.parametrize("model", ["malformed", "no-choices"])
def test_malformed_response(server, model):
    with pytest.raises(MalformedResponseError):
        _client(server, model=model).chat("hi")


def test_network_down():
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionFailedError, match="cannot reach"):
        _client(f"http://127.0.0.1:{port}/v1").chat("hi")


def test_settings_from_env_and_no_key(monkeypatch, capsys):
    for var in ("LLM_API_KEY", "OPENAI_API_KEY", "LLM_BASE_URL", "OPENAI_BASE_URL", "LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    assert try_client() is None
    assert "LLM_API_KEY" in capsys.readouterr().out
    with pytest.raises(AuthenticationError, match="no API key"):
        LLMClient()
    monkeypatch.setenv("LLM_API_KEY", "sk-abcdef")
    monkeypatch.setenv("LLM_BASE_URL", "https://api.deepseek.com")
    monkeypatch.setenv("LLM_MODEL", "deepseek-chat")
    s = LLMSettings.from_env()
    assert (s.api_key, s.base_url, s.model) == (
        "sk-abcdef",
        "https://api.deepseek.com",
        "deepseek-chat",
    )
    assert "sk-abcdef" not in repr(s)
    assert "dashscope" in setup_instructions()


def test_bad_messages(server):
    with pytest.raises(TypeError, match="prompt string or a list"):
        _client(server).chat(42)


def test_read_timeout_is_not_a_network_failure(server):
    with pytest.raises(ReadTimeoutError, match="connected to .* no answer within timeout=0.5 s"):
        _client(server, model="slow", timeout=0.5).chat("hi")


def test_connect_and_read_timeouts_get_their_own_messages():
    import httpx
    import openai

    settings = LLMSettings(api_key=KEY, base_url="http://example.invalid/v1", timeout=3)
    request = httpx.Request("POST", settings.base_url)
    for cause, kind, words in (
        (httpx.ConnectTimeout("connect"), ConnectionFailedError, "cannot reach"),
        (httpx.ReadTimeout("read"), ReadTimeoutError, "no answer within timeout=3 s"),
    ):
        try:
            raise openai.APITimeoutError(request=request) from cause
        except openai.APITimeoutError as exc:
            err = _explain(exc, settings)
        assert type(err) is kind and words in str(err)


def test_stream_cut_off_before_the_end_raises(server):
    received = []
    with pytest.raises(IncompleteStreamError, match="ended before the server finished"):
        for piece in _client(server, model="cut-stream").stream("世界"):
            received.append(piece)
    assert received == ["你好", "，"]  # the pieces that came, then the error, not a silent end


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("max_retries", -1, ValueError),
        ("max_retries", 1.5, TypeError),
        ("timeout", 0, ValueError),
        ("timeout", float("nan"), ValueError),
        ("backoff", -1.0, ValueError),
        ("model", "", ValueError),
        ("base_url", None, TypeError),
    ],
)
def test_bad_settings_are_refused_before_any_request(field, value, error):
    with pytest.raises(error, match=field):
        LLMSettings(api_key=KEY, **{field: value})
