"""Keys users bring (seed 003): PUT/GET/DELETE /me/llm-keys/{provider}; checked with the provider when saved,
sealed at rest (not in the SQLite file as text), shown as the last 4; answers made with them are not charged
(or the platform fee), and a revoked key fails naming the provider, never using another key."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.e2e.http_native import assert_error, serve
from tests.e2e.test_llm_failover import failover_config
from tests.fakes.openai_server import FakeOpenAI, prompt_tokens_of

OWN = "sk-alice-own-key-4242"


@pytest.fixture
async def backup():
    async with FakeOpenAI(api_key="sk-backup", models=["backup-model"]) as fake:
        yield fake


def _config(tmp_path, fake_llm, backup, **llm):
    config = failover_config(tmp_path, fake_llm.base_url, backup.base_url)
    for key, value in llm.items():
        setattr(config.llm, key, value)
    return config


@pytest.fixture
async def api(start_app, tmp_path, fake_llm, backup):
    async with serve(start_app, _config(tmp_path, fake_llm, backup)) as client:
        yield client


async def _ask(user) -> dict:
    cid = (await user.post("/conversations")).body["id"]
    return (await user.post(f"/conversations/{cid}/messages", {"content": "Hi"})).body


async def _usage(user) -> list[dict]:
    return [e for e in (await user.get("/me/ledger")).body["data"] if e["kind"] == "usage"]


async def test_a_saved_key_is_checked_shown_as_its_last_4_and_answers_free(api, fake_llm, tmp_path: Path) -> None:
    alice, _ = await api.new_user("alice")
    fake_llm.keys.add(OWN)
    saved = await alice.call("PUT", "/me/llm-keys/main", {"api_key": OWN})
    assert saved.status == 200 and saved.body["provider"] == "main" and saved.body["api_key"] == "…4242"
    assert fake_llm.received[-1][0] == "/v1/models" and fake_llm.authorizations[-1] == OWN  # checked with it
    assert (await alice.get("/me/llm-keys/main")).body["api_key"] == "…4242"
    assert [k["api_key"] for k in (await alice.get("/me/llm-keys")).body["data"]] == ["…4242"]
    answer = await _ask(alice)
    assert answer["status"] == "complete" and answer["cost"] == 0 and answer["usage"]["total_tokens"] > 0
    assert fake_llm.authorizations[-1] == OWN
    [entry] = await _usage(alice)
    assert entry["amount"] == 0 and entry["ref"] == f"own_key:{answer['id']}"
    assert (await alice.get("/me")).body["balance"] == 1000
    # Another user is answered with the platform's key, and charged.
    bob, _ = await api.new_user("bob")
    theirs = await _ask(bob)
    assert fake_llm.authorizations[-1] == "sk-test" and theirs["cost"] > 0
    # The key is not in the database file as text.
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("bot.db*"))
    assert b"user_llm_keys" in stored and OWN.encode() not in stored and b"4242" in stored
    # Forgotten: back to the platform's key and its price.
    assert (await alice.delete("/me/llm-keys/main")).status == 204
    assert_error(await alice.get("/me/llm-keys/main"), 404, "not_found")
    assert (await _ask(alice))["cost"] > 0 and fake_llm.authorizations[-1] == "sk-test"


async def test_a_wrong_key_is_refused_naming_the_provider_and_not_stored(api, fake_llm) -> None:
    alice, _ = await api.new_user("alice")
    reply = await alice.call("PUT", "/me/llm-keys/main", {"api_key": "sk-not-a-real-key"})
    assert_error(reply, 400, "invalid_api_key")
    assert "main" in reply.body["error"]["message"]
    assert_error(await alice.get("/me/llm-keys/main"), 404, "not_found")
    assert_error(await alice.call("PUT", "/me/llm-keys/nope", {"api_key": OWN}), 404, "not_found")
    assert_error(await alice.call("PUT", "/me/llm-keys/main", {}), 400, "invalid_request")
    assert_error(await api.call("PUT", "/me/llm-keys/main", {"api_key": OWN}), 401, "unauthorized")


async def test_a_revoked_key_fails_naming_the_provider_and_never_uses_another_key(api, fake_llm, backup) -> None:
    alice, _ = await api.new_user("alice")
    fake_llm.keys.add(OWN)
    assert (await alice.call("PUT", "/me/llm-keys/main", {"api_key": OWN})).status == 200
    fake_llm.keys.discard(OWN)  # revoked at the provider
    before = len(fake_llm.authorizations)
    cid = (await alice.post("/conversations")).body["id"]
    reply = await alice.post(f"/conversations/{cid}/messages", {"content": "Hi"})
    assert reply.status == 502 and reply.body["error"]["reason"] == "own_key_rejected"
    assert "main" in reply.body["error"]["message"] and "your own API key" in reply.body["error"]["message"]
    # Only ever the user's key; no fall-over to the backup provider (test-model has one) or the platform key.
    assert set(fake_llm.authorizations[before:]) == {OWN} and backup.chat_requests == []
    assert await _usage(alice) == [] and (await alice.get("/me")).body["balance"] == 1000


async def test_the_platform_fee_is_charged_per_token(start_app, tmp_path, fake_llm, backup) -> None:
    async with serve(start_app, _config(tmp_path, fake_llm, backup, byok_fee_weight=0.5)) as api:
        alice, _ = await api.new_user("alice")
        fake_llm.keys.add(OWN)
        await alice.call("PUT", "/me/llm-keys/main", {"api_key": OWN})
        models = {m["name"]: m for m in (await alice.get("/models")).body["data"]}
        assert (models["test-model"]["own_key"], models["test-model"]["input_weight"]) == (True, 0.5)
        assert (models["backup-model"]["own_key"], models["backup-model"]["input_weight"]) == (False, 3.0)
        fake_llm.script(reply="abcdefgh", chunk_chars=4)
        answer = await _ask(alice)
        prompt = prompt_tokens_of(fake_llm.chat_requests[-1]["messages"])
        assert answer["cost"] == math.ceil(prompt * 0.5 + 2 * 0.5)
        assert (await alice.get("/me")).body["balance"] == 1000 - answer["cost"]
