"""In a chat (Telegram through the real app and the fake Bot API): the rate limit answers politely and the model
is not called; a user's revoked own key gets a message naming the provider, and no other key is used."""
from __future__ import annotations

import time

from tests.e2e.telegram_harness import answers, en, launch, services_user, tg  # noqa: F401

OWN = "sk-telegram-own-key-5151"


async def test_the_rate_limit_answers_politely_in_the_chat(launch, tg, fake_llm) -> None:
    await launch(quota={"signup_grant": 1000, "rate_limit": {"messages": 1, "per": "hour"}})
    polite = en("error.rate_limited")
    for attempt in range(2):   # the hour's window could turn over between the two messages: then once more
        hour = int(time.time() // 3600)
        alice = tg.user(9100 + attempt, "Alice")
        chat = tg.private_chat(alice)
        before = len(fake_llm.chat_requests)
        await tg.send_text(chat, alice, "first")
        await tg.wait_until(lambda: answers(tg, chat))
        await tg.send_text(chat, alice, "second")
        [refusal] = await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if polite in m.text])
        if int(time.time() // 3600) == hour:
            break
    assert len(fake_llm.chat_requests) == before + 1 and "Traceback" not in refusal.text


async def test_a_revoked_own_key_is_named_in_the_chat_and_no_other_key_is_used(launch, tg, fake_llm) -> None:
    running = await launch()
    alice = tg.user(9200, "Alice")
    chat = tg.private_chat(alice)
    user = await services_user(running, alice)
    fake_llm.keys.add(OWN)
    await running.services.own_keys.save(user.id, "fake", OWN)   # what PUT /me/llm-keys/fake does
    fake_llm.keys.discard(OWN)                                    # then revoked at the provider
    before = len(fake_llm.authorizations)
    await tg.send_text(chat, alice, "hello")
    expected = en("error.own_key_rejected", provider="fake")
    await tg.wait_until(lambda: [m for m in tg.bot_messages(chat) if expected in m.text])
    assert set(fake_llm.authorizations[before:]) == {OWN}
    assert (await services_user(running, alice)).balance == 1000
