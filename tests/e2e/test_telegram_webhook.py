"""The Telegram webhook route: the secret header, malformed bodies, and repeated deliveries."""
from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.telegram_harness import SECRET, launch, tg  # noqa: F401


def _update(update_id: int, text: str = "hello") -> dict:
    user = {"id": 9001, "is_bot": False, "first_name": "Mallory"}
    return {"update_id": update_id, "message": {"message_id": 1, "date": 1700000000, "text": text, "from": user,
                                                "chat": {"id": 9001, "type": "private", "first_name": "Mallory"}}}


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                                     {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"},
                                     {"X-Telegram-Bot-Api-Secret-Token": ""}])
async def test_wrong_or_missing_secret_is_refused_and_nothing_happens(launch, tg, fake_llm, headers) -> None:
    running = await launch("webhook")
    assert tg.webhook["url"] == "http://127.0.0.1:8080/webhooks/telegram" and tg.webhook["secret_token"] == SECRET
    tg.chats[9001] = {"id": 9001, "type": "private", "first_name": "Mallory"}
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/webhooks/telegram", json=_update(500), headers=headers) as resp:
            assert resp.status == 401
            body = await resp.json()
    assert body["error"]["reason"] == "unauthorized" and body["correlationId"]
    # nothing processed: no user, no model call, no message; the same update with the secret still works
    from core.domain import Identity

    assert await running.services.repos.users.find_by_identity(Identity("telegram", "9001")) is None
    assert fake_llm.chat_requests == [] and tg.bot_messages(9001) == []
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/webhooks/telegram", json=_update(500),
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as resp:
            assert resp.status == 200
    await tg.wait_until(lambda: tg.bot_messages(9001))


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"no_update_id": true}', b'{"update_id": 7, "message": 5}'])
async def test_malformed_update_is_a_400(launch, tg, body) -> None:
    running = await launch("webhook")
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/webhooks/telegram", data=body,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                      "Content-Type": "application/json"}) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["reason"] == "invalid_request"


async def test_a_redelivered_update_is_answered_once(launch, tg, fake_llm) -> None:
    await launch("webhook", telegram={"webhook_max_connections": 1})
    assert tg.webhook["max_connections"] == 1  # Telegram then delivers one update at a time, in order
    alice = tg.user(9101, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "/help")
    await tg.wait_until(lambda: tg.bot_messages(chat))
    assert await tg.deliver(tg.updates[-1]) == 200  # Telegram retries when it did not see our answer
    await tg.send_text(chat, alice, "/help")
    await tg.wait_until(lambda: len(tg.bot_messages(chat)) >= 2)
    assert len(tg.bot_messages(chat)) == 2


async def test_polling_mode_has_no_webhook_route(launch, tg) -> None:
    running = await launch("polling")
    assert tg.webhook is None
    async with aiohttp.ClientSession() as http:
        async with http.post(running.base_url + "/webhooks/telegram", json=_update(1),
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as resp:
            assert resp.status in (404, 405)
