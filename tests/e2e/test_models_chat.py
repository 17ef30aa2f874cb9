"""/model in the chats, through the real app: Telegram's inline keyboard and WeChat's numbered list show every model
with its price; the pick holds for the chat's conversation (a /new one starts on the default) and the next answer
goes to that model's provider (the fake OpenAI servers record the model asked)."""
from __future__ import annotations

import pytest

from tests.conftest import make_config
from tests.e2e.telegram_harness import answers, en, launch, tg  # noqa: F401
from tests.e2e.wechat_support import client_for, wechat_config, zh
from tests.e2e.wechat_support import wx_fixture  # noqa: F401 (provides the `wx` fixture)
from tests.fakes.openai_server import FakeOpenAI

MAIN = {"name": "test-model", "input_weight": 1.0, "output_weight": 2.0, "context_window": 8192,
        "max_output_tokens": 100}
BACKUP = {"name": "backup-model", "input_weight": 3.0, "output_weight": 5.5, "context_window": 8192,
          "max_output_tokens": 100}


def two_models(main_url: str, backup_url: str) -> dict:
    return {"default_model": "test-model", "providers": [
        {"name": "main", "base_url": main_url, "api_key": "sk-test", "timeout_seconds": 5, "models": [MAIN]},
        {"name": "backup", "base_url": backup_url, "api_key": "sk-backup", "timeout_seconds": 5,
         "models": [BACKUP]}]}


@pytest.fixture
async def backup():
    async with FakeOpenAI(api_key="sk-backup", models=["backup-model"]) as fake:
        yield fake


async def test_telegram_model_keyboard_with_prices_picks_the_model_of_the_conversation(launch, tg, fake_llm,
                                                                                         backup) -> None:
    await launch(llm=two_models(fake_llm.base_url, backup.base_url))
    alice, bob = tg.user(7101, "Alice"), tg.user(7102, "Bob")
    chat, other = tg.private_chat(alice), tg.private_chat(bob)
    await tg.send_text(chat, alice, "/model")
    [menu] = await tg.wait_until(lambda: tg.bot_messages(chat))
    assert tg.buttons(menu) == {"backup-model": "model:backup-model", "test-model": "model:test-model"}
    assert en("model.price", input="3", output="5.5") in menu.text
    assert en("model.price", input="1", output="2") in menu.text
    query = await tg.press(alice, menu, "model:backup-model")
    assert (await tg.callback_answer(query))["text"] == en("model.set", model="backup-model")
    backup.script(reply="from backup")
    await tg.send_text(chat, alice, "hello")
    [answer] = await tg.wait_until(lambda: answers(tg, chat))
    assert answer.text.startswith("from backup")
    assert [r["model"] for r in backup.chat_requests] == ["backup-model"] and fake_llm.chat_requests == []
    # Another chat keeps the default.
    await tg.send_text(other, bob, "hi")
    await tg.wait_until(lambda: answers(tg, other))
    assert [r["model"] for r in fake_llm.chat_requests] == ["test-model"]
    # The menu now marks the choice; a new conversation starts on the default again.
    await tg.send_text(chat, alice, "/model")
    await tg.wait_until(lambda: len(tg.bot_messages(chat)) == 3)
    assert "▸ backup-model" in tg.bot_messages(chat)[-1].text
    await tg.send_text(chat, alice, "/new")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text.startswith("Started a new conversation"))
    await tg.send_text(chat, alice, "again")
    await tg.wait_until(lambda: len(answers(tg, chat)) == 2)
    assert [r["model"] for r in fake_llm.chat_requests] == ["test-model", "test-model"]
    assert len(backup.chat_requests) == 1
    # By name, and an unknown name is refused with the list.
    await tg.send_text(chat, alice, "/model backup-model")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text == en("model.set", model="backup-model"))
    await tg.send_text(chat, alice, "/model gpt-nope")
    await tg.wait_until(lambda: tg.bot_messages(chat)[-1].text == en(
        "model.unknown", name="gpt-nope", names="backup-model, test-model"))


async def test_wechat_numbered_models_with_prices_and_a_number_picks(wx, start_app, fake_llm, backup,
                                                                      tmp_path) -> None:
    wechat = wechat_config(tmp_path, fake_llm.base_url, wx).channels.wechat.model_dump()
    config = make_config(tmp_path, fake_llm.base_url, channels={"wechat": wechat},
                         llm=two_models(fake_llm.base_url, backup.base_url))
    running = await start_app(config)
    client = client_for(running, wx)
    await client.post(client.text("o-m", "/model"))
    [listing] = await wx.wait_sent("o-m", 1)
    assert f"1. backup-model：{zh('model.price', input='3', output='5.5')}" in listing
    assert f"2. ▸ test-model：{zh('model.price', input='1', output='2')}" in listing
    assert zh("choice.reply_number") in listing
    await client.post(client.text("o-m", "1"))
    assert (await wx.wait_sent("o-m", 2))[-1] == zh("model.set", model="backup-model")
    backup.script(reply="from backup")
    await client.post(client.text("o-m", "hello"))
    assert (await wx.wait_sent("o-m", 3))[-1] == "from backup"
    assert [r["model"] for r in backup.chat_requests] == ["backup-model"] and fake_llm.chat_requests == []
    # Another WeChat user is not affected; 模型 (the alias) by name switches back.
    await client.post(client.text("o-n", "hi"))
    assert (await wx.wait_sent("o-n", 1)) == ["Echo: hi"]
    await client.post(client.text("o-m", "模型 test-model"))
    assert (await wx.wait_sent("o-m", 4))[-1] == zh("model.set", model="test-model")
    await client.post(client.text("o-m", "again"))
    assert (await wx.wait_sent("o-m", 5))[-1] == "Echo: again"
    assert [r["model"] for r in fake_llm.chat_requests] == ["test-model", "test-model"]
