"""Whose address a failure counts against: the TCP peer, or behind a trusted proxy the forwarded client.

Addresses in X-Forwarded-For are only header text here (documentation ranges); all traffic stays on 127.0.0.0/8."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, parse_config
from core.domain import Identity
from tests.conftest import make_config
from tests.e2e.http_native import assert_error, serve
from tests.e2e.security_support import client_from, wrong_guesses


async def _fail_ten_times(client, code: str, headers: dict | None = None) -> None:
    for guess in wrong_guesses(code, 10, same_slot=False):
        reply = await client.post("/auth/token", {"magic_code": guess}, headers=headers)
        assert_error(reply, 400, "invalid_code")


async def _code(api, external_id: str) -> str:
    user = await api.services.accounts.ensure_user(Identity("telegram", external_id))
    return await api.services.accounts.new_link_code(user.id)


async def test_a_forged_forwarded_for_from_an_untrusted_peer_buys_nothing(start_app, tmp_path, fake_llm) -> None:
    # The shipped setup trusts the local nginx only; this attacker connects from elsewhere.
    config = make_config(tmp_path, fake_llm.base_url, server={"trusted_proxies": ["127.0.0.1"]})
    async with serve(start_app, config) as api:
        code = await _code(api, "1")
        async with client_from("127.0.0.2", api.base_url) as attacker:
            for n, guess in enumerate(wrong_guesses(code, 10, same_slot=False)):
                forged = {"X-Forwarded-For": f"203.0.113.{n + 1}"}   # a new "client" every time
                assert_error(await attacker.post("/auth/token", {"magic_code": guess}, headers=forged), 400)
            reply = await attacker.post("/auth/token", {"magic_code": code},
                                        headers={"X-Forwarded-For": "198.51.100.99"})
            assert_error(reply, 429, "rate_limited")
        assert await api.services.ephemeral.get("magic", code) is not None   # not spent


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(start_app, tmp_path, fake_llm) -> None:
    config = make_config(tmp_path, fake_llm.base_url, server={"trusted_proxies": ["127.0.0.0/30"]})
    async with serve(start_app, config) as proxy:   # connects from 127.0.0.1, like nginx on the same host
        code = await _code(proxy, "2")
        mallory = {"X-Forwarded-For": "203.0.113.5"}
        await _fail_ten_times(proxy, code, mallory)
        assert_error(await proxy.post("/auth/token", {"magic_code": code}, headers=mallory), 429, "rate_limited")
        # Mallory writes her own X-Forwarded-For: nginx appends the address it saw, the right-most one counts.
        spoofed = {"X-Forwarded-For": "192.0.2.77, 203.0.113.5"}
        assert_error(await proxy.post("/auth/token", {"magic_code": code}, headers=spoofed), 429, "rate_limited")
        # Two trusted proxies in a row (a CDN hop inside the trusted range): still Mallory's bucket.
        chained = {"X-Forwarded-For": "203.0.113.5, 127.0.0.2"}
        assert_error(await proxy.post("/auth/token", {"magic_code": code}, headers=chained), 429, "rate_limited")
        # Everyone else behind the same proxy is unaffected: one bucket is not shared by every user.
        reply = await proxy.post("/auth/token", {"magic_code": code}, headers={"X-Forwarded-For": "198.51.100.8"})
        assert reply.status == 200, reply.body


async def test_without_trusted_proxies_the_peer_address_counts(start_app, tmp_path, fake_llm) -> None:
    async with serve(start_app, make_config(tmp_path, fake_llm.base_url)) as api:
        code = await _code(api, "3")
        await _fail_ten_times(api, code, {"X-Forwarded-For": "203.0.113.5"})
        other_client = {"X-Forwarded-For": "198.51.100.8"}   # not believed: 127.0.0.1 is no trusted proxy
        assert_error(await api.post("/auth/token", {"magic_code": code}, headers=other_client), 429)
        async with client_from("127.0.0.4", api.base_url) as elsewhere:
            assert (await elsewhere.post("/auth/token", {"magic_code": code})).status == 200


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "nginx", "300.1.1.1"])
def test_trusted_proxies_must_be_addresses_or_networks(bad: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"server": {"trusted_proxies": [bad]}}, env={})
    assert "server.trusted_proxies" in str(e.value)


def test_the_shipped_config_trusts_the_shipped_nginx_only() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {k: "x" for k in ("PUBLIC_URL", "ADMIN_API_KEY", "TOKEN_SECRET", "OPENAI_API_KEY")}
    env.update(DATABASE_URL="postgres://u@db/bot", REDIS_URL="redis://redis:6379/0")
    config = parse_config(yaml.safe_load((root / "deploy/config.prod.yaml").read_text()), env=env)
    compose = yaml.safe_load((root / "deploy/docker-compose.yml").read_text())
    nginx = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    assert config.server.trusted_proxies == ["127.0.0.1", nginx]   # nginx on the host, or its container
    assert "$proxy_add_x_forwarded_for" in (root / "deploy/nginx.conf").read_text()
