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


@dataclass(frozen=True)
class _Route:
    provider: str
    client: openai.AsyncOpenAI
    keyless: bool = False  # no API key configured: a failure says so first


class OpenAIChatModel:
    def __init__(self, providers: Iterable[Provider | tuple]):
        self._routes: dict[str, _Route] = {}
        self._clients: list[openai.AsyncOpenAI] = []
        for p in providers:
            p = p if isinstance(p, Provider) else Provider(*p)
            # max_retries=0: a retried request may be generated (and billed) twice by the provider.
            # An empty key still builds a client (local servers need none); a real provider answers 401.
            # aiohttp under the SDK (its `aiohttp` extra): about 0.5 ms less event-loop time per call than
            # its default transport, the same timeouts and errors.
            client = openai.AsyncOpenAI(base_url=p.base_url, api_key=p.api_key or "unset",
                                        timeout=p.timeout_seconds, max_retries=0,
                                        http_client=openai.DefaultAioHttpClient())
            self._clients.append(client)
            for model in p.model_names:
                if model in self._routes:
                    raise ValueError(f"model {model!r} is listed under more than one provider")
                self._routes[model] = _Route(p.name, client, not p.api_key)

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | UsageReport]:
        route = self._routes.get(request.model)
        if route is None:
            raise InvalidRequest(f"Unknown model {request.model!r}.", reason="unknown_model")
        create = route.client.chat.completions.with_streaming_response.create
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
            if route.keyless:
                raise _key_missing(route.provider, exc) from exc
            raise _request_failed(route.provider, exc) from exc

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
                raise _stream_broke(route.provider, exc, answered) from exc
        finally:
            await response_cm.__aexit__(None, None, None)
        if not finished:
            raise _stream_broke(route.provider, None, answered)
        if usage is not None:
            yield UsageReport(usage)

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


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


def _refused(exc: openai.OpenAIError) -> bool:
    """A connection refused or reset before an answer. The SDK's aiohttp transport reports it as a
    connect timeout (its error map prefers ConnectTimeout for every aiohttp connection error); the cause
    chain still holds aiohttp's OSError, which is not a TimeoutError."""
    cause = exc.__cause__.__cause__ if isinstance(exc.__cause__, httpx2.ConnectTimeout) else None
    return isinstance(cause, OSError) and not isinstance(cause, TimeoutError)


def _request_failed(provider: str, exc: openai.OpenAIError) -> UpstreamError:
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        return UpstreamError(f"The model provider {provider} did not answer in time; try again.",
                             reason="upstream_timeout", status=504)
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError(f"The model provider {provider} cannot be reached right now; try again later.",
                             reason="upstream_unavailable", status=503)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            log.error("model provider %s rejected the API key (HTTP %s)", provider, status)
            return UpstreamError(f"The model provider {provider} rejected the API key; ask the operator to check it.",
                                 reason="upstream_unauthorized", status=502)
        if status == 429:
            # UpstreamError (not RateLimited) so the engine releases the hold like any provider failure.
            return UpstreamError("The model provider is rate limiting; try again shortly.",
                                 reason="rate_limited", status=429)
        if status >= 500:
            return UpstreamError(f"The model provider {provider} failed (HTTP {status}); try again later.",
                                 reason="upstream_error", status=502)
        return UpstreamError(f"The model provider {provider} refused the request (HTTP {status}): {_detail(exc)}",
                             reason="upstream_error", status=502)
    return UpstreamError(f"The model provider {provider} failed: {exc}", reason="upstream_error", status=502)


def _key_missing(provider: str, exc: openai.OpenAIError) -> UpstreamError:
    """A call without a key failed: the missing key, not the network, is the first thing to fix."""
    what = (f"it refused the call (HTTP {exc.status_code})" if isinstance(exc, openai.APIStatusError)
            else "it could not be reached")
    log.error("model provider %s has no API key configured and %s", provider, what)
    return UpstreamError(f"No API key is configured for the model provider {provider}, and {what}. The operator "
                         "must set its api_key in config.yaml (OPENAI_API_KEY in the shipped config.yaml).",
                         reason="upstream_key_missing", status=503)


def _stream_broke(provider: str, exc: Exception | None, answered: bool) -> UpstreamError:
    log.warning("stream from model provider %s broke: %r", provider, exc)
    cut = "the answer was cut off" if answered else "no answer arrived"
    if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
        return UpstreamError(f"The model provider {provider} stopped responding; {cut}.",
                             reason="upstream_timeout", status=504)
    return UpstreamError(f"The connection to the model provider {provider} broke; {cut}.",
                         reason="upstream_error", status=502)


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return exc.message
