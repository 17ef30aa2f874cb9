"""reply_mode passive through the real app, with WeChat's retry behaviour played by the test client.

WeChat's timing is scaled down (window 1.0 s, callback timeout 1.3 s instead of 4.5 s / 5 s); the
protocol is unchanged: a callback not answered in time is dropped and sent again, three tries in all."""
from __future__ import annotations

import asyncio

import pytest

from adapters.storage.wechat_outbox import TortoiseWeChatOutbox
from adapters.wechat.split import TEXT_LIMIT_BYTES, utf8_len
from core.i18n import Texts
from tests.e2e.wechat_support import client_for, new_encoding_aes_key, until, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)

WINDOW, TIMEOUT = 1.0, 1.3
PENDING = "还在思考，发送任意消息获取答案。"
MORE = "（未完，发送任意消息继续）"


@pytest.fixture
def passive(wx, fake_llm, tmp_path):
    def make(aes_key: str = "", **wechat):
        return wechat_config(tmp_path, fake_llm.base_url, wx, aes_key, reply_mode="passive",
                             passive_window_seconds=WINDOW, callback_timeout_seconds=TIMEOUT,
                             pending_text=PENDING, more_text=MORE, **wechat)
    return make


async def _owed(openid: str, count: int) -> bool:
    return await TortoiseWeChatOutbox().count(openid) == count


async def test_retries_join_one_generation(wx, start_app, fake_llm, passive) -> None:
    running = await start_app(passive())
    client = client_for(running, wx)
    fake_llm.script(reply="Slow but sure.", first_delay=2.9)
    answer, tries = await client.deliver(client.text("o-r", "a hard question"), attempt_timeout=TIMEOUT)
    assert tries == 3
    assert answer is not None and answer.content == "Slow but sure."
    assert answer.seconds < WINDOW + 0.3          # the third try got it as soon as it was ready
    assert len(fake_llm.chat_requests) == 1       # one model call for three callbacks
    assert wx.send_calls == []                    # passive mode never uses the customer-service API
    assert await _owed("o-r", 0)


async def test_a_late_answer_comes_with_the_next_message_which_is_answered_too(wx, start_app, fake_llm,
                                                                                passive) -> None:
    running = await start_app(passive())
    client = client_for(running, wx)
    fake_llm.script(reply="The late answer.", first_delay=4.5)
    answer, tries = await client.deliver(client.text("o-l", "slow one"), attempt_timeout=TIMEOUT)
    assert (answer.content, tries) == (PENDING, 3)
    await until(lambda: _owed("o-l", 1))            # the model finished after WeChat's last try
    nxt = await client.post(client.text("o-l", "anything"), timeout=TIMEOUT)
    assert nxt.content == "The late answer.\n\nEcho: anything"
    assert [m["messages"][-1]["content"] for m in fake_llm.chat_requests] == ["slow one", "anything"]
    assert await _owed("o-l", 0) and wx.send_calls == []


async def test_when_the_next_message_is_slow_too_nothing_is_dropped(wx, start_app, fake_llm, passive) -> None:
    running = await start_app(passive())
    client = client_for(running, wx)
    fake_llm.script(reply="First answer.", first_delay=4.5)
    fake_llm.script(reply="Second answer.", first_delay=1.5)
    answer, _ = await client.deliver(client.text("o-n", "one"), attempt_timeout=TIMEOUT)
    assert answer.content == PENDING
    await until(lambda: _owed("o-n", 1))
    second = await client.post(client.text("o-n", "two"), timeout=TIMEOUT)
    assert second.content == f"First answer.\n\n{PENDING}"   # what is ready now, and a note for the rest
    await until(lambda: _owed("o-n", 1))
    third = await client.post(client.text("o-n", "three"), timeout=TIMEOUT)
    assert third.content == "Second answer.\n\nEcho: three"
    assert len(fake_llm.chat_requests) == 3


async def test_a_long_answer_continues_over_the_next_messages(wx, start_app, fake_llm, passive) -> None:
    running = await start_app(passive())
    client = client_for(running, wx)
    long_answer = "长篇回答的一句话。" * 500          # 13.5 KB
    fake_llm.script(reply=long_answer, chunk_chars=50)
    received = []
    reply = await client.post(client.text("o-long", "tell me everything"), timeout=TIMEOUT)
    while reply.content.endswith(MORE):
        assert utf8_len(reply.content) <= TEXT_LIMIT_BYTES
        received.append(reply.content.removesuffix("\n\n" + MORE))
        fake_llm.script(reply="ok")
        reply = await client.post(client.text("o-long", "继续"), timeout=TIMEOUT)
    received.append(reply.content)
    # Every piece of the long answer, in order and seamless; then the answers to each "继续".
    assert "".join(received) == long_answer + "\n\nok" * (len(received) - 1)
    assert len(received) >= 7


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
async def test_replies_are_encrypted_like_the_callback(wx, start_app, fake_llm, passive, mode) -> None:
    key = new_encoding_aes_key()
    running = await start_app(passive(key, encryption="compatible"))   # compatible: both kinds accepted
    client = client_for(running, wx, mode, key)
    reply = await client.post(client.text("o-e", f"你好 {mode}"), timeout=TIMEOUT)   # read_reply verifies
    assert reply.content == f"Echo: 你好 {mode}"
    assert ("<Encrypt>" in reply.body) == (mode != "plaintext")
    balance = await client.post(client.text("o-e", "/balance"), timeout=TIMEOUT)
    assert balance.content.startswith("余额：")   # WeChat users read Chinese


async def test_the_notes_are_in_each_users_language_when_the_operator_set_none(wx, start_app, fake_llm,
                                                                              tmp_path) -> None:
    running = await start_app(wechat_config(tmp_path, fake_llm.base_url, wx, reply_mode="passive",
                                            passive_window_seconds=WINDOW, callback_timeout_seconds=TIMEOUT))
    client = client_for(running, wx)
    switched = await client.post(client.text("o-en", "/lang en"), timeout=TIMEOUT)
    assert switched is not None and switched.content == Texts.load().get("lang.set", "en")
    for _ in range(2):
        fake_llm.script(reply="A late answer.", first_delay=4.5)
    (english, _), (chinese, _) = await asyncio.gather(
        client.deliver(client.text("o-en", "slow"), attempt_timeout=TIMEOUT),
        client.deliver(client.text("o-zh", "慢"), attempt_timeout=TIMEOUT))
    assert english.content == Texts.load().get("wechat.pending", "en") != zh("wechat.pending")
    assert chinese.content == zh("wechat.pending")
    await until(lambda: _owed("o-en", 1))
    await until(lambda: _owed("o-zh", 1))
