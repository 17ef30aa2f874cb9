"""Model providers over the API (seed 003): admin CRUD at /llm-providers, stored in the database (the key sealed),
live without a restart; config.yaml's providers listed as `source: "config"` and read-only."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.e2e.http_native import ADMIN, assert_error, serve
from tests.fakes.openai_server import FakeOpenAI, prompt_tokens_of

EXTRA_KEY = "sk-extra-provider-9f3a"


@pytest.fixture
async def extra():
    async with FakeOpenAI(api_key=EXTRA_KEY, models=["extra-model"]) as fake:
        yield fake


@pytest.fixture
async def api(start_app, tmp_path, fake_llm):
    async with serve(start_app, make_config(tmp_path, fake_llm.base_url)) as client:
        yield client


def _body(extra: FakeOpenAI, **changes) -> dict:
    return {"name": "extra", "base_url": extra.base_url, "api_key": EXTRA_KEY, "timeout_seconds": 5,
            "models": [{"name": "extra-model", "input_weight": 2.0, "output_weight": 3.0, "context_window": 4096,
                        "max_output_tokens": 50}], **changes}


async def _answer(user, model: str, extra: FakeOpenAI) -> tuple[dict, int]:
    cid = (await user.post("/conversations", {"model": model})).body["id"]
    answer = (await user.post(f"/conversations/{cid}/messages", {"content": "Hello"})).body
    return answer, prompt_tokens_of(extra.chat_requests[-1]["messages"]) if extra.chat_requests else 0


async def test_an_added_provider_answers_at_once_and_changes_apply_live(api, extra, fake_llm) -> None:
    admin = api.as_(ADMIN)
    made = await admin.post("/llm-providers", _body(extra))
    assert made.status == 201, made.body
    assert made.body["api_key"] == "…9f3a" and made.body["source"] == "database"
    assert made.body["models"][0] == {"name": "extra-model", "input_weight": 2.0, "output_weight": 3.0,
                                      "context_window": 4096, "max_output_tokens": 50, "vision": False}
    listed = {p["name"]: p for p in (await admin.get("/llm-providers")).body["data"]}
    assert listed["fake"]["source"] == "config" and listed["fake"]["api_key"] == "…test"
    assert listed["extra"]["api_key"] == "…9f3a" and EXTRA_KEY not in str(listed)
    user, _ = await api.new_user()
    assert "extra-model" in [m["name"] for m in (await user.get("/models")).body["data"]]
    extra.script(reply="from extra", chunk_chars=5)
    answer, prompt = await _answer(user, "extra-model", extra)
    assert (answer["content"], answer["model"]) == ("from extra", "extra-model") and fake_llm.chat_requests == []
    assert answer["cost"] == math.ceil(prompt * 2.0 + 2 * 3.0)
    assert extra.authorizations[-1] == EXTRA_KEY
    # New weights and a new key, live.
    extra.keys.add("sk-rotated-key-7777")
    changed = await admin.patch("/llm-providers/extra", {"api_key": "sk-rotated-key-7777", "models": [
        {"name": "extra-model", "input_weight": 5.0, "output_weight": 7.0, "max_output_tokens": 20}]})
    assert changed.status == 200 and changed.body["api_key"] == "…7777"
    extra.script(reply="again", chunk_chars=5)
    answer, prompt = await _answer(user, "extra-model", extra)
    assert answer.get("cost") == math.ceil(prompt * 5.0 + 1 * 7.0), answer
    assert extra.authorizations[-1] == "sk-rotated-key-7777"
    # Removed: the model is gone at once.
    assert (await admin.delete("/llm-providers/extra")).status == 204
    assert_error(await admin.get("/llm-providers/extra"), 404, "not_found")
    assert_error(await user.post("/conversations", {"model": "extra-model"}), 400, "unknown_model")


async def test_config_providers_are_read_only_and_names_are_unique(api, extra) -> None:
    admin = api.as_(ADMIN)
    for reply in (await admin.patch("/llm-providers/fake", {"timeout_seconds": 3}),
                  await admin.delete("/llm-providers/fake")):
        assert_error(reply, 409, "read_only_provider")
        assert "config.yaml" in reply.body["error"]["message"]
    assert_error(await admin.post("/llm-providers", _body(extra, name="fake")), 409, "already_exists")
    taken = _body(extra, models=[{"name": "test-model"}])
    assert_error(await admin.post("/llm-providers", taken), 409, "model_taken")
    assert (await admin.post("/llm-providers", _body(extra))).status == 201
    assert_error(await admin.post("/llm-providers", _body(extra)), 409, "already_exists")
    assert_error(await admin.get("/llm-providers/nope"), 404, "not_found")


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "base_url": "ftp://host", "models": [{"name": "m"}]}, "base_url"),
    ({"name": "x y", "base_url": "http://127.0.0.1:1/v1", "models": [{"name": "m"}]}, "name"),
    ({"name": "x", "base_url": "http://127.0.0.1:1/v1", "models": []}, "models"),
    ({"name": "x", "base_url": "http://127.0.0.1:1/v1", "models": [{"name": "m", "input_weight": -1}]}, "input_weight"),
])
async def test_bad_provider_bodies_name_the_field(api, body, field) -> None:
    reply = await api.as_(ADMIN).post("/llm-providers", body)
    assert_error(reply, 400, "invalid_request")
    assert field in reply.body["error"]["message"]


async def test_only_admins_manage_providers_and_keys_are_sealed_at_rest(api, extra, tmp_path: Path) -> None:
    user, _ = await api.new_user()
    assert_error(await user.get("/llm-providers"), 403, "forbidden")
    assert_error(await user.post("/llm-providers", _body(extra)), 403, "forbidden")
    assert (await api.as_(ADMIN).post("/llm-providers", _body(extra))).status == 201
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("bot.db*"))
    assert b"llm_providers" in stored and EXTRA_KEY.encode() not in stored
