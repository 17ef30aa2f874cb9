"""ChatModel over OpenAI-compatible providers: routes by model name, streams deltas and usage, never retries."""
from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import AsyncIterator, Iterable

import httpx2
import openai

from core.domain import Usage
from adapters.llm.errors import key_missing, mark, request_failed, stream_broke
from core.errors import InvalidRequest, UpstreamError
from core.ports import ModelRequest, TextDelta, UsageReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    api_key: str
    timeout_seconds: float
    model_names: tuple[str, ...]


@dataclass
class _Client:
    provider: Provider
    client: openai.AsyncOpenAI

    @property
    def keyless(self) -> bool:  # no API key configured: a failure says so first
        return not self.provider.api_key


def _client(base_url: str, api_key: str, timeout: float) -> openai.AsyncOpenAI:
    # max_retries=0: retries are the fail-over layer's (adapters/llm/failover.py), which never retries once
    # text has been streamed. An empty key still builds a client (local servers need none); a real provider
    # answers 401. aiohttp under the SDK (its `aiohttp` extra): about 0.5 ms less event-loop time per call than
    # its default transport, the same timeouts and errors.
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "unset", timeout=timeout, max_retries=0,
                              http_client=openai.DefaultAioHttpClient())


class OpenAIChatModel:
    """The provider table (replaceable while running, `set_providers`) and one streamed call to one of them."""

    def __init__(self, providers: Iterable[Provider | tuple]):
        self._clients: dict[str, _Client] = {}
        self._routes: dict[str, str] = {}   # model name -> provider name
        self._retired: list[openai.AsyncOpenAI] = []
        self.set_providers(providers)

    def set_providers(self, providers: Iterable[Provider | tuple]) -> None:
        """Replace the provider table. A provider whose URL, key and timeout are unchanged keeps its client (and
        its pooled connections); replaced clients are closed at shutdown, as a reply may still be streaming."""
        clients: dict[str, _Client] = {}
        routes: dict[str, str] = {}
        for p in providers:
            p = p if isinstance(p, Provider) else Provider(*p)
            p = Provider(p.name, p.base_url, p.api_key, p.timeout_seconds, tuple(p.model_names))
            old = self._clients.get(p.name)
            if old is not None and (old.provider.base_url, old.provider.api_key, old.provider.timeout_seconds) == (
                    p.base_url, p.api_key, p.timeout_seconds):
                clients[p.name] = _Client(p, old.client)
            else:
                clients[p.name] = _Client(p, _client(p.base_url, p.api_key, p.timeout_seconds))
            for model in p.model_names:
                if model in routes:
                    raise ValueError(f"model {model!r} is listed under more than one provider")
                routes[model] = p.name
        kept = {id(c.client) for c in clients.values()}
        self._retired.extend(c.client for c in self._clients.values() if id(c.client) not in kept)
        self._clients, self._routes = clients, routes

    def provider_of(self, model: str) -> str | None:
        return self._routes.get(model)

    def provider(self, name: str) -> Provider | None:
        c = self._clients.get(name)
        return c.provider if c else None

    def provider_names(self) -> list[str]:
        return list(self._clients)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | UsageReport]:
        provider = self._routes.get(request.model)
        if provider is None:
            raise InvalidRequest(f"Unknown model {request.model!r}.", reason="unknown_model")
        async for chunk in self.stream_via(provider, request):
            yield chunk

    async def stream_via(self, provider: str, request: ModelRequest,
                         api_key: str | None = None) -> AsyncIterator[TextDelta | UsageReport]:
        """Stream `request` (its model name as the provider knows it) from the named provider; with `api_key`,
        a user's own key instead of the provider's."""
        entry = self._clients.get(provider)
        if entry is None:
            raise mark(UpstreamError(f"The model provider {provider} is not configured.", reason="upstream_error",
                                     status=502), "provider")
        if api_key is None:
            async for chunk in _stream(entry.client, provider, request, entry.keyless, False):
                yield chunk
            return
        p = entry.provider
        client = _client(p.base_url, api_key, p.timeout_seconds)
        try:
            async for chunk in _stream(client, provider, request, False, True):
                yield chunk
        finally:
            await client.close()

    async def close(self) -> None:
        for client in [*(c.client for c in self._clients.values()), *self._retired]:
            await client.close()


async def _stream(client: openai.AsyncOpenAI, provider: str, request: ModelRequest, keyless: bool,
                  own_key: bool) -> AsyncIterator[TextDelta | UsageReport]:
    create = client.chat.completions.with_streaming_response.create
    try:
        # The raw response, not the SDK's parsed stream: building a typed chunk object costs about
        # 0.1 ms of event-loop time per chunk (half the SDK's cost per reply, docs/benchmarks.md),
        # and we read three fields of it. The SDK still sends the request and maps HTTP errors.
        response_cm = create(
            model=request.model,
            # The messages go in extra_body, which the SDK sends as they are: its type-driven transform of
            # `messages` costs about 0.35 ms of event-loop time per message (7 ms for a 20-message
            # history), and plain role/content strings need no transforming (docs/benchmarks.md).
            messages=[],
            extra_body={"messages": _messages(request)},
            max_tokens=request.max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        response = await response_cm.__aenter__()
    except openai.OpenAIError as exc:
        if keyless:
            raise key_missing(provider, exc) from exc
        raise request_failed(provider, exc, own_key=own_key) from exc

    usage: Usage | None = None
    finished = answered = False
    try:
        try:
            async for data in _sse_data(response.iter_lines()):
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if chunk.get("error"):
                    raise _ProviderStreamError(_error_message(chunk["error"]))
                if chunk.get("usage"):
                    u = chunk["usage"]
                    usage = Usage(u.get("prompt_tokens") or 0, u.get("completion_tokens") or 0)
                for choice in (chunk.get("choices") or ())[:1]:
                    finished = finished or choice.get("finish_reason") is not None
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        answered = True
                        yield TextDelta(text)
        # ValueError: a chunk that is not JSON; AttributeError: JSON of the wrong shape.
        except (openai.OpenAIError, httpx2.HTTPError, ValueError, AttributeError, _ProviderStreamError) as exc:
            raise stream_broke(provider, exc, answered) from exc
    finally:
        await response_cm.__aexit__(None, None, None)
    if not finished:
        raise stream_broke(provider, None, answered)
    if usage is not None:
        yield UsageReport(usage)


def _messages(request: ModelRequest) -> list[dict]:
    """The chat messages as OpenAI takes them; the request's images join the last user message as
    image_url parts (base64 data URLs, so the provider never fetches anything)."""
    messages = [{"role": t.role, "content": t.content} for t in request.messages]
    if request.images:
        last_user = next(m for m in reversed(messages) if m["role"] == "user")
        last_user["content"] = [{"type": "text", "text": last_user["content"]}, *(
            {"type": "image_url", "image_url": {"url": f"data:{i.mime};base64,{base64.b64encode(i.data).decode()}",
                                                "detail": i.detail}}
            for i in request.images)]
    return messages


class _ProviderStreamError(Exception):
    """The provider reported an error inside a stream that had started (HTTP 200, then an `error` event)."""


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each server-sent event (its `data:` lines joined); comments and other fields skipped."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _error_message(error: object) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return str(error)
