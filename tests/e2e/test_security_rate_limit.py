"""The failure limiter: an atomic shared counter, 429 + Retry-After for guessing API keys, bearer tokens, OAuth
states and login QR tickets, and one limit across two workers (PostgreSQL, Redis)."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import pytest

from core.domain import Identity
from core.login import LoginScene
from tests.conftest import REDIS_URL, make_config
from tests.e2e.http_native import assert_error, serve
from tests.e2e.security_support import client_from, wrong_guesses
from tests.e2e.workers import shared_backends, start_workers, write_config
from tests.fakes.oauth_server import FakeOAuth


@pytest.fixture
async def postgres_store(postgres_url: str):
    """The EphemeralStore on a fresh PostgreSQL database."""
    from adapters.storage import db
    from adapters.storage.ephemeral import DatabaseEphemeralStore

    await db.open_database(postgres_url)
    yield DatabaseEphemeralStore()
    await db.close_database()


@pytest.fixture(params=["database_store", "postgres_store", "redis_store"])
def counter_store(request: pytest.FixtureRequest):
    """The EphemeralStore on SQLite, PostgreSQL and Redis."""
    return request.getfixturevalue(request.param)


async def test_the_counter_loses_no_count_when_many_add_at_once(counter_store) -> None:
    counts = await asyncio.gather(*(counter_store.incr("t", "k", 60) for _ in range(40)))
    assert sorted(counts) == list(range(1, 41))
    assert await counter_store.incr("t", "k", 60, -1) == 39
    assert await counter_store.incr("t", "other", 60) == 1


@pytest.fixture
async def api(start_app, config):
    async with serve(start_app, config) as client:
        yield client


async def test_guessing_api_keys_and_forging_tokens_gets_429(api) -> None:
    alice, _ = await api.new_user()
    async with client_from("127.0.0.2", api.base_url) as attacker:
        for n in range(5):
            assert_error(await attacker.get("/me", headers={"X-API-Key": f"bk_guess{n}"}), 401)
            assert_error(await attacker.get("/me", headers={"Authorization": f"Bearer v1.forged{n}.sig"}), 401)
        refused = await attacker.get("/me", headers={"X-API-Key": "bk_guess-eleven"})
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 120
        assert_error(await attacker.get("/me", headers={"X-API-Key": "admin-guess"}), 429)   # admin keys too
        # A valid key is never refused: nobody behind the same address is locked out by another's guesses.
        assert (await attacker.get("/me", headers=alice.headers)).status == 200
    async with client_from("127.0.0.3", api.base_url) as other:
        assert_error(await other.get("/me", headers={"X-API-Key": "bk_guess"}), 401)


async def test_unknown_qr_tickets_are_limited_but_pending_polls_are_not(api) -> None:
    await api.services.qr_login.open(LoginScene("login_s", "ticket-live"))
    async with client_from("127.0.0.2", api.base_url) as poller:
        for _ in range(25):
            assert_error(await poller.post("/auth/token", {"qrcode": "ticket-live"}), 401, "pending")
        for n in range(10):
            assert_error(await poller.post("/auth/token", {"qrcode": f"guess-{n}"}), 401, "invalid_qrcode")
        refused = await poller.post("/auth/token", {"qrcode": "ticket-live"})
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) >= 1
    user = await api.services.accounts.ensure_user(Identity("wechat", "o-1"))
    await api.services.qr_login.mark_scanned("login_s", user.id)
    assert await api.services.qr_login.confirm(user.id)
    async with client_from("127.0.0.3", api.base_url) as browser:   # the real browser, elsewhere
        assert (await browser.post("/auth/token", {"qrcode": "ticket-live"})).body["user_id"] == user.id


async def test_forged_oauth_states_are_limited(start_app, tmp_path, fake_llm) -> None:
    async with FakeOAuth() as oauth:
        config = make_config(tmp_path, fake_llm.base_url, security={
            "admin_api_keys": ["admin-key"], "token_secret": "s" * 32,
            "oauth_providers": [oauth.provider_config("octo")]})
        async with serve(start_app, config) as api:
            async with client_from("127.0.0.2", api.base_url) as attacker:
                for n in range(10):
                    reply = await attacker.get(f"/auth/oauth/callback?code=c{n}&state=forged{n}")
                    assert_error(reply, 400, "invalid_state")
                assert_error(await attacker.get("/auth/oauth/callback?code=c&state=x"), 429, "rate_limited")
            assert oauth.token_requests == []      # no forged callback reached the provider


@pytest.mark.parametrize("shared_store", ["postgresql", "redis"])
async def test_the_limit_holds_across_two_workers(tmp_path: Path, shared_store: str) -> None:
    from bot.wiring import open_services

    async with shared_backends() as backends:
        redis = {"url": REDIS_URL, "key_prefix": backends.redis_prefix} if shared_store == "redis" else {}
        config = make_config(tmp_path, database_url=backends.database_url, redis=redis)
        a, b = await start_workers(write_config(tmp_path / "config.yaml", config), tmp_path)
        try:
            # The victim's code, made as a chat's /link makes it, on the same database and store.
            async with open_services(config, background=False) as services:
                victim = await services.accounts.ensure_user(Identity("telegram", uuid.uuid4().hex))
                code = await services.accounts.new_link_code(victim.id)
            async with aiohttp.ClientSession() as http:
                async def token(worker, code: str) -> tuple[int, dict]:
                    async with http.post(worker.url + "/api/v1/auth/token", json={"magic_code": code}) as resp:
                        return resp.status, await resp.json()

                guesses = wrong_guesses(code, 10, same_slot=False)
                statuses = [(await token((a, b)[n % 2], guess))[0] for n, guess in enumerate(guesses)]
                assert statuses == [400] * 10     # five failures on each worker
                for worker in (a, b):             # ...are ten on both: the right code is refused on either
                    status, body = await token(worker, code)
                    assert (status, body["error"]["reason"]) == (429, "rate_limited")
                for n, worker in enumerate((a, b)):   # API-key guesses are counted across workers too
                    for k in range(5):
                        async with http.get(worker.url + "/api/v1/me", headers={"X-API-Key": f"bk_{n}{k}"}) as resp:
                            assert resp.status == 401
                async with http.get(a.url + "/api/v1/me", headers={"X-API-Key": "bk_x"}) as resp:
                    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
        finally:
            await asyncio.gather(a.stop(), b.stop())


async def test_guessing_dify_app_keys_gets_429(start_app, tmp_path, fake_llm) -> None:
    """Dify app keys are credentials too: guessing them is limited per address, the real key keeps working."""
    from tests.e2e.dify_client import APP_KEY, dify_config

    config = dify_config(tmp_path, fake_llm)
    async with serve(start_app, config) as api:
        async with client_from("127.0.0.4", api.base_url) as attacker:
            http, url = attacker.http, api.base_url + "/dify/v1/parameters"
            for n in range(10):
                async with http.get(url, headers={"Authorization": f"Bearer app-guess-{n}"}) as resp:
                    assert resp.status == 401 and (await resp.json())["code"] == "unauthorized"
            async with http.get(url, headers={"Authorization": "Bearer app-guess-eleven"}) as resp:
                body = await resp.json()
                assert resp.status == 429 and body["code"] == "rate_limit_error", body
                assert 1 <= int(resp.headers["Retry-After"]) <= 120
            async with http.get(url, headers={"Authorization": f"Bearer {APP_KEY}"}) as resp:
                assert resp.status == 200     # a valid key is never refused
        async with client_from("127.0.0.5", api.base_url) as other:
            async with other.http.get(url, headers={"Authorization": "Bearer app-guess"}) as resp:
                assert resp.status == 401
