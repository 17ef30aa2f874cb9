"""/metrics: Prometheus text with request counts by route, model latency, tokens and model errors."""
from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from core.chat import ReplyFinished
from core.domain import Identity, InboundMessage
from core.errors import UpstreamError


def samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_count_requests_tokens_and_model_errors(start_app, config, fake_llm) -> None:
    running = await start_app(config)
    services = running.services
    user = await services.accounts.ensure_user(Identity("test", "m"))
    fake_llm.script(reply="abcdefgh", chunk_chars=4)
    events = [e async for e in services.engine.reply(InboundMessage(user.id, "hi"))]
    usage = events[-1].message.usage
    assert isinstance(events[-1], ReplyFinished)
    fake_llm.script(status=500)
    try:
        [e async for e in services.engine.reply(InboundMessage(user.id, "hi"))]
    except UpstreamError:
        pass
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.get(running.base_url + "/api/v1/status") as resp:
                assert resp.status == 200
        async with http.get(running.base_url + "/metrics") as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            got = samples(await resp.text())
    assert got[("bot_http_requests_total", (("method", "GET"), ("route", "/api/v1/status"), ("status", "200")))] == 3
    assert got[("bot_model_tokens_total", (("kind", "completion"), ("model", "test-model")))] == usage.completion_tokens
    assert got[("bot_model_tokens_total", (("kind", "prompt"), ("model", "test-model")))] == usage.prompt_tokens
    assert got[("bot_model_errors_total", (("model", "test-model"), ("reason", "upstream_error")))] == 1
    assert got[("bot_model_first_token_seconds_count", (("model", "test-model"),))] == 1
