"""Conversations and stored messages over real HTTP: CRUD, pagination across pages, isolation between users."""
from __future__ import annotations

import pytest

from tests.e2e.http_native import assert_error, serve


@pytest.fixture
async def api(start_app, config):
    async with serve(start_app, config) as client:
        yield client


async def test_conversation_crud(api) -> None:
    alice, _ = await api.new_user()
    created = await alice.post("/conversations", {"title": "Plans", "instruction": "Be brief.", "role": "pirate",
                                                  "resource_ids": ["r1"]})
    assert created.status == 201
    conv = created.body
    assert {k: conv[k] for k in ("title", "instruction", "role", "resource_ids", "summary", "token_usage")} == {
        "title": "Plans", "instruction": "Be brief.", "role": "pirate", "resource_ids": ["r1"], "summary": "",
        "token_usage": 0}
    assert conv["created_at"].endswith("Z") and conv["updated_at"].endswith("Z")
    empty = await alice.post("/conversations")  # every field is optional, and so is the body
    assert empty.status == 201 and empty.body["title"] == "" and empty.body["role"] is None

    one = await alice.get(f"/conversations/{conv['id']}")
    assert one.status == 200 and one.body["messages"] == [] and one.body["title"] == "Plans"
    patched = await alice.patch(f"/conversations/{conv['id']}", {"title": "New", "role": None})
    assert patched.status == 200 and patched.body["title"] == "New" and patched.body["role"] is None
    assert patched.body["instruction"] == "Be brief."  # untouched fields stay
    unknown_role = await alice.patch(f"/conversations/{conv['id']}", {"role": "ghost"})
    assert_error(unknown_role, 400, "unknown_role")
    assert (await alice.delete(f"/conversations/{conv['id']}")).status == 204
    assert_error(await alice.get(f"/conversations/{conv['id']}"), 404, "not_found")
    listed = await alice.get("/conversations")
    assert [c["id"] for c in listed.body["data"]] == [empty.body["id"]]


async def test_pagination_walks_every_page_once(api) -> None:
    alice, _ = await api.new_user()
    ids = [(await alice.post("/conversations", {"title": f"c{n}"})).body["id"] for n in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        page = await alice.get("/conversations", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status == 200 and len(page.body["data"]) <= 2
        seen += [c["id"] for c in page.body["data"]]
        pages += 1
        if not page.body["has_more"]:
            assert page.body["cursor"] is None
            break
        cursor = page.body["cursor"]
    assert pages == 3 and seen == list(reversed(ids))  # newest first, no repeats, none missing


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "!!not-a-cursor"}])
async def test_bad_list_parameters_are_refused(api, params) -> None:
    alice, _ = await api.new_user()
    reply = await alice.get("/conversations", params=params)
    assert_error(reply, 400, "invalid_request")
    assert "limit" in reply.body["error"]["message"] or "cursor" in reply.body["error"]["message"]


async def test_messages_list_get_delete_and_feedback(api, fake_llm) -> None:
    alice, _ = await api.new_user()
    conv = (await alice.post("/conversations")).body
    for n in range(3):
        fake_llm.script(reply=f"answer {n}")
        assert (await alice.post(f"/conversations/{conv['id']}/messages", {"content": f"question {n}"})).status == 200
    first = await alice.get(f"/conversations/{conv['id']}/messages", params={"limit": 4})
    rest = await alice.get(f"/conversations/{conv['id']}/messages", params={"limit": 4, "cursor": first.body["cursor"]})
    contents = [m["content"] for m in first.body["data"] + rest.body["data"]]
    assert contents == ["question 0", "answer 0", "question 1", "answer 1", "question 2", "answer 2"]
    assert first.body["has_more"] and not rest.body["has_more"]
    answer = first.body["data"][1]
    got = await alice.get(f"/conversations/{conv['id']}/messages/{answer['id']}")
    assert got.body == answer
    assert (await alice.post(f"/messages/{answer['id']}/feedback", {"rating": -1})).status == 204
    assert (await alice.get(f"/conversations/{conv['id']}/messages/{answer['id']}")).body["feedback"] == -1
    assert_error(await alice.post(f"/messages/{answer['id']}/feedback", {"rating": 5}), 400)
    question = first.body["data"][0]
    assert_error(await alice.post(f"/messages/{question['id']}/feedback", {"rating": 1}), 400)
    assert (await alice.delete(f"/conversations/{conv['id']}/messages/{answer['id']}")).status == 204
    assert_error(await alice.get(f"/conversations/{conv['id']}/messages/{answer['id']}"), 404)
    detail = await alice.get(f"/conversations/{conv['id']}")
    assert [m["content"] for m in detail.body["messages"]][:2] == ["question 0", "question 1"]


async def test_another_users_ids_answer_404_and_change_nothing(api, fake_llm) -> None:
    alice, _ = await api.new_user("alice")
    mallory, _ = await api.new_user("mallory")
    conv = (await alice.post("/conversations", {"title": "secret"})).body
    answer = (await alice.post(f"/conversations/{conv['id']}/messages", {"content": "hi"})).body
    calls = len(fake_llm.chat_requests)
    cid, mid = conv["id"], answer["id"]
    attempts = [
        ("GET", f"/conversations/{cid}", None), ("PATCH", f"/conversations/{cid}", {"title": "pwned"}),
        ("DELETE", f"/conversations/{cid}", None), ("GET", f"/conversations/{cid}/messages", None),
        ("POST", f"/conversations/{cid}/messages", {"content": "hi"}),
        ("GET", f"/conversations/{cid}/messages/{mid}", None), ("DELETE", f"/conversations/{cid}/messages/{mid}", None),
        ("POST", f"/messages/{mid}/feedback", {"rating": -1}),
    ]
    for method, path, body in attempts:
        assert_error(await mallory.call(method, path, body), 404, "not_found")
    assert (await mallory.get("/conversations")).body["data"] == []
    after = await alice.get(f"/conversations/{cid}")
    assert after.body["title"] == "secret" and len(after.body["messages"]) == 2
    assert after.body["messages"][1]["feedback"] == 0
    assert len(fake_llm.chat_requests) == calls  # mallory's message never reached the model
