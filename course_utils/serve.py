"""Serve the course's assistant the way online models are served: an OpenAI-compatible API and a
chat page (本地部署: 和调用 DeepSeek、Qwen 一样调用自己的模型).

    python -m course_utils.serve                      # checkpoints/assistant.pt, 127.0.0.1:8000
    python -m course_utils.serve --checkpoint runs/mine.pt --host 0.0.0.0 --port 6006

Endpoints, with OpenAI's paths and JSON, so that chapter 08's ``llm_client`` and the ``openai``
SDK talk to it with only the base URL changed (``http://127.0.0.1:8000/v1``, any API key):

    GET  /v1/models             the one model served
    POST /v1/chat/completions   the answer; with ``"stream": true`` server-sent events: one chunk
                                per token, a last chunk with its finish_reason, ``data: [DONE]``
    GET  /                      the chat page (``course_utils/static/chat.html``, no CDN)
    GET  /health                ``{"status": "ok", ...}``

A request the server cannot serve gets OpenAI's error shape, ``{"error": {"message", "type",
"param", "code"}}``: 400 for a malformed request (not JSON, no messages, an unknown role, a
``max_tokens`` below 1 or above the limit, a prompt that fills the context, a temperature
outside [0, 2], a top_p outside (0, 1]), 404 for an unknown model or path. Parameters this
server does not implement (``stop``, penalties, ...) are accepted and ignored; ``n`` must be 1.

**One generation at a time.** ``ThreadingHTTPServer`` answers each connection in its own
thread, but there is one model: GPT's KV cache enters through forward hooks on its shared W_K
and W_V layers, so two generations at once would write into each other's cache. A lock around
generation makes concurrent requests wait their turn; checking a request and counting its
prompt happen before the lock, so a bad request is answered at once.

In a notebook, ``start_server(backend_or_checkpoint, port=0)`` runs the server in a background
thread (port 0 picks a free port) and returns a handle with ``url``, ``base_url`` and
``stop()``; it is also a context manager. The backend is anything with ``name``,
``context_length``, ``count_prompt_tokens(messages)`` and ``stream(messages, max_tokens,
temperature, top_p, seed)``, whose generator yields one piece per token and returns the finish
reason ("stop" or "length"); ``assistant.CourseAssistant`` is one.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Protocol
from urllib.parse import urlsplit

__all__ = [
    "APIError",
    "ChatBackend",
    "ChatRequest",
    "ServerHandle",
    "make_server",
    "parse_chat_request",
    "start_server",
]

MAX_BODY_BYTES = 1 << 20  # a request body above 1 MiB is refused (413)
TEMPERATURE_RANGE = (0.0, 2.0)  # OpenAI's
DEFAULT_TEMPERATURE = 1.0  # OpenAI's defaults, used when a request leaves them out
DEFAULT_TOP_P = 1.0


class ChatBackend(Protocol):
    """What the server needs from a model."""

    name: str

    @property
    def context_length(self) -> int: ...

    def count_prompt_tokens(self, messages: list[dict]) -> int: ...

    def stream(
        self,
        messages: list[dict],
        max_tokens: int,
        temperature: float,
        top_p: float,
        seed: int | None = None,
    ) -> Generator[str, None, str]: ...


class APIError(Exception):
    """An error answered in OpenAI's shape: an HTTP status and ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = (
            status,
            message,
            param,
            code,
            type,
        )

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def _bad(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param, code)


# ---------------------------------------------------------------- the request


@dataclass(frozen=True)
class ChatRequest:
    """A checked chat-completions request."""

    messages: list[dict]
    prompt_tokens: int
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    stream: bool
    include_usage: bool


def parse_chat_request(body: bytes, backend: ChatBackend, max_tokens_limit: int) -> ChatRequest:
    """Check a request body against OpenAI's rules and the model's limits; raise ``APIError``."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"the request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _bad(f"the request body must be a JSON object, got {type(data).__name__}")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad(f"model must be a string, got {json.dumps(model)[:40]}", "model")
    if model is not None and model != backend.name:
        raise APIError(
            404,
            f"The model {model!r} does not exist on this server; it serves {backend.name!r} "
            "(GET /v1/models lists it)",
            "model",
            "model_not_found",
        )
    messages = _messages(data.get("messages"))
    try:
        prompt_tokens = backend.count_prompt_tokens(messages)
    except (ValueError, TypeError) as exc:  # the template's own checks: turn order, markers, ...
        raise _bad(str(exc), "messages") from None
    context = backend.context_length
    if prompt_tokens >= context:
        raise _bad(
            f"the prompt is {prompt_tokens} tokens and this model's context is {context}, with "
            "at least one token left for the answer: shorten the conversation",
            "messages",
            "context_length_exceeded",
        )
    room = context - prompt_tokens
    max_tokens = _max_tokens(data, max_tokens_limit, room, prompt_tokens, context)
    temperature = _number(data, "temperature", DEFAULT_TEMPERATURE, *TEMPERATURE_RANGE)
    top_p = _number(data, "top_p", DEFAULT_TOP_P, 0.0, 1.0, low_inclusive=False)
    seed = data.get("seed")
    if seed is not None and not _is_int(seed):
        raise _bad(f"seed must be an integer, got {seed!r}", "seed")
    if data.get("n", 1) not in (1, None):
        raise _bad(f"this server returns one choice: n must be 1, got {data['n']!r}", "n")
    stream = data.get("stream") or False
    if not isinstance(stream, bool):
        raise _bad(f"stream must be true or false, got {stream!r}", "stream")
    options = data.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _bad("stream_options must be an object", "stream_options")
    return ChatRequest(
        messages=messages,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        temperature=float(temperature),
        top_p=float(top_p),
        seed=seed,
        stream=stream,
        include_usage=bool(options.get("include_usage", False)),
    )


def _messages(messages: Any) -> list[dict]:
    """A non-empty list of {"role": str, "content": str}; content given as text parts is joined."""
    if messages is None:
        raise _bad(
            "'messages' is required: a non-empty list of {'role': ..., 'content': ...} objects",
            "messages",
        )
    if not isinstance(messages, list) or not messages:
        raise _bad(
            f"'messages' must be a non-empty list of {{'role', 'content'}} objects, got "
            f"{json.dumps(messages)[:80]}",
            "messages",
        )
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise _bad(f"messages[{i}] must be an object with a string 'role'", f"messages[{i}]")
        out.append({"role": m["role"], "content": _content(m.get("content"), i)})
    return out


def _content(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        return "".join(p["text"] for p in content)  # [{"type": "text", "text": ...}, ...]
    raise _bad(
        f"messages[{i}].content must be a string (or a list of text parts); this model reads "
        "text only",
        f"messages[{i}].content",
    )


def _max_tokens(data: dict, limit: int, room: int, prompt_tokens: int, context: int) -> int:
    name = "max_tokens"  # or its newer name, which wins when both are given
    if data.get("max_completion_tokens") is not None:
        name = "max_completion_tokens"
    value = data.get(name)
    if value is None:
        return min(limit, room)  # as long as the server allows and the context holds
    if not _is_int(value):
        raise _bad(f"{name} must be an integer, got {json.dumps(value)[:40]}", name)
    if value < 1:
        raise _bad(f"{name} must be at least 1, got {value}", name)
    if value > limit:
        raise _bad(f"{name} is at most {limit} on this server, got {value}", name)
    if value > room:
        raise _bad(
            f"this model's context is {context} tokens and the prompt takes {prompt_tokens}, so "
            f"{name} can be at most {room}, got {value}",
            name,
            "context_length_exceeded",
        )
    return value


def _number(data, name, default, low, high, low_inclusive=True) -> float:
    value = data.get(name)
    if value is None:
        return default
    bad_type = isinstance(value, bool) or not isinstance(value, int | float)
    too_low = not bad_type and (value < low if low_inclusive else value <= low)
    if bad_type or too_low or value > high:
        left = "[" if low_inclusive else "("
        raise _bad(f"{name} must be a number in {left}{low:g}, {high:g}], got {value!r}", name)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------- the answers


def _completion(name: str, text: str, finish: str, n_tokens: int, req: ChatRequest) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": _usage(req.prompt_tokens, n_tokens),
    }


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _chunks(name: str, pieces: Generator[str, None, str], req: ChatRequest) -> Iterator[dict]:
    """OpenAI's chunks: the role, one per piece, the finish_reason, and usage if asked for."""
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": name,
    }

    def chunk(delta: dict, finish: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**head, "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""})
    n_tokens = 0
    while True:
        try:
            piece = next(pieces)
        except StopIteration as end:
            finish = end.value or "stop"
            break
        n_tokens += 1
        yield chunk({"content": piece})
    yield chunk({}, finish)
    if req.include_usage:
        yield {**head, "choices": [], "usage": _usage(req.prompt_tokens, n_tokens)}


def _generate(backend: ChatBackend, req: ChatRequest) -> Generator[str, None, str]:
    return backend.stream(req.messages, req.max_tokens, req.temperature, req.top_p, req.seed)


def _collect(pieces: Generator[str, None, str]) -> tuple[str, str, int]:
    """The whole answer, its finish reason (the generator's return value) and its token count."""
    text = []
    while True:
        try:
            text.append(next(pieces))
        except StopIteration as end:
            return "".join(text), end.value or "stop", len(text)


# ---------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a connection left open never keeps Python from exiting

    def __init__(self, address, backend: ChatBackend, max_tokens_limit: int, verbose: bool):
        self.backend = backend
        self.max_tokens_limit = max_tokens_limit
        self.verbose = verbose
        self.generation_lock = threading.Lock()  # one generation at a time (module docstring)
        self.started = time.time()
        self.page = resources.files("course_utils").joinpath("static/chat.html").read_bytes()
        self._connections: set[socket.socket] = set()  # open now; closed by server_close
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self):
        """Stop listening, and end the kept-alive connections too: a client's pooled connection
        would otherwise still reach a server that was stopped."""
        super().server_close()
        with self._connections_lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive for the plain answers; a stream closes at its end
    timeout = 120  # seconds before an idle or stalled connection is dropped
    server_version = "course-assistant"

    # ------------------------------------------------------------ routing
    def do_GET(self):
        self._route({"/": self._page, "/health": self._health, "/v1/models": self._models})

    def do_POST(self):
        self._route({"/v1/chat/completions": self._chat_completions})

    def _route(self, routes: dict):
        path = urlsplit(self.path).path.rstrip("/") or "/"
        self._body_read = False  # one handler answers every request of a kept-alive connection
        try:
            if path in routes:
                routes[path]()
            elif path in ("/", "/health", "/v1/models", "/v1/chat/completions"):
                raise APIError(405, f"{self.command} is not allowed on {path}", type="method")
            else:
                raise APIError(404, f"Invalid URL ({self.command} {path})", code="unknown_url")
        except APIError as exc:
            self._discard_body()
            self._send_json(exc.status, exc.body())
        except OSError:  # the client left, or stalled past the timeout: nothing to answer
            self.close_connection = True
        except Exception as exc:  # a bug: answer 500 in the same shape, and keep serving
            self._send_json(500, APIError(500, repr(exc), type="server_error").body())

    # ------------------------------------------------------------ endpoints
    def _page(self):
        self._send(200, self.server.page, "text/html; charset=utf-8", _PAGE_HEADERS)

    def _health(self):
        s = self.server
        busy = s.generation_lock.locked()
        body = {"status": "ok", "model": s.backend.name, "busy": busy}
        body["uptime_s"] = round(time.time() - s.started, 1)
        self._send_json(200, body)

    def _models(self):
        model = {
            "id": self.server.backend.name,
            "object": "model",
            "created": int(self.server.started),
            "owned_by": "course",
            "context_length": self.server.backend.context_length,
        }
        self._send_json(200, {"object": "list", "data": [model]})

    def _chat_completions(self):
        s = self.server
        req = parse_chat_request(self._read_body(), s.backend, s.max_tokens_limit)
        if req.stream:
            self._stream(req)
            return
        with s.generation_lock, closing(_generate(s.backend, req)) as pieces:
            text, finish, n_tokens = _collect(pieces)
        self._send_json(200, _completion(s.backend.name, text, finish, n_tokens, req))

    def _stream(self, req: ChatRequest):
        s = self.server
        with s.generation_lock, closing(_generate(s.backend, req)) as pieces:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")  # the stream ends when the connection does
            self.end_headers()
            self.close_connection = True
            try:
                for chunk in _chunks(s.backend.name, pieces, req):
                    self._event(json.dumps(chunk, ensure_ascii=False))
            except OSError:  # the client left mid-answer; closing `pieces` stops the generation
                raise
            except Exception as exc:  # headers are sent: report in the stream, no [DONE]
                self._event(json.dumps(APIError(500, repr(exc), type="server_error").body()))
                return
            self._event("[DONE]")

    # ------------------------------------------------------------ I/O
    def _event(self, data: str):
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise APIError(411, "a request body with a Content-Length header is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise APIError(413, f"the request body is over {MAX_BODY_BYTES} bytes")
        self._body_read = True
        return self.rfile.read(int(length))

    def _discard_body(self):
        """Read an unread body, so that the next request on this connection starts clean."""
        length = self.headers.get("Content-Length", "")
        if getattr(self, "_body_read", False) or not length.isdigit():
            return
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
        else:
            self.rfile.read(int(length))

    def _send_json(self, status: int, body: dict):
        data = json.dumps(body, ensure_ascii=False).encode()
        self._send(status, data, "application/json; charset=utf-8")

    def _send(self, status: int, data: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)


# The page may load nothing from elsewhere: no CDN, no fonts, no calls but to this server.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "
    "form-action 'none'",
    "Cache-Control": "no-cache",
}


def make_server(
    backend: ChatBackend,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    max_tokens_limit: int | None = None,
    verbose: bool = False,
) -> _Server:
    """The HTTP server, bound but not yet serving (call ``serve_forever``).

    ``max_tokens_limit``: the most tokens one answer may ask for (default: the context length).
    """
    limit = backend.context_length if max_tokens_limit is None else max_tokens_limit
    if not _is_int(limit) or limit < 1:
        raise ValueError(f"max_tokens_limit must be a positive int, got {limit!r}")
    return _Server((host, port), backend, limit, verbose)


class ServerHandle:
    """A server running in a background thread: ``url``, ``base_url``, ``stop()``."""

    def __init__(self, httpd: _Server):
        self.httpd = httpd
        self.backend = httpd.backend
        host, port = httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # where this machine reaches it
        self.url = f"http://{shown}:{port}"
        self.base_url = self.url + "/v1"  # what an OpenAI client takes as base_url
        self._thread = threading.Thread(
            target=httpd.serve_forever, name=f"course-serve-{port}", daemon=True
        )
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving, close every open connection, and free the port."""
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"ServerHandle({self.backend.name!r} at {self.url}, {state})"


def start_server(
    backend_or_checkpoint: ChatBackend | str | os.PathLike | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    **options,
) -> ServerHandle:
    """Serve in a background thread; return the handle (``handle.stop()`` ends it).

    ``backend_or_checkpoint``: a backend, or the path of an assistant checkpoint (None: the
    default one, ``checkpoints/assistant.pt``). ``port=0`` picks a free port. ``options``
    go to ``make_server`` (``max_tokens_limit``, ``verbose``).
    """
    backend = backend_or_checkpoint
    if backend is None or isinstance(backend, str | os.PathLike):
        from .assistant import DEFAULT_ASSISTANT, load_assistant

        backend = load_assistant(DEFAULT_ASSISTANT if backend is None else backend)
    return ServerHandle(make_server(backend, host, port, **options))


# ---------------------------------------------------------------- the command


def _parser() -> argparse.ArgumentParser:
    from .assistant import DEFAULT_ASSISTANT

    p = argparse.ArgumentParser(
        prog="python -m course_utils.serve",
        description="Serve an assistant checkpoint: an OpenAI-compatible API and a chat page.",
    )
    p.add_argument("--checkpoint", default=str(DEFAULT_ASSISTANT), help="assistant checkpoint")
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to be reachable from outside")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-tokens", type=int, default=None, help="the most tokens per answer")
    p.add_argument("--quiet", action="store_true", help="no line per request")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .assistant import load_assistant

    try:
        backend = load_assistant(args.checkpoint)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        httpd = make_server(
            backend, args.host, args.port, max_tokens_limit=args.max_tokens, verbose=not args.quiet
        )
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    port = httpd.server_address[1]
    url = f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{port}"
    print(f"Serving {backend.name} ({backend}) from {args.checkpoint}")
    print(f"  chat page    {url}/")
    print(f"  OpenAI API   {url}/v1   (any API key; model {backend.name!r})")
    print(f"  llm_client   LLM_BASE_URL={url}/v1 LLM_API_KEY=local LLM_MODEL={backend.name}")
    print("Ctrl-C stops it.", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
