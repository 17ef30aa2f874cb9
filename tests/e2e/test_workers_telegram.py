"""Telegram in webhook mode on two real `bot run` workers (PostgreSQL, Redis): the load balancer may hand any update
of a chat to either worker, and the chat still gets one answer at a time, in order, /cancel from anywhere, and one
flood-control pause that both workers honour.

The fake Bot API and the fake model run in the test process; each delivery names the worker it goes to."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import REDIS_URL, make_config
from tests.e2e.telegram_harness import SECRET, TOKEN, answers, en, help_en, telegram_section, visible
from tests.e2e.workers import Worker, shared_backends, start_workers, until, write_config
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.asyncio(loop_scope="module")

GRANT = 1000
FLOOD_SECONDS = 3


@dataclass
class Pair:
    a: Worker
    b: Worker
    tg: FakeTelegram
    llm: FakeOpenAI
    http: aiohttp.ClientSession
    redis: object
    prefix: str

    def hook(self, worker: Worker) -> str:
        return worker.url + "/webhooks/telegram"

    async def send(self, worker: Worker, chat: dict, user: dict, text: str):
        return await self.tg.send_text(chat, user, text, target=self.hook(worker))

    def asked(self, since: int) -> list[str]:
        """The last user message of every model request after the first `since`."""
        return [r["messages"][-1]["content"] for r in self.llm.chat_requests[since:]]


async def _accepting(http: aiohttp.ClientSession, worker: Worker) -> bool:
    """The channel has connected to Telegram: a malformed update gets 400 (503 while it is still connecting)."""
    async with http.post(worker.url + "/webhooks/telegram", data="{}",
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as resp:
        return resp.status == 400


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("tg-workers")
    async with shared_backends() as backends, FakeOpenAI(api_key="sk-test", models=["test-model"]) as llm, \
            FakeTelegram(token=TOKEN, username="test_bot") as tg, aiohttp.ClientSession() as http:
        config = make_config(
            tmp, llm.base_url, database_url=backends.database_url,
            redis={"url": REDIS_URL, "key_prefix": backends.redis_prefix}, server={"shutdown_grace_seconds": 3},
            quota={"signup_grant": GRANT}, channels={"telegram": telegram_section(tg, "webhook")})
        a, b = await start_workers(write_config(tmp / "config.yaml", config), tmp)
        try:
            await until(lambda: _accepting(http, a), timeout=30, every=0.1)
            await until(lambda: _accepting(http, b), timeout=30, every=0.1)
            yield Pair(a, b, tg, llm, http, backends.redis, backends.redis_prefix)
        finally:
            await asyncio.gather(a.stop(), b.stop())


async def test_an_update_delivered_to_both_workers_is_answered_once(pair: Pair) -> None:
    p, since = pair, len(pair.llm.chat_requests)
    erin = p.tg.user(11001, "Erin")
    chat = p.tg.private_chat(erin)
    await p.send(p.a, chat, erin, "only once")
    assert await p.tg.deliver(p.tg.updates[-1], target=p.hook(p.b)) == 200   # Telegram's retry, through B
    await p.send(p.b, chat, erin, "and then")
    await p.tg.wait_until(lambda: len(answers(p.tg, chat)) == 2, timeout=20)
    assert visible(p.tg, chat) == ["Echo: only once", "Echo: and then"]
    assert p.asked(since) == ["only once", "and then"]


async def test_one_chat_is_answered_one_message_at_a_time_in_order_across_workers(pair: Pair) -> None:
    p, since = pair, len(pair.llm.chat_requests)
    first = "The first answer, streamed slowly. " * 2
    p.llm.script(reply=first, chunk_chars=3, chunk_delay=0.08)                # about 2 s
    alice = p.tg.user(12001, "Alice")
    chat = p.tg.private_chat(alice)
    await p.send(p.a, chat, alice, "one")
    await p.tg.wait_until(lambda: p.tg.bot_messages(chat), timeout=20)       # A is streaming the first answer
    await p.send(p.b, chat, alice, "two")                                    # B must wait for A...
    await p.send(p.a, chat, alice, "three")                                  # ...and A's next one for B's

    requests_while_first_streams: list[int] = []

    def first_done() -> bool:
        done = bool(answers(p.tg, chat))
        if not done:
            requests_while_first_streams.append(len(p.llm.chat_requests) - since)
        return done

    await p.tg.wait_until(first_done, timeout=20)
    await p.tg.wait_until(lambda: len(answers(p.tg, chat)) == 3, timeout=20)
    assert max(requests_while_first_streams, default=1) == 1                 # "two" waited for "one" to end
    assert visible(p.tg, chat) == [first.strip(), "Echo: two", "Echo: three"]
    assert p.asked(since) == ["one", "two", "three"]
    second = [m["content"] for m in p.llm.chat_requests[since + 1]["messages"][1:]]
    assert second == ["one", first, "two"]                                  # B saw A's finished exchange


async def test_cancel_sent_to_the_other_worker_stops_the_answer(pair: Pair) -> None:
    p = pair
    story = "word " * 200
    p.llm.script(reply=story, chunk_chars=5, chunk_delay=0.05)               # 10 s if nobody stops it
    alice, bob = p.tg.user(13001, "Alice"), p.tg.user(13002, "Bob")
    group = p.tg.group_chat(-100130, "Team")
    await p.send(p.a, group, alice, "@test_bot count slowly")
    await p.tg.wait_until(lambda: any("word" in m.text for m in p.tg.bot_messages(group)), timeout=20)
    await p.send(p.b, group, bob, "/cancel")                                 # only the asker may stop it
    await p.tg.wait_until(lambda: any(m.text == en("cancel.not_yours") for m in p.tg.bot_messages(group)),
                          timeout=10)
    await p.send(p.b, group, alice, "/cancel")
    [stopped] = await p.tg.wait_until(lambda: [m for m in p.tg.bot_messages(group) if "Stopped" in m.text],
                                      timeout=10)
    assert stopped.text.startswith("word") and stopped.text.endswith(en("reply.stopped"))
    assert len(stopped.text) < len(story) // 2                               # stopped long before the end

    # What was stored, seen through the HTTP API as Alice (a /link code logs her in).
    await p.send(p.b, group, alice, "/link")
    [code] = await p.tg.wait_until(lambda: [c for m in p.tg.bot_messages(group)
                                            for c in re.findall(r"link code: (\w+)", m.text)], timeout=10)
    async with p.http.post(p.a.url + "/api/v1/auth/token", json={"magic_code": code}) as resp:
        assert resp.status == 200
        bearer = {"Authorization": "Bearer " + (await resp.json())["token"]}
    async with p.http.get(p.b.url + "/api/v1/conversations", headers=bearer) as resp:
        [conversation] = (await resp.json())["data"]
    async with p.http.get(f"{p.b.url}/api/v1/conversations/{conversation['id']}/messages", headers=bearer) as resp:
        answer = (await resp.json())["data"][-1]
    assert answer["status"] == "cancelled" and 0 < len(answer["content"]) < len(story) // 2
    assert answer["cost"] > 0                                                # charged for what was generated
    async with p.http.get(p.a.url + "/api/v1/me", headers=bearer) as resp:
        me = await resp.json()
    assert me["balance"] == me["available"] == GRANT - answer["cost"]        # no hold left behind


async def test_flood_control_seen_by_one_worker_holds_that_chat_back_on_the_other(pair: Pair) -> None:
    p, calls_before = pair, len(pair.tg.calls)
    p.llm.default = Script(chunk_chars=2, chunk_delay=0.02)
    try:
        carol, dave = p.tg.user(14001, "Carol"), p.tg.user(14002, "Dave")
        slow, fast = p.tg.private_chat(carol), p.tg.private_chat(dave)
        p.tg.flood(slow["id"], retry_after=FLOOD_SECONDS, methods=("sendMessage",))
        helped = asyncio.create_task(p.send(p.a, slow, carol, "/help"))     # A's reply opens a 429 window
        [refused] = await p.tg.wait_until(lambda: p.tg.rejected("sendMessage"), timeout=10)
        pause = f"{p.prefix}pause:tg:{slow['id']}"
        await until(lambda: p.redis.exists(pause), timeout=5, every=0.02)   # A has shared the retry_after
        await p.send(p.b, slow, carol, "held back")
        await p.send(p.b, fast, dave, "not held back")
        await p.tg.wait_until(lambda: answers(p.tg, fast) and len(answers(p.tg, slow)) == 1, timeout=20)
        await helped
        window_end = refused.at + FLOOD_SECONDS
        assert answers(p.tg, fast)[0].times[-1] < window_end                 # the other chat went on at once
        [answer] = answers(p.tg, slow)
        assert answer.text == "Echo: held back" and min(answer.times) >= window_end - 0.01
        rejected = [c.params["chat_id"] for c in p.tg.calls[calls_before:] if c.error]
        assert rejected == [slow["id"]]                                      # B waited; nobody hammered
        await p.tg.wait_until(lambda: help_en() in visible(p.tg, slow), timeout=10)
    finally:
        p.llm.default = Script()


async def test_metrics_report_the_telegram_queue(pair: Pair) -> None:
    async with pair.http.get(pair.b.url + "/metrics") as resp:
        assert 'bot_queue_depth{queue="telegram_chats"} 0.0' in await resp.text()
