"""TelegramSender and ReplyView with the real python-telegram-bot Bot against the fake Bot API."""
from __future__ import annotations

import asyncio

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from adapters.telegram.sender import TelegramSender
from adapters.telegram.streaming import PLACEHOLDER, ReplyView
from tests.fakes.telegram_server import FakeTelegram

TOKEN = "123:ABC"


@pytest.fixture
async def tg():
    async with FakeTelegram(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def sender(tg):
    async with Bot(TOKEN, base_url=tg.api_base_url) as bot:
        yield TelegramSender(bot)


@pytest.fixture
def chat(tg) -> dict:
    return tg.private_chat(tg.user(42, "Alice"))


async def test_view_streams_seals_and_formats(tg, sender, chat) -> None:
    view = ReplyView(sender, chat["id"], interval=0.01, limit=200)
    view.start()
    await tg.wait_until(lambda: tg.bot_messages(chat))
    assert tg.bot_messages(chat)[0].text == PLACEHOLDER
    lines = [f"**line {i}** " + "x" * 30 for i in range(12)]
    for line in lines:
        view.feed(line + "\n")
        await asyncio.sleep(0.005)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("👍", callback_data="fb:1:m")]])
    await view.finish(keyboard=keyboard)
    messages = tg.bot_messages(chat)
    assert len(messages) >= 3 and all(m.html is not None for m in messages)  # every message ends as HTML
    shown = "\n".join(m.text for m in messages)
    assert shown == "\n".join(line.replace("**", "") for line in lines)
    assert [bool(m.reply_markup) for m in messages] == [False] * (len(messages) - 1) + [True]
    for earlier in messages[:-1]:  # a sealed message is finished once, never touched again
        assert earlier.edits[-1] == earlier.text and earlier.html.count("<b>") >= 1


async def test_rejected_html_falls_back_to_plain_text(tg, sender, chat) -> None:
    view = ReplyView(sender, chat["id"], interval=0)
    view.start()
    view.feed("some **bold** text")
    await tg.wait_until(lambda: tg.bot_messages(chat) and tg.bot_messages(chat)[0].text != PLACEHOLDER)
    tg.reject_entities(chat["id"])
    await view.finish()
    [message] = tg.bot_messages(chat)
    assert message.text == "some **bold** text" and message.html is None
    assert any("can't parse entities" in c.error for c in tg.rejected("editMessageText"))


async def test_not_modified_is_success(tg, sender, chat) -> None:
    sent = await sender.send(chat["id"], "same")
    await sender.edit(chat["id"], sent.message_id, "same")  # Telegram: "message is not modified"
    assert tg.rejected("editMessageText")[0].error.startswith("Bad Request: message is not modified")
    with pytest.raises(BadRequest):
        await sender.edit(chat["id"], 999, "no such message")


async def test_retry_after_waits_for_that_chat_only(tg, sender, chat) -> None:
    other = tg.private_chat(tg.user(43, "Bob"))
    tg.flood(chat["id"], retry_after=1, methods=("sendMessage",))
    held = asyncio.create_task(sender.send(chat["id"], "held back"))
    await tg.wait_until(lambda: tg.rejected("sendMessage"))
    async with asyncio.timeout(2):  # the 429 answer is on its way back to PTB
        while not sender.blocked_for(chat["id"]):
            await asyncio.sleep(0.01)
    assert sender.blocked_for(chat["id"]) > 0.5 and sender.blocked_for(other["id"]) == 0
    await sender.send(other["id"], "goes through")
    assert not held.done()
    message = await held
    refused_at = tg.rejected("sendMessage")[0].at
    assert tg.bot_messages(chat)[0].times[0] >= refused_at + 0.99 and message.text == "held back"
    assert tg.bot_messages(other)[0].times[0] < refused_at + 0.5


async def test_gone_chat_stops_the_view(tg, sender) -> None:
    stopped = asyncio.Event()
    view = ReplyView(sender, 777, interval=0, on_gone=stopped.set)  # the fake knows no chat 777
    view.start()
    await asyncio.wait_for(stopped.wait(), 5)
    assert view.gone is not None
    await view.finish()  # nothing more is tried
    assert len(tg.rejected("sendMessage")) == 1


async def test_a_429_seen_by_one_worker_holds_that_chat_back_on_another(tg, chat, tmp_path) -> None:
    from adapters.coordination.pacing import SharedPacing
    from adapters.storage import db
    from adapters.storage.ephemeral import DatabaseEphemeralStore

    await db.open_database(f"sqlite://{tmp_path}/shared.db")
    try:
        store = DatabaseEphemeralStore()  # all the two "workers" share
        async with Bot(TOKEN, base_url=tg.api_base_url) as one_bot, Bot(TOKEN, base_url=tg.api_base_url) as other_bot:
            one = TelegramSender(one_bot, pacing=SharedPacing(store))
            other = TelegramSender(other_bot, pacing=SharedPacing(store))
            bystander = tg.private_chat(tg.user(44, "Carol"))
            tg.flood(chat["id"], retry_after=1, methods=("sendMessage",))
            held = asyncio.create_task(one.send(chat["id"], "first"))
            async with asyncio.timeout(3):
                while not await other.paused_for(chat["id"]):   # the pause reached the shared store
                    await asyncio.sleep(0.01)
            assert other.blocked_for(chat["id"]) == 0          # the other worker never saw a 429 itself
            await other.send(bystander["id"], "other chats go on")
            await other.send(chat["id"], "second")
            await held
            refused_at = tg.rejected("sendMessage")[0].at
            assert len(tg.rejected()) == 1                      # the other worker waited instead of trying
            assert all(m.times[0] >= refused_at + 0.99 for m in tg.bot_messages(chat))
            assert tg.bot_messages(bystander)[0].times[0] < refused_at + 0.5
    finally:
        await db.close_database()
