"""/dify/v1 history end to end: messages with first_id, feedbacks, conversations with last_id, rename, delete."""
from __future__ import annotations

import math

from tests.e2e.dify_client import open_dify, sse_events, user_id_of  # noqa: F401


async def test_history_scrolls_back_with_first_id(open_dify, fake_llm, database_url) -> None:
    _, dify = await open_dify(database_url=database_url)
    first = await dify.chat("alice", "q1")
    cid = first["conversation_id"]
    sent = [first] + [await dify.chat("alice", f"q{n}", cid) for n in range(2, 6)]

    status, page = await dify.call("GET", "/messages", params={"user": "alice", "conversation_id": cid, "limit": "2"})
    assert status == 200 and page["limit"] == 2 and page["has_more"] is True
    assert [m["query"] for m in page["data"]] == ["q4", "q5"]  # the newest exchanges, oldest first
    item = page["data"][1]
    assert item["id"] == sent[4]["message_id"] and item["answer"] == "Echo: q5" and item["conversation_id"] == cid
    assert item["feedback"] is None and item["retriever_resources"] == [] and item["message_files"] == []
    assert item["inputs"] == {} and item["status"] == "normal" and isinstance(item["created_at"], int)

    seen = [m["query"] for m in page["data"]]
    while page["has_more"]:
        status, page = await dify.call("GET", "/messages", params={
            "user": "alice", "conversation_id": cid, "limit": "2", "first_id": page["data"][0]["id"]})
        assert status == 200
        seen = [m["query"] for m in page["data"]] + seen
    assert seen == ["q1", "q2", "q3", "q4", "q5"] and len(page["data"]) == 1

    status, page = await dify.call("GET", "/messages", params={"user": "alice", "conversation_id": cid})
    assert page["limit"] == 20 and page["has_more"] is False and len(page["data"]) == 5
    status, body = await dify.call("GET", "/messages", params={
        "user": "alice", "conversation_id": cid, "first_id": "0b8f4a8e-8c53-4c1e-9d0f-3f3b7f2f4d11"})
    assert (status, body["message"]) == (404, "First Message Not Exists.")
    for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "many"}, {"conversation_id": ""}):
        status, body = await dify.call("GET", "/messages", params={"user": "alice", "conversation_id": cid, **bad})
        assert (status, body["code"]) == (400, "invalid_param"), bad


async def test_feedbacks_like_dislike_and_revoke(open_dify, fake_llm) -> None:
    _, dify = await open_dify()
    reply = await dify.chat("bob", "rate me")
    path = f"/messages/{reply['message_id']}/feedbacks"
    history = {"user": "bob", "conversation_id": reply["conversation_id"]}

    for rating, shown in (("like", {"rating": "like"}), ("dislike", {"rating": "dislike"}), (None, None)):
        status, body = await dify.call("POST", path, json_body={"rating": rating, "user": "bob"})
        assert (status, body) == (200, {"result": "success"})
        status, page = await dify.call("GET", "/messages", params=history)
        assert page["data"][0]["feedback"] == shown

    status, body = await dify.call("POST", path, json_body={"rating": "like", "user": "mallory"})
    assert (status, body["message"]) == (404, "Message Not Exists.")
    status, body = await dify.call("POST", path, json_body={"rating": "love", "user": "bob"})
    assert (status, body["code"]) == (400, "invalid_param")
    status, body = await dify.call("POST", "/messages/not-a-uuid/feedbacks",
                                   json_body={"rating": "like", "user": "bob"})
    assert status == 404
    status, page = await dify.call("GET", "/messages", params=history)
    assert page["data"][0]["feedback"] is None


async def test_conversation_list_orders_and_pages_with_last_id(open_dify, fake_llm, database_url) -> None:
    _, dify = await open_dify(database_url=database_url)
    c1 = (await dify.chat("carol", "first topic"))["conversation_id"]
    c2 = (await dify.chat("carol", "second topic"))["conversation_id"]
    c3 = (await dify.chat("carol", "third topic"))["conversation_id"]
    await dify.chat("carol", "back to the first", c1)  # the most recently active now

    status, page = await dify.call("GET", "/conversations", params={"user": "carol", "limit": "2"})
    assert status == 200 and (page["limit"], page["has_more"]) == (2, True)
    assert [c["id"] for c in page["data"]] == [c1, c3]
    conv = page["data"][0]
    assert conv["name"] == "first topic" and conv["status"] == "normal" and conv["inputs"] == {}
    assert conv["introduction"] == "Hello! Ask me anything."
    assert conv["updated_at"] >= conv["created_at"] and isinstance(conv["created_at"], int)
    status, page = await dify.call("GET", "/conversations", params={"user": "carol", "limit": "2", "last_id": c3})
    assert [c["id"] for c in page["data"]] == [c2] and page["has_more"] is False

    status, page = await dify.call("GET", "/conversations", params={"user": "carol", "sort_by": "created_at"})
    assert [c["id"] for c in page["data"]] == [c1, c2, c3]
    status, page = await dify.call("GET", "/conversations", params={
        "user": "carol", "sort_by": "-created_at", "last_id": c3, "limit": "1"})
    assert [c["id"] for c in page["data"]] == [c2] and page["has_more"] is True
    status, body = await dify.call("GET", "/conversations", params={
        "user": "carol", "last_id": "5d7b0a9e-2a43-4f6b-9a0e-6a1c4c1f0b22"})
    assert (status, body["message"]) == (404, "Last Conversation Not Exists.")
    status, body = await dify.call("GET", "/conversations", params={"user": "carol", "sort_by": "name"})
    assert (status, body["code"]) == (400, "invalid_param")


async def test_rename_with_a_name_or_auto_generate(open_dify, fake_llm) -> None:
    running, dify = await open_dify()
    reply = await dify.chat("dave", "How do I plan a week in Paris?")
    cid = reply["conversation_id"]
    status, conv = await dify.call("POST", f"/conversations/{cid}/name", json_body={"name": "Paris", "user": "dave"})
    assert status == 200 and (conv["id"], conv["name"], conv["status"]) == (cid, "Paris", "normal")

    user_id = await user_id_of(running, "dave")
    before = (await running.services.accounts.get(user_id)).balance
    fake_llm.script(reply='"A Week in Paris."\n', chunk_chars=5)
    status, conv = await dify.call("POST", f"/conversations/{cid}/name",
                                   json_body={"auto_generate": True, "user": "dave"})
    assert status == 200 and conv["name"] == "A Week in Paris"
    title_call = fake_llm.chat_requests[-1]
    assert "title" in title_call["messages"][0]["content"] and title_call["max_tokens"] <= 32
    assert "How do I plan a week in Paris?" in title_call["messages"][1]["content"]
    prompt = title_call["messages"]
    from tests.fakes.openai_server import prompt_tokens_of
    cost = math.ceil(prompt_tokens_of(prompt) + 4 * 2.0)  # 19 characters in chunks of 5: 4 completion tokens
    assert (await running.services.accounts.get(user_id)).balance == before - cost  # the title call is charged
    status, page = await dify.call("GET", "/conversations", params={"user": "dave"})
    assert page["data"][0]["name"] == "A Week in Paris"

    status, body = await dify.call("POST", f"/conversations/{cid}/name", json_body={"name": "  ", "user": "dave"})
    assert (status, body["code"]) == (400, "invalid_param")
    status, body = await dify.call("POST", f"/conversations/{cid}/name", json_body={"name": "x" * 201, "user": "dave"})
    assert (status, body["code"]) == (400, "invalid_param")
    status, body = await dify.call("POST", f"/conversations/{cid}/name", json_body={"name": "Mine", "user": "eve"})
    assert (status, body["message"]) == (404, "Conversation Not Exists.")
    calls = len(fake_llm.chat_requests)
    status, body = await dify.call("POST", f"/conversations/{cid}/name",
                                   json_body={"auto_generate": True, "user": "eve"})
    assert status == 404 and len(fake_llm.chat_requests) == calls  # no model call for someone else's


async def test_delete_conversation(open_dify, fake_llm) -> None:
    _, dify = await open_dify()
    cid = (await dify.chat("erin", "forget me"))["conversation_id"]
    keep = (await dify.chat("erin", "keep me"))["conversation_id"]
    status, body = await dify.call("DELETE", f"/conversations/{cid}", json_body={"user": "mallory"})
    assert (status, body["message"]) == (404, "Conversation Not Exists.")
    status, body = await dify.call("DELETE", f"/conversations/{cid}", json_body={"user": "erin"})
    assert (status, body) == (204, None)
    status, body = await dify.call("GET", "/messages", params={"user": "erin", "conversation_id": cid})
    assert status == 404
    status, page = await dify.call("GET", "/conversations", params={"user": "erin"})
    assert [c["id"] for c in page["data"]] == [keep]
    status, body = await dify.call("DELETE", f"/conversations/{keep}", params={"user": "erin"})  # ?user= works too
    assert status == 204
    status, body = await dify.call("DELETE", f"/conversations/{keep}", json_body={"user": "erin"})
    assert status == 404


async def test_parameters_info_and_meta(open_dify, fake_llm) -> None:
    _, dify = await open_dify(suggested_questions=["What can you do?"], name="Helper", description="Answers")
    status, params = await dify.call("GET", "/parameters", params={"user": "frank"})
    assert status == 200 and params["opening_statement"] == "Hello! Ask me anything."
    assert params["suggested_questions"] == ["What can you do?"] and params["user_input_form"] == []
    assert params["file_upload"]["enabled"] is False and params["speech_to_text"] == {"enabled": False}
    status, info = await dify.call("GET", "/info")
    assert status == 200 and info == {"name": "Helper", "description": "Answers", "tags": [], "mode": "chat",
                                      "author_name": ""}
    status, meta = await dify.call("GET", "/meta")
    assert (status, meta) == (200, {"tool_icons": {}})


class StaticKnowledge:
    """A Retriever (core.ports) that always finds the same two passages."""

    async def retrieve(self, user_id, query, resource_ids, top_k):
        from core.ports import Passage

        return [Passage("res-1", "chunk-7", "Paris guide", "The Louvre opens at nine.", 0.91),
                Passage("res-2", "chunk-3", "Museum hours", "Closed on Tuesdays.", 0.42)]


def with_knowledge(app, config) -> None:
    from bot.app import SERVICE_HOOKS

    async def hook(services) -> None:
        services.engine.retriever = StaticKnowledge()

    app[SERVICE_HOOKS].append(hook)


async def test_citations_become_retriever_resources(open_dify, fake_llm) -> None:
    _, dify = await open_dify(extra_installers=[with_knowledge])
    blocking = await dify.chat("grace", "When does the Louvre open?")
    resources = blocking["metadata"]["retriever_resources"]
    assert [(r["position"], r["document_id"], r["document_name"], r["segment_id"], r["score"], r["content"])
            for r in resources] == [(1, "res-1", "Paris guide", "chunk-7", 0.91, "The Louvre opens at nine."),
                                    (2, "res-2", "Museum hours", "chunk-3", 0.42, "Closed on Tuesdays.")]
    assert "The Louvre opens at nine." in fake_llm.chat_requests[0]["messages"][0]["content"]
    async with dify.stream("grace", "And on Tuesday?", blocking["conversation_id"]) as resp:
        end = [e.data async for e in sse_events(resp)][-1]
    assert end["event"] == "message_end" and end["metadata"]["retriever_resources"][1]["segment_id"] == "chunk-3"
    status, page = await dify.call("GET", "/messages", params={
        "user": "grace", "conversation_id": blocking["conversation_id"]})
    assert [r["document_id"] for r in page["data"][0]["retriever_resources"]] == ["res-1", "res-2"]
    status, body = await dify.call("GET", f"/messages/{blocking['message_id']}/suggested", params={"user": "grace"})
    # suggested_questions_after_answer is off here: Dify's answer for a disabled feature.
    assert (status, body) == (400, {"code": "bad_request", "message": "Suggested Questions Is Disabled.",
                                    "status": 400})
    status, body = await dify.call("GET", f"/messages/{blocking['message_id']}/suggested", params={"user": "ivan"})
    assert status == 404
