"""FailoverChatModel: retries with backoff before the first token, then the model's fallbacks, behind breakers."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import AsyncIterator, Awaitable, Callable, Iterable, Mapping

from adapters.llm.breaker import STATE_NUMBER, Breakers, CircuitBreaker
from adapters.llm.errors import failure_of, mark
from adapters.llm.openai_chat import OpenAIChatModel
from core.errors import InvalidRequest, UpstreamError
from core.ports import AnsweredBy, ModelRequest, TextDelta, UsageReport

log = logging.getLogger(__name__)

# (user_id, provider) -> the user's own API key for that provider, or None
OwnKeyLookup = Callable[[str, str], Awaitable[str | None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3                # calls to one provider before the next one is tried
    base_delay: float = 0.5          # seconds before the first retry; doubled for each one after
    max_delay: float = 8.0
    max_retry_after: float = 20.0    # a longer Retry-After moves on to the next provider instead of waiting

    def delay(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number `retry` (0-based); None: do not wait that long, move on."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return min(self.max_delay, self.base_delay * (2 ** retry))


class FailoverChatModel:
    """A ChatModel over the provider table. A request goes to its model's provider; connect errors, 429 and 5xx
    are retried there (`policy`), then `fallbacks[model]` ("PROVIDER/MODEL") are tried in order. Once text has
    been streamed, a failure is raised as it is: nothing is retried, so no text is ever sent twice. A fallback
    that answers is announced with AnsweredBy, so the reply is priced by the model that answered."""

    def __init__(self, table: OpenAIChatModel, *, fallbacks: Mapping[str, Iterable[str]] | None = None,
                 policy: RetryPolicy = RetryPolicy(), breakers: Breakers | None = None,
                 own_keys: OwnKeyLookup | None = None, metrics=None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.table = table
        self.policy = policy
        self.breakers = breakers or Breakers()
        self.own_keys = own_keys
        self._metrics = metrics
        self._sleep = sleep
        self._fallbacks: dict[str, list[tuple[str, str]]] = {}
        self._watched: set[str] = set()
        self.set_fallbacks(fallbacks or {})
        for provider in table.provider_names():
            self._watch(provider)

    def set_fallbacks(self, fallbacks: Mapping[str, Iterable[str]]) -> None:
        self._fallbacks = {model: [tuple(t.split("/", 1)) for t in targets]  # type: ignore[misc]
                           for model, targets in fallbacks.items()}

    def set_providers(self, providers: Iterable) -> None:
        self.table.set_providers(providers)
        for provider in self.table.provider_names():
            self._watch(provider)

    def status(self) -> list[dict]:
        """Every provider's breaker: [{provider, state, failures, retry_in_seconds}]."""
        return self.breakers.snapshot(self.table.provider_names())

    def targets(self, model: str) -> list[tuple[str, str]]:
        """(provider, model) pairs to try, in order: the model's own provider, then its fallbacks."""
        own = self.table.provider_of(model)
        chain = [(own, model)] if own else []
        for provider, name in self._fallbacks.get(model, ()):
            if (provider, name) not in chain and self.table.provider(provider) is not None:
                chain.append((provider, name))
        return chain

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | UsageReport | AnsweredBy]:
        if request.own_key:
            async for chunk in self._own_key_stream(request):
                yield chunk
            return
        chain = self.targets(request.model)
        if not chain:
            raise InvalidRequest(f"Unknown model {request.model!r}.", reason="unknown_model")
        error: UpstreamError | None = None
        for n, (provider, model) in enumerate(chain):
            breaker = self.breakers.of(provider)
            self._watch(provider)
            if not breaker.allow():
                error = error or mark(UpstreamError(
                    f"The model provider {provider} is failing; it is rested for {breaker.retry_in():.0f} s before "
                    "it is tried again.", reason="upstream_unavailable", status=503), "provider")
                continue
            if n and self._metrics is not None:
                self._metrics.llm_failovers.labels(chain[0][0], provider).inc()
            announce = AnsweredBy(model, provider) if n else None
            try:
                async for chunk in self._attempts(provider, replace(request, model=model), announce, breaker):
                    yield chunk
                return
            except UpstreamError as exc:
                if getattr(exc, "answered", False) or failure_of(exc) == "request":
                    raise
                error = exc
                log.warning("model %s on provider %s failed (%s); %s", model, provider, exc.reason,
                            "trying the next provider" if n + 1 < len(chain) else "no provider left")
        assert error is not None
        raise error

    async def _attempts(self, provider: str, request: ModelRequest, announce: AnsweredBy | None, breaker,
                        api_key: str | None = None) -> AsyncIterator[TextDelta | UsageReport | AnsweredBy]:
        """Call one provider, retrying transient failures before the first token (and only then)."""
        retry = 0
        while True:
            answered = False
            try:
                async for chunk in self.table.stream_via(provider, request, api_key):
                    if not answered and isinstance(chunk, TextDelta):
                        answered = True
                        if announce is not None:
                            yield announce
                    yield chunk
            except UpstreamError as exc:
                exc.answered = answered or getattr(exc, "answered", False)  # type: ignore[attr-defined]
                if failure_of(exc) == "request":
                    breaker.success()   # the provider is up; the request was wrong
                    raise
                breaker.failure()
                if exc.answered or failure_of(exc) != "transient" or retry + 1 >= self.policy.attempts:
                    raise
                wait = self.policy.delay(retry, getattr(exc, "retry_after_seconds", None))
                if wait is None or not breaker.allow():
                    raise
                if self._metrics is not None:
                    self._metrics.llm_retries.labels(provider, exc.reason).inc()
                await self._sleep(wait)
                retry += 1
                continue
            breaker.success()
            return

    async def _own_key_stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | UsageReport | AnsweredBy]:
        """The user's own key on the model's own provider: retried like any call, never failed over (a fallback
        would spend the platform's or nobody's key)."""
        provider = self.table.provider_of(request.model)
        if provider is None:
            raise InvalidRequest(f"Unknown model {request.model!r}.", reason="unknown_model")
        key = await self.own_keys(request.user_id or "", provider) if self.own_keys else None
        if not key:
            error = UpstreamError(f"Your own API key for the model provider {provider} is gone; add it again "
                                  "or choose another model.", reason="own_key_missing", status=502)
            error.provider = provider  # type: ignore[attr-defined]  # named in the chat's text
            raise mark(error, "request")
        # A user's key has its own health: a private breaker, never the provider's shared one.
        async for chunk in self._attempts(provider, request, None, CircuitBreaker(threshold=10 ** 9), key):
            yield chunk

    def _watch(self, provider: str) -> None:
        """Report the provider's breaker state at every scrape (bot_llm_breaker_state)."""
        if self._metrics is not None and provider not in self._watched:
            self._watched.add(provider)
            breaker = self.breakers.of(provider)
            self._metrics.llm_breaker_state.labels(provider).set_function(lambda: STATE_NUMBER[breaker.state])

    async def close(self) -> None:
        await self.table.close()
