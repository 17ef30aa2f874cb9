"""What a failed call to an OpenAI-compatible provider means: the user's error, and whether to retry or fail over."""
from __future__ import annotations

import logging
from typing import Literal

import aiohttp
import httpx2
import openai

from core.errors import UpstreamError

log = logging.getLogger(__name__)

# transient: worth retrying on the same provider (connect errors, 429, 5xx, a stream that broke before its first
# token); provider: that provider cannot answer now (timeout, rejected key, unknown model), try the next one;
# request: the request itself is wrong, no provider will take it.
Failure = Literal["transient", "provider", "request"]


def mark(error: UpstreamError, failure: Failure, *, retry_after: float | None = None,
         answered: bool = False) -> UpstreamError:
    """Attach what the fail-over layer needs to an UpstreamError: the kind of failure, the provider's Retry-After,
    and whether text had already been streamed (then nothing may be retried)."""
    error.failure = failure  # type: ignore[attr-defined]
    error.retry_after_seconds = retry_after  # type: ignore[attr-defined]
    error.answered = answered  # type: ignore[attr-defined]
    return error


def failure_of(error: BaseException) -> Failure:
    return getattr(error, "failure", "request")


def retry_after_of(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


def _refused(exc: openai.OpenAIError) -> bool:
    """A connection refused or reset before an answer. The SDK's aiohttp transport reports it as a
    connect timeout (its error map prefers ConnectTimeout for every aiohttp connection error); the cause
    chain still holds aiohttp's error, which is not a TimeoutError."""
    cause = exc.__cause__.__cause__ if isinstance(exc.__cause__, httpx2.ConnectTimeout) else None
    # aiohttp's ServerDisconnectedError (the connection closed before a response) is no OSError.
    return isinstance(cause, (OSError, aiohttp.ClientConnectionError)) and not isinstance(cause, TimeoutError)


def request_failed(provider: str, exc: openai.OpenAIError, *, own_key: bool = False) -> UpstreamError:
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        return mark(UpstreamError(f"The model provider {provider} did not answer in time; try again.",
                                  reason="upstream_timeout", status=504), "provider")
    if isinstance(exc, openai.APIConnectionError):
        return mark(UpstreamError(f"The model provider {provider} cannot be reached right now; try again later.",
                                  reason="upstream_unavailable", status=503), "transient")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            if own_key:
                error = UpstreamError(f"The model provider {provider} rejected your own API key (HTTP {status}); "
                                      "check or replace it in your keys.", reason="own_key_rejected", status=502)
                error.provider = provider  # type: ignore[attr-defined]  # named in the chat's text
                return mark(error, "request")
            log.error("model provider %s rejected the API key (HTTP %s)", provider, status)
            return mark(UpstreamError(f"The model provider {provider} rejected the API key; ask the operator to "
                                      "check it.", reason="upstream_unauthorized", status=502), "provider")
        if status == 429:
            # UpstreamError (not RateLimited) so the engine releases the hold like any provider failure.
            return mark(UpstreamError("The model provider is rate limiting; try again shortly.",
                                      reason="rate_limited", status=429), "transient", retry_after=retry_after_of(exc))
        if status >= 500:
            return mark(UpstreamError(f"The model provider {provider} failed (HTTP {status}); try again later.",
                                      reason="upstream_error", status=502), "transient",
                        retry_after=retry_after_of(exc))
        failure: Failure = "provider" if status == 404 else "request"
        return mark(UpstreamError(f"The model provider {provider} refused the request (HTTP {status}): "
                                  f"{_detail(exc)}", reason="upstream_error", status=502), failure)
    return mark(UpstreamError(f"The model provider {provider} failed: {exc}", reason="upstream_error", status=502),
                "transient")


def key_missing(provider: str, exc: openai.OpenAIError) -> UpstreamError:
    """A call without a key failed: the missing key, not the network, is the first thing to fix."""
    what = (f"it refused the call (HTTP {exc.status_code})" if isinstance(exc, openai.APIStatusError)
            else "it could not be reached")
    log.error("model provider %s has no API key configured and %s", provider, what)
    return mark(UpstreamError(f"No API key is configured for the model provider {provider}, and {what}. The "
                              "operator must set its api_key in config.yaml (OPENAI_API_KEY in the shipped "
                              "config.yaml).", reason="upstream_key_missing", status=503), "provider")


def stream_broke(provider: str, exc: Exception | None, answered: bool) -> UpstreamError:
    log.warning("stream from model provider %s broke: %r", provider, exc)
    cut = "the answer was cut off" if answered else "no answer arrived"
    if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
        return mark(UpstreamError(f"The model provider {provider} stopped responding; {cut}.",
                                  reason="upstream_timeout", status=504), "provider", answered=answered)
    return mark(UpstreamError(f"The connection to the model provider {provider} broke; {cut}.",
                              reason="upstream_error", status=502), "transient", answered=answered)


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return exc.message
