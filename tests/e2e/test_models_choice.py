"""Choosing a model over real HTTP: GET /models, a conversation's model (set and cleared), a role's model, and a
message's own model winning; every answer goes to the chosen model's provider and is priced by its weights."""
from __future__ import annotations

import math

import pytest

from tests.e2e.http_native import ADMIN, assert_error, serve
from tests.e2e.test_llm_failover import failover_config
from tests.fakes.openai_server import FakeOpenAI, prompt_tokens_of


@pytest.fixture
async def backup():
    async with FakeOpenAI(api_key="sk-backup", models=["backup-model"], vision_models=["backup-model"]) as fake:
        yield fake


@pytest.fixture
async def api(start_app, tmp_path, fake_llm, backup):
    config = failover_config(tmp_path, fake_llm.base_url, backup.base_url)
    config.llm.providers[1].models[0].vision = True
    async with serve(start_app, config) as client:
        yield client


async def test_models_lists_name_provider_weights_vision_and_sizes(api) -> None:
    user, _ = await api.new_user()
    for caller in (user, api.as_(ADMIN)):
        reply = await caller.get("/models")
        assert reply.status == 200 and reply.body["has_more"] is False
        assert reply.body["data"] == [
            {"name": "backup-model", "provider": "backup", "input_weight": 3.0, "output_weight": 5.0, "vision": True,
             "context_window": 8192, "max_output_tokens": 100, "default": False, "own_key": False},
            {"name": "test-model", "provider": "main", "input_weight": 1.0, "output_weight": 2.0, "vision": False,
             "context_window": 8192, "max_output_tokens": 100, "default": True, "own_key": False}]
    assert_error(await api.get("/models"), 401, "unauthorized")


async def test_a_conversation_answers_with_its_model_until_cleared(api, fake_llm, backup) -> None:
    user, _ = await api.new_user()
    created = await user.post("/conversations", {"model": "backup-model"})
    assert created.status == 201 and created.body["model"] == "backup-model"
    cid = created.body["id"]
    backup.script(reply="from backup", chunk_chars=4)
    answer = (await user.post(f"/conversations/{cid}/messages", {"content": "Hi"})).body
    assert answer["model"] == "backup-model" and answer["content"] == "from backup"
    prompt = prompt_tokens_of(backup.chat_requests[-1]["messages"])
    assert answer["cost"] == math.ceil(prompt * 3.0 + 3 * 5.0) and fake_llm.chat_requests == []
    # A message naming a model wins over the conversation's.
    named = (await user.post(f"/conversations/{cid}/messages", {"content": "And?", "model": "test-model"})).body
    assert named["model"] == "test-model" and len(fake_llm.chat_requests) == 1
    cleared = await user.patch(f"/conversations/{cid}", {"model": None})
    assert cleared.status == 200 and cleared.body["model"] is None
    assert (await user.post(f"/conversations/{cid}/messages", {"content": "Now"})).body["model"] == "test-model"
    assert (await user.get(f"/conversations/{cid}")).body["model"] is None


async def test_unknown_models_are_refused_with_the_list(api) -> None:
    user, _ = await api.new_user()
    reply = await user.post("/conversations", {"model": "gpt-nope"})
    assert_error(reply, 400, "unknown_model")
    assert "backup-model" in reply.body["error"]["message"]
    cid = (await user.post("/conversations")).body["id"]
    assert_error(await user.patch(f"/conversations/{cid}", {"model": "gpt-nope"}), 400, "unknown_model")
    assert_error(await api.as_(ADMIN).post("/roles", {"name": "x", "system_prompt": "y", "model": "gpt-nope"}),
                 400, "unknown_model")


async def test_a_role_names_its_default_model(api, fake_llm, backup) -> None:
    admin = api.as_(ADMIN)
    made = await admin.post("/roles", {"name": "poet", "system_prompt": "Write verse.", "model": "backup-model"})
    assert made.status == 201 and made.body["model"] == "backup-model"
    assert (await admin.get("/roles/poet")).body["model"] == "backup-model"
    user, _ = await api.new_user()
    cid = (await user.post("/conversations", {"role": "poet"})).body["id"]
    assert (await user.post(f"/conversations/{cid}/messages", {"content": "Hi"})).body["model"] == "backup-model"
    assert backup.chat_requests[-1]["messages"][0]["content"].startswith("Write verse.")
    # The conversation's own choice wins over the role's; clearing the role's model falls back to the default.
    await user.patch(f"/conversations/{cid}", {"model": "test-model"})
    assert (await user.post(f"/conversations/{cid}/messages", {"content": "Hm"})).body["model"] == "test-model"
    assert (await admin.patch("/roles/poet", {"model": ""})).body["model"] is None
    other = (await user.post("/conversations", {"role": "poet"})).body["id"]
    assert (await user.post(f"/conversations/{other}/messages", {"content": "Hi"})).body["model"] == "test-model"
