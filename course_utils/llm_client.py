"""Call an online model through any OpenAI-compatible chat endpoint, with the ``openai`` SDK.

Most vendors, in China and elsewhere, speak the OpenAI chat-completions protocol,
so one client reaches them all; only three settings change, read from the
environment:

    LLM_API_KEY    your key (falls back to OPENAI_API_KEY)
    LLM_BASE_URL   the endpoint (falls back to OPENAI_BASE_URL, then OpenAI's own)
    LLM_MODEL      the model name the vendor gives

``LLMClient.chat`` returns the answer; ``LLMClient.stream`` yields it piece by
piece as it is generated. A rate limit (HTTP 429) or a server error (5xx) is
retried with exponential back-off; every other failure becomes an ``LLMError``
subclass whose message says what to check. A server that cannot be reached and a
server that was reached but did not answer in time are different errors, and a
stream that stops before the server has finished the answer raises instead of
passing for a complete answer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from .tools.checks import finite_number, instance_of, non_empty, non_negative_int

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"

# OpenAI-compatible endpoints a learner in China can reach (base URL, an example model name).
COMPATIBLE_ENDPOINTS = {
    "DeepSeek": ("https://api.deepseek.com", "deepseek-chat"),
    "Alibaba Qwen (DashScope)": ("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus"),
    "Zhipu GLM (BigModel)": ("https://open.bigmodel.cn/api/paas/v4/", "glm-4"),
    "Moonshot (Kimi)": ("https://api.moonshot.cn/v1", "moonshot-v1-8k"),
    "local vLLM server": ("http://localhost:8000/v1", "<the --model you served>"),
    "local Ollama": ("http://localhost:11434/v1", "qwen2:0.5b"),
}


class LLMError(RuntimeError):
    """A call to the chat endpoint failed; the message says what to check."""


class AuthenticationError(LLMError):
    """HTTP 401/403: the key is missing, wrong, or not for this endpoint."""


class ModelNotFoundError(LLMError):
    """HTTP 404: the endpoint does not know the model name."""


class RateLimitError(LLMError):
    """HTTP 429 even after the retries."""


class ConnectionFailedError(LLMError):
    """The endpoint could not be reached (network down, wrong URL, proxy, connect timeout)."""


class ReadTimeoutError(LLMError):
    """The endpoint was reached, but its answer did not arrive within the timeout."""


class MalformedResponseError(LLMError):
    """The endpoint answered, but not in the chat-completions format."""


class IncompleteStreamError(MalformedResponseError):
    """A streamed answer stopped before the server said it was finished."""


@dataclass(frozen=True)
class LLMSettings:
    api_key: str | None
    base_url: str = DEFAULT_BASE_URL
    model: str = DEFAULT_MODEL
    timeout: float = 60.0
    max_retries: int = 3  # retries after a 429 or 5xx, with back-off
    backoff: float = 1.0  # seconds before the first retry; doubles each time

    def __post_init__(self):
        if self.api_key is not None:
            instance_of("api_key", self.api_key, str)
        non_empty("base_url", instance_of("base_url", self.base_url, str))
        non_empty("model", instance_of("model", self.model, str))
        finite_number("timeout", self.timeout, low=0, low_inclusive=False)
        non_negative_int("max_retries", self.max_retries)  # -1 would send no request at all
        finite_number("backoff", self.backoff, low=0)

    @classmethod
    def from_env(cls, **overrides) -> LLMSettings:
        env = os.environ
        base_url = env.get("LLM_BASE_URL") or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        settings = cls(
            api_key=env.get("LLM_API_KEY") or env.get("OPENAI_API_KEY") or None,
            base_url=base_url,
            model=env.get("LLM_MODEL") or DEFAULT_MODEL,
        )
        return replace(settings, **overrides)

    def __repr__(self) -> str:  # never print a key
        key = "not set" if not self.api_key else f"{self.api_key[:3]}...{self.api_key[-2:]}"
        return f"LLMSettings(model={self.model!r}, base_url={self.base_url!r}, api_key={key})"


def setup_instructions() -> str:
    """How to point the client at an endpoint (printed when no key is set)."""
    lines = [
        "No API key is set, so the online-model cells are skipped. To call a model, set three",
        "environment variables before starting Jupyter (or in the notebook with os.environ):",
        "    export LLM_API_KEY=sk-...",
        "    export LLM_BASE_URL=<endpoint>      # omit for OpenAI itself",
        "    export LLM_MODEL=<model name>",
        "OpenAI-compatible endpoints (base URL, an example model):",
    ]
    for name, (url, model) in COMPATIBLE_ENDPOINTS.items():
        lines.append(f"    {name:<26} {url:<52} {model}")
    return "\n".join(lines)


def _messages(prompt_or_messages, system: str | None = None) -> list[dict]:
    if isinstance(prompt_or_messages, str):
        messages = [{"role": "user", "content": prompt_or_messages}]
    elif isinstance(prompt_or_messages, list) and all(
        isinstance(m, dict) and "role" in m and "content" in m for m in prompt_or_messages
    ):
        messages = list(prompt_or_messages)
    else:
        raise TypeError(
            "expected a prompt string or a list of {'role': ..., 'content': ...} "
            f"dicts, got {type(prompt_or_messages).__name__}"
        )
    if system is not None:
        messages = [{"role": "system", "content": system}] + messages
    return messages


def _explain(exc: Exception, s: LLMSettings) -> LLMError:
    """Turn an ``openai`` exception into an LLMError that says what to check."""
    import openai as oa

    url, model = s.base_url, s.model
    if isinstance(exc, oa.RateLimitError):
        return RateLimitError(
            f"rate limited (429) by {url} after {s.max_retries} retries; "
            f"wait, or lower your request rate / check your quota"
        )
    if isinstance(exc, oa.AuthenticationError):
        return AuthenticationError(
            f"{url} rejected the API key (401): check LLM_API_KEY, and "
            f"that the key belongs to this endpoint"
        )
    if isinstance(exc, oa.PermissionDeniedError):
        return AuthenticationError(
            f"{url} refused access (403) to model {model!r}: check your "
            f"account's permissions or region"
        )
    if isinstance(exc, oa.NotFoundError):
        return ModelNotFoundError(
            f"{url} does not know model {model!r} (404): check LLM_MODEL "
            f"against the vendor's model list, and LLM_BASE_URL"
        )
    if isinstance(exc, oa.APITimeoutError) and not _connect_phase(exc):
        return ReadTimeoutError(
            f"connected to {url}, but model {model!r} sent no answer within "
            f"timeout={s.timeout:g} s: the model may be busy or the answer long; "
            f"try again, or raise the timeout (LLMClient(timeout=...))"
        )
    if isinstance(exc, oa.APIConnectionError):  # no connection (refused, DNS, connect timeout)
        return ConnectionFailedError(
            f"cannot reach {url}: check the network, the URL, and any "
            f"proxy (e.g. unset http_proxy https_proxy after AutoDL's "
            f"network_turbo)"
        )
    if isinstance(exc, oa.APIStatusError):
        return LLMError(f"{url} answered HTTP {exc.status_code}: {exc.message}")
    return MalformedResponseError(
        f"{url} answered, but not in the chat-completions format "
        f"({type(exc).__name__}); is LLM_BASE_URL the API root, "
        f"usually ending in /v1?"
    )


def _connect_phase(exc: Exception) -> bool:
    """Did a timeout happen while connecting (httpx's ConnectTimeout or PoolTimeout)?"""
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ in ("ConnectTimeout", "PoolTimeout")


class LLMClient:
    """A thin wrapper over ``openai.OpenAI`` for one endpoint and one model."""

    def __init__(self, settings: LLMSettings | None = None, **overrides):
        import openai

        self.settings = replace(settings or LLMSettings.from_env(), **overrides)
        if not self.settings.api_key:
            raise AuthenticationError(
                "no API key: set LLM_API_KEY (or OPENAI_API_KEY).\n" + setup_instructions()
            )
        self._openai = openai
        # Retries are ours (visible, testable), so the SDK's own are switched off.
        self._client = openai.OpenAI(
            api_key=self.settings.api_key,
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            max_retries=0,
        )
        self.retries_done = 0

    def _call(self, **kwargs):
        oa, s = self._openai, self.settings
        for attempt in range(s.max_retries + 1):
            try:
                return self._client.chat.completions.create(model=s.model, **kwargs)
            except (oa.RateLimitError, oa.InternalServerError) as exc:
                if attempt == s.max_retries:
                    raise _explain(exc, s) from None
                self.retries_done += 1
                time.sleep(s.backoff * 2**attempt)  # 1x, 2x, 4x, ... the back-off
            except (oa.APIError, ValueError) as exc:
                raise _explain(exc, s) from None

    def chat(self, prompt_or_messages, system: str | None = None, **kwargs) -> str:
        """The model's answer to a prompt (or a message list), as one string."""
        response = self._call(messages=_messages(prompt_or_messages, system), **kwargs)
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            content = None
        if not isinstance(content, str):
            raise MalformedResponseError(
                f"{self.settings.base_url} answered without "
                f"choices[0].message.content: {str(response)[:200]}"
            )
        return content

    def stream(self, prompt_or_messages, system: str | None = None, **kwargs) -> Iterator[str]:
        """Yield the answer in pieces as the server sends them (server-sent events).

        A complete stream ends with a chunk that carries a ``finish_reason`` ("stop",
        "length", ...), then ``data: [DONE]``. A stream that ends without a
        finish_reason was cut off, and raises ``IncompleteStreamError``.
        """
        chunks = self._call(messages=_messages(prompt_or_messages, system), stream=True, **kwargs)
        url, finished = self.settings.base_url, False
        try:
            for chunk in chunks:
                if not getattr(chunk, "choices", None):
                    continue  # e.g. a final usage-only chunk
                finished = finished or chunk.choices[0].finish_reason is not None
                piece = chunk.choices[0].delta.content
                if piece:
                    yield piece
        except (self._openai.APIError, ValueError) as exc:
            raise MalformedResponseError(
                f"the stream from {url} broke off or was malformed ({type(exc).__name__})"
            ) from None
        except Exception as exc:  # the transport failed mid-stream (httpx read/protocol error)
            if not type(exc).__module__.startswith(("httpx", "httpcore")):
                raise
            raise IncompleteStreamError(
                f"the stream from {url} broke off mid-answer ({type(exc).__name__}); "
                f"what arrived is not the whole answer: try again"
            ) from None
        if not finished:
            raise IncompleteStreamError(
                f"the stream from {url} ended before the server finished the answer "
                f"(no finish_reason): what arrived is not the whole answer; try again"
            )


def try_client(**overrides) -> LLMClient | None:
    """An LLMClient when a key is set; otherwise print how to set one and return None."""
    settings = LLMSettings.from_env(**overrides)
    if not settings.api_key:
        print(setup_instructions())
        return None
    return LLMClient(settings)
