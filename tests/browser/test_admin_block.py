"""Blocking in the console, seen by the Telegram fake: the user's next message gets the blocked text in their
language, the model is not called, nothing is charged; unblocking lets them chat again."""
from __future__ import annotations

from tests.browser.admin_support import accept_dialogs, admin_sign_in, open_user
from tests.conftest import make_config
from tests.e2e.telegram_harness import answers, telegram_section, tg  # noqa: F401 (the `tg` fixture)


async def test_a_block_in_the_console_is_what_the_telegram_user_sees_next(open_web_app, tg, fake_llm, tmp_path):
    config = make_config(tmp_path, fake_llm.base_url, channels={"telegram": telegram_section(tg, "polling")},
                         server={"shutdown_grace_seconds": 3})
    web_app = await open_web_app(config)
    await tg.wait_until(lambda: tg.commands and tg.polled)
    alice = tg.user(4242, "Alice")
    chat = tg.private_chat(alice)
    await tg.send_text(chat, alice, "hello")
    await tg.wait_until(lambda: answers(tg, chat))
    calls = len(fake_llm.chat_requests)

    page = await web_app.new_page()
    asked = accept_dialogs(page)
    await admin_sign_in(web_app, page)
    await open_user(web_app, page, "telegram:4242")
    assert "telegram:4242" in await page.inner_text("#identities")
    balance = int(await page.inner_text("#balance"))
    await page.click("#block")
    await page.wait_for_selector("#blocked-badge")
    assert asked, "blocking asks for confirmation first"
    await web_app.shoot(page, "admin-user-blocked")

    sent = len(tg.bot_messages(chat))
    await tg.send_text(chat, alice, "are you there?")
    await tg.wait_until(lambda: len(tg.bot_messages(chat)) > sent)
    blocked_text = web_app.services.texts.get("error.user_blocked", "en")   # Alice's Telegram is in English
    assert tg.bot_messages(chat)[-1].text == blocked_text
    sent = len(tg.bot_messages(chat))
    await tg.send_text(chat, alice, "/balance")          # commands are refused the same way
    await tg.wait_until(lambda: len(tg.bot_messages(chat)) > sent)
    assert tg.bot_messages(chat)[-1].text == blocked_text
    assert len(fake_llm.chat_requests) == calls          # the model was never asked
    user = (await web_app.services.queries.search_users("telegram:4242", 1))[0]
    assert user.balance == balance and user.held == 0    # and nothing was charged or held

    await page.click("#unblock")
    await page.wait_for_selector("#block")
    done = len(answers(tg, chat))
    await tg.send_text(chat, alice, "back again")
    await tg.wait_until(lambda: len(answers(tg, chat)) > done)
    assert len(fake_llm.chat_requests) == calls + 1
