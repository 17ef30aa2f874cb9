"""Native API auth over real HTTP: admin keys, POST /users, API keys, bearer tokens, magic codes and login QRs."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from core.auth import TokenSigner
from core.domain import Identity
from core.login import LoginScene
from tests.conftest import make_config
from tests.e2e.http_native import ADMIN, assert_error, serve


@pytest.fixture
async def api(start_app, config):
    async with serve(start_app, config) as client:
        yield client


async def test_admin_creates_a_user_with_the_signup_grant_and_a_working_key(api) -> None:
    alice, user = await api.new_user("alice")
    assert user["name"] == "alice" and user["balance"] == 1000 and user["identities"] == []
    me = await alice.get("/me")
    assert me.status == 200 and me.body["id"] == user["id"]
    assert me.body["storage"] == {"used_bytes": 0, "limit_bytes": 5 * 1024 * 1024}
    ledger = await alice.get("/me/ledger")
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger.body["data"]] == [("grant", 1000, 1000)]
    assert ledger.body["data"][0]["created_at"].endswith("Z")


@pytest.mark.parametrize("headers, status", [
    ({}, 401), ({"X-API-Key": "wrong"}, 401), ({"Authorization": "Bearer nonsense"}, 401),
    ({"Authorization": "Basic YWxpY2U6cHc="}, 401), ("user", 403)])
async def test_only_an_admin_creates_users(api, headers, status) -> None:
    if headers == "user":
        user_api, _ = await api.new_user("bob")
        headers = user_api.headers
    reply = await api.post("/users", {"name": "mallory"}, headers=headers)
    assert_error(reply, status)
    from adapters.storage.models import UserRow

    assert not await UserRow.filter(name="mallory").exists()  # nothing happened


async def test_an_admin_key_alone_is_not_a_user(api) -> None:
    assert_error(await api.as_(ADMIN).get("/me"), 403, "forbidden")
    assert_error(await api.get("/me"), 401, "unauthorized")


async def test_api_key_rotation_and_revocation(api) -> None:
    alice, user = await api.new_user()
    old = alice.headers["X-API-Key"]
    rotated = await alice.post("/api-keys")
    assert rotated.status == 201 and rotated.body["api_key"] != old
    assert_error(await alice.get("/me"), 401)  # the old key stopped working
    fresh = api.as_({"X-API-Key": rotated.body["api_key"]})
    assert (await fresh.get("/me")).body["id"] == user["id"]
    assert (await fresh.delete("/api-keys")).status == 204
    assert_error(await fresh.get("/me"), 401)


async def test_keys_are_stored_only_as_hashes(api) -> None:
    from adapters.storage.models_auth import ApiKeyRow

    alice, user = await api.new_user()
    row = await ApiKeyRow.get(user_id=user["id"])
    key = alice.headers["X-API-Key"]
    assert key not in (row.key_hash, row.hint) and len(row.key_hash) == 64


async def test_magic_code_login_gives_a_bearer_token_once(api) -> None:
    tg = await api.services.accounts.ensure_user(Identity("telegram", "42"), "Tele")
    code = await api.services.accounts.new_link_code(tg.id)
    reply = await api.post("/auth/token", {"magic_code": code.lower()})
    assert reply.status == 200 and reply.body["type"] == "Bearer" and reply.body["user_id"] == tg.id
    assert reply.body["expiry"].endswith("Z")
    me = await api.get("/me", headers={"Authorization": f"Bearer {reply.body['token']}"})
    assert me.body["id"] == tg.id and me.body["identities"] == [{"channel": "telegram", "external_id": "42"}]
    assert_error(await api.post("/auth/token", {"magic_code": code}), 400, "invalid_code")


async def test_a_signed_in_caller_redeeming_a_code_joins_the_accounts(api) -> None:
    tg = await api.services.accounts.ensure_user(Identity("telegram", "7"), "Tele")
    web, web_user = await api.new_user("web")
    code = await api.services.accounts.new_link_code(tg.id)
    reply = await web.post("/auth/token", {"magic_code": code})
    assert reply.status == 200 and reply.body["user_id"] == tg.id
    joined = await api.get("/me", headers={"Authorization": f"Bearer {reply.body['token']}"})
    assert joined.body["balance"] == 2000  # both signup grants, kept


async def test_qr_login_is_pending_until_scanned_then_used_once(api) -> None:
    user = await api.services.accounts.ensure_user(Identity("wechat", "openid-1"), "W")
    await api.services.qr_login.open(LoginScene("scene-1", "ticket-1"))
    assert_error(await api.post("/auth/token", {"qrcode": "ticket-1"}), 401, "pending")
    assert await api.services.qr_login.mark_scanned("scene-1", user.id)
    assert_error(await api.post("/auth/token", {"qrcode": "ticket-1"}), 401, "pending")  # not yet confirmed
    assert await api.services.qr_login.confirm(user.id)
    reply = await api.post("/auth/token", {"qrcode": "ticket-1"})
    assert reply.status == 200 and reply.body["user_id"] == user.id
    assert_error(await api.post("/auth/token", {"qrcode": "ticket-1"}), 401, "invalid_qrcode")


@pytest.mark.parametrize("body, field", [({}, "body"), ({"magic_code": "A", "qrcode": "B"}, "body"),
                                         ({"magic_code": 5}, "magic_code"), ({"code": "X"}, "code")])
async def test_token_request_body_errors_name_the_field(api, body, field) -> None:
    reply = await api.post("/auth/token", body)
    assert_error(reply, 400, "invalid_request")
    assert field in reply.body["error"]["message"]


async def test_expired_forged_and_malformed_tokens_are_refused(api, config) -> None:
    _, user = await api.new_user()
    secret, ttl = config.security.token_secret, config.security.token_ttl
    valid = TokenSigner(secret, ttl).issue(user["id"]).token
    assert (await api.get("/me", headers={"Authorization": f"Bearer {valid}"})).status == 200
    expired = TokenSigner(secret, ttl).issue(user["id"], now=time.time() - ttl - 5).token
    reply = await api.get("/me", headers={"Authorization": f"Bearer {expired}"})
    assert_error(reply, 401, "unauthorized")
    assert "expired" in reply.body["error"]["message"]
    forged = TokenSigner("another-secret-entirely", ttl).issue(user["id"]).token
    version, payload, signature = valid.split(".")
    other = TokenSigner(secret, ttl).issue("someone-else").token.split(".")[1]
    for bad in (forged, f"{version}.{other}.{signature}", valid[:-2], "v1..", "v2." + valid[3:]):
        assert_error(await api.get("/me", headers={"Authorization": f"Bearer {bad}"}), 401, "unauthorized")


async def test_tokens_are_refused_without_a_secret_and_the_code_is_kept(start_app, tmp_path, fake_llm) -> None:
    config = make_config(tmp_path, fake_llm.base_url, security={"admin_api_keys": ["admin-key"], "token_secret": ""})
    async with serve(start_app, config) as api:
        user = await api.services.accounts.ensure_user(Identity("telegram", "9"))
        code = await api.services.accounts.new_link_code(user.id)
        reply = await api.post("/auth/token", {"magic_code": code})
        assert_error(reply, 503, "tokens_disabled")
        assert "token_secret" in reply.body["error"]["message"]
        assert await api.services.ephemeral.get("magic", code) == user.id
        # Even a token signed with the empty secret is refused: there is no secret to check it with.
        claims = json.dumps({"sub": user.id, "exp": int(time.time()) + 99}).encode()
        payload = base64.urlsafe_b64encode(claims).decode().rstrip("=")
        digest = hmac.new(b"", f"v1.{payload}".encode(), hashlib.sha256).digest()
        token = f"v1.{payload}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"
        assert TokenSigner("", 60)._sign(payload) == token.split(".")[2]  # the token is well made
        assert_error(await api.get("/me", headers={"Authorization": f"Bearer {token}"}), 401)


async def test_the_api_on_sqlite_and_postgresql(start_app, tmp_path, fake_llm, database_url) -> None:
    config = make_config(tmp_path, fake_llm.base_url, database_url=database_url)
    async with serve(start_app, config) as api:
        alice, user = await api.new_user()
        rotated = await alice.post("/api-keys")
        alice = api.as_({"X-API-Key": rotated.body["api_key"]})
        code = await api.services.accounts.new_link_code(user["id"])
        token = (await api.post("/auth/token", {"magic_code": code})).body["token"]
        bearer = api.as_({"Authorization": f"Bearer {token}"})
        conv = (await bearer.post("/conversations", {"title": "pg"})).body
        answer = await alice.post(f"/conversations/{conv['id']}/messages", {"content": "hello"})
        assert answer.status == 200 and answer.body["status"] == "complete"
        order = await bearer.post("/orders", {"product_id": "starter"})
        assert order.status == 201
        assert (await alice.get("/me")).body["balance"] == 1000 - answer.body["cost"]
        assert (await alice.delete("/api-keys")).status == 204
        assert_error(await alice.get("/me"), 401)
