"""The app factory serves /api/v1/status over real HTTP."""
from __future__ import annotations

import aiohttp


async def test_status_reports_database(start_app, config) -> None:
    running = await start_app(config)
    async with aiohttp.ClientSession() as http:
        async with http.get(running.base_url + "/api/v1/status") as resp:
            assert resp.status == 200
            body = await resp.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["version"]


async def test_unknown_route_uses_the_error_shape(start_app, config) -> None:
    running = await start_app(config)
    async with aiohttp.ClientSession() as http:
        async with http.get(running.base_url + "/api/v1/nope") as resp:
            assert resp.status == 404
            body = await resp.json()
    assert body["error"] == {"code": 404, "reason": "not_found", "message": body["error"]["message"]}
    assert body["correlationId"]


async def test_status_reports_redis_when_configured(start_app, tmp_path, fake_llm, redis_url, redis_prefix) -> None:
    from tests.conftest import make_config

    running = await start_app(make_config(tmp_path, fake_llm.base_url,
                                          redis={"url": redis_url, "key_prefix": redis_prefix}))
    async with aiohttp.ClientSession() as http:
        async with http.get(running.base_url + "/api/v1/status") as resp:
            body = await resp.json()
    assert resp.status == 200 and body["redis"] == "ok" and body["database"] == "ok"
    assert type(running.services.ephemeral).__name__ == "RedisEphemeralStore"
