"""Resuming a streamed answer after a hang-up (one process): Last-Event-ID, the grace before an abandoned answer
stops, and a finished answer read back as `done`."""
from __future__ import annotations

import asyncio

import pytest

from tests.conftest import make_config
from tests.e2e.http_native import assert_error, serve
from tests.e2e.sse_resume import resume, start_and_hang_up


async def _user(api):
    user, _ = await api.new_user()
    return user, (await user.post("/conversations")).body["id"]


@pytest.fixture
def grace_config(tmp_path, fake_llm):
    return make_config(tmp_path, fake_llm.base_url, server={"sse_resume_seconds": 0.5})


async def test_resume_after_last_event_id_gets_exactly_the_rest(start_app, grace_config, fake_llm) -> None:
    async with serve(start_app, grace_config) as api:
        user, cid = await _user(api)
        fake_llm.script(reply="abcdefghijklmnopqrst", chunk_chars=1, chunk_delay=0.03)
        mid, seen = await start_and_hang_up(api.base_url, user.headers, cid, "Spell it", keep=4)
        assert [e.id for e in seen] == ["1", "2", "3", "4"] and {e.name for e in seen} == {"delta"}
        rest = await resume(api.base_url, user.headers, cid, mid, seen[-1].id)
        assert [e.name for e in rest][-1] == "done"
        assert [int(e.id) for e in rest] == list(range(5, 5 + len(rest)))      # no gap, no repeat
        text = "".join(e.json["content"] for e in seen + rest if e.name == "delta")
        assert text == "abcdefghijklmnopqrst" == rest[-1].json["content"]
        assert rest[-1].json["status"] == "complete" and rest[-1].json["id"] == mid
        # The whole stream again, from the start, while it is still held; and the stored answer agrees.
        again = await resume(api.base_url, user.headers, cid, mid, None)
        assert [e.id for e in again] == [str(i) for i in range(1, len(again) + 1)]
        assert (await user.get(f"/conversations/{cid}/messages/{mid}")).body["status"] == "complete"
        assert len(fake_llm.chat_requests) == 1


async def test_an_abandoned_answer_stops_after_the_grace(start_app, grace_config, fake_llm) -> None:
    async with serve(start_app, grace_config) as api:
        user, cid = await _user(api)
        fake_llm.script(reply="x" * 200, chunk_chars=1, chunk_delay=0.03)     # ~6 s if nobody stopped it
        mid, _ = await start_and_hang_up(api.base_url, user.headers, cid, "Long", keep=3)

        async def stored() -> dict:
            while (reply := await user.get(f"/conversations/{cid}/messages/{mid}")).status != 200:
                await asyncio.sleep(0.05)
            return reply.body

        answer = await asyncio.wait_for(stored(), 5)
        assert answer["status"] == "cancelled" and 3 <= len(answer["content"]) < 200
        events = await resume(api.base_url, user.headers, cid, mid, "3")       # late: the cancelled answer
        assert events[-1].name == "done" and events[-1].json["status"] == "cancelled"
        me = (await user.get("/me")).body
        assert me["available"] == me["balance"] == 1000 - answer["cost"]


async def test_resume_needs_the_owner_and_a_known_answer(start_app, grace_config, fake_llm) -> None:
    async with serve(start_app, grace_config) as api:
        user, cid = await _user(api)
        other, other_cid = await _user(api)
        fake_llm.script(reply="done quickly")
        answer = (await user.post(f"/conversations/{cid}/messages", {"content": "Hi"})).body
        path = f"/conversations/{cid}/messages/{answer['id']}/events"
        assert_error(await other.get(path), 404, "not_found")
        assert_error(await other.get(f"/conversations/{other_cid}/messages/{answer['id']}/events"), 404)
        assert_error(await user.get(f"/conversations/{cid}/messages/nope/events"), 404)
        assert_error(await user.get(path, headers={"Last-Event-ID": "abc"}), 400, "invalid_last_event_id")
        # A blocking answer has no held stream: its stored message comes as `done`.
        events = await resume(api.base_url, user.headers, cid, answer["id"], "7")
        assert [(e.name, e.json["content"]) for e in events] == [("done", "done quickly")]
