"""InstrumentedChatModel: a ChatModel that records latency, tokens and errors, around any other ChatModel."""
from __future__ import annotations

import time
from typing import AsyncIterator

from adapters.metrics import Metrics
from core.errors import DomainError
from core.ports import ChatModel, ModelRequest, TextDelta, UsageReport


class InstrumentedChatModel:
    def __init__(self, inner: ChatModel, metrics: Metrics):
        self._inner = inner
        self._metrics = metrics

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | UsageReport]:
        m, model = self._metrics, request.model
        start = time.perf_counter()
        first = True
        try:
            async for chunk in self._inner.stream(request):
                if first and isinstance(chunk, TextDelta):
                    m.model_first_token.labels(model).observe(time.perf_counter() - start)
                    first = False
                if isinstance(chunk, UsageReport):
                    m.model_tokens.labels(model, "prompt").inc(chunk.usage.prompt_tokens)
                    m.model_tokens.labels(model, "completion").inc(chunk.usage.completion_tokens)
                yield chunk
        except DomainError as e:
            m.model_errors.labels(model, e.reason).inc()
            raise
        finally:
            m.model_duration.labels(model).observe(time.perf_counter() - start)

    async def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            await close()
