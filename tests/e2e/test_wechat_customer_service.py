"""reply_mode customer_service through the real app: instant acks, pushed answers, nothing lost or reordered."""
from __future__ import annotations

import asyncio

from adapters.storage.wechat_outbox import TortoiseWeChatOutbox
from adapters.wechat.split import TEXT_LIMIT_BYTES, utf8_len
from tests.e2e.wechat_support import client_for, until, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)

# Only keeps a broken build from hanging: an ack that waited for the held-back answer would never come.
ACK_GIVE_UP_SECONDS = 30


async def test_the_webhook_acknowledges_before_the_answer_exists(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    held = asyncio.Event()
    fake_llm.script(reply="A considered answer, held back until the test lets it go.", gate=held, gate_after=0)
    fake_llm.script(reply="The second answer.")
    first = await asyncio.wait_for(client.post(client.text("o-slow", "think hard")), ACK_GIVE_UP_SECONDS)
    second = await asyncio.wait_for(client.post(client.text("o-slow", "and then this")), ACK_GIVE_UP_SECONDS)
    for ack in (first, second):
        assert ack.status == 200 and ack.body == "success"
    assert not wx.sent.get("o-slow")                 # acknowledged while the model still holds the first answer
    held.set()
    sent = await wx.wait_sent("o-slow", 2, timeout=30)
    # In order: the second answer waited for the first, although its own model call would have been quick.
    assert sent == ["A considered answer, held back until the test lets it go.", "The second answer."]
    assert len(fake_llm.chat_requests) == 2


async def test_long_chinese_answer_is_split_on_utf8_bytes(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    answer = "这是一个很长的中文回答，用来检验按字节拆分。🚀\n" * 200   # ~14 KB of 3- and 4-byte characters
    fake_llm.script(reply=answer, chunk_chars=40)
    await client.post(client.text("o-zh", "请详细回答"))
    await wx.wait_sent("o-zh", 1)
    await until(lambda: _joined(wx, "o-zh", answer))
    pieces = wx.sent["o-zh"]
    assert len(pieces) >= 7
    assert all(utf8_len(p) <= TEXT_LIMIT_BYTES for p in pieces)
    assert all(p.endswith("\n") for p in pieces)  # cut at line ends, never inside a character


async def _joined(wx, openid: str, answer: str) -> bool:
    return "".join(wx.sent[openid]) == answer


async def test_an_expired_access_token_is_refreshed(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.text("o-t", "one"))
    await wx.wait_sent("o-t", 1)
    wx.expire_tokens(42001)
    await client.post(client.text("o-t", "two"))
    assert await wx.wait_sent("o-t", 2) == ["Echo: one", "Echo: two"]
    wx.expire_tokens(40001)
    await client.post(client.text("o-t", "three"))
    assert (await wx.wait_sent("o-t", 3))[-1] == "Echo: three"
    assert wx.token_calls == 3


async def test_a_closed_48_hour_window_keeps_the_answer_for_the_next_message(wx, start_app, fake_llm,
                                                                              tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    outbox = TortoiseWeChatOutbox()
    wx.close_window("o-w")
    await client.post(client.text("o-w", "first"))
    await wx.wait_calls(1)
    await until(lambda: _owed(outbox, "o-w", 1))
    assert wx.sent["o-w"] == []
    wx.open_window("o-w")   # the user writes again, which reopens the window
    await client.post(client.text("o-w", "second"))
    assert await wx.wait_sent("o-w", 2) == ["Echo: first", "Echo: second"]
    assert await outbox.count("o-w") == 0


async def _owed(outbox: TortoiseWeChatOutbox, openid: str, count: int) -> bool:
    return await outbox.count(openid) == count


async def test_duplicate_msgids_are_answered_once(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    xml = client.text("o-d", "once please", msg_id=777)
    for _ in range(3):
        assert (await client.post(xml)).body == "success"
    await wx.wait_sent("o-d", 1)
    await client.post(client.text("o-d", "next"))
    assert await wx.wait_sent("o-d", 2) == ["Echo: once please", "Echo: next"]
    assert len(fake_llm.chat_requests) == 2


async def test_unsupported_types_and_voice(wx, start_app, fake_llm, tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    client = client_for(running, wx)
    await client.post(client.location("o-v"))
    await client.post(client.voice("o-v", "今天天气怎么样"))
    await client.post(client.voice("o-v", ""))
    await client.post(client.image("o-v"))   # a text-only model and no llm.vision_model: said, not dropped
    sent = await wx.wait_sent("o-v", 4)
    assert sent[0] == zh("chat.text_or_voice_only")
    assert sent[1] == "Echo: 今天天气怎么样"
    assert sent[2] == zh("chat.voice_unclear")   # no llm.speech: WeChat's empty Recognition is all there is
    assert sent[3] == zh("media.vision_unsupported", model="test-model")
    assert len(fake_llm.chat_requests) == 1 and wx.media_gets == []


async def test_an_answer_from_the_knowledge_base_ends_with_its_sources(wx, start_app, fake_llm, tmp_path) -> None:
    from bot.knowledge import knowledge_of
    from core.knowledge_ports import Viewer

    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx))
    service = knowledge_of(running.services).service
    doc, _ = await service.add_document(Viewer(None, is_admin=True), name="退货政策",
                                        body="购买后七天内可以无理由退货，请保留发票。".encode(),
                                        content_type="text/plain", source="text")
    await service.wait(doc.id)
    client = client_for(running, wx)
    await client.post(client.text("o-rag", "购买后几天内可以无理由退货？"))
    [sent] = await wx.wait_sent("o-rag", 1)
    assert sent.endswith("\n\n来源：退货政策")
    assert "七天内可以无理由退货" in fake_llm.chat_requests[-1]["messages"][0]["content"]
