"""Shared set-up for the Telegram e2e tests: the fake Bot API, and the real app configured to use it."""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_config
from tests.fakes.telegram_server import FakeTelegram

TOKEN = "123:ABC"
SECRET = "webhook-secret_1"


@pytest.fixture
async def tg():
    async with FakeTelegram(token=TOKEN, username="test_bot") as fake:
        yield fake


@pytest.fixture(params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def launch(tg, fake_llm, start_app, tmp_path):
    """`running = await launch(mode, telegram={...}, quota={...})`. Depends on the fake Telegram first, so
    the app stops before the fake does."""

    async def go(mode: str = "polling", telegram: dict | None = None, **sections: Any):
        return await start_bot(start_app, tmp_path, fake_llm, tg, mode, telegram, **sections)

    return go


def telegram_section(tg: FakeTelegram, mode: str, **changes: Any) -> dict:
    return {"enabled": True, "token": TOKEN, "api_base_url": tg.api_base_url, "mode": mode, "webhook_secret": SECRET,
            "edit_interval_private": 0.05, "edit_interval_group": 0.1, "poll_timeout": 5, **changes}


async def start_bot(start_app, tmp_path, fake_llm, tg: FakeTelegram, mode: str = "polling",
                    telegram: dict | None = None, **sections: Any):
    """The real app with the Telegram channel on, connected to the fake; returns once it is listening."""
    sections.setdefault("server", {"shutdown_grace_seconds": 3})
    config = make_config(tmp_path, fake_llm.base_url,
                         channels={"telegram": telegram_section(tg, mode, **(telegram or {}))}, **sections)
    running = await start_app(config)
    if mode == "webhook":
        tg.webhook_target = running.base_url + "/webhooks/telegram"
    await tg.wait_until(lambda: tg.commands and (tg.webhook if mode == "webhook" else tg.polled))
    return running


def visible(tg: FakeTelegram, chat: dict) -> list[str]:
    """What the user sees from the bot in a chat, message by message."""
    return [m.text for m in tg.bot_messages(chat)]


def answers(tg: FakeTelegram, chat: dict) -> list:
    """Finished answers in a chat: bot messages carrying the 👍/👎 keyboard."""
    return [m for m in tg.bot_messages(chat) if "👍" in tg.buttons(m)]


async def services_user(running, telegram_user: dict):
    """Our user behind a fake Telegram user."""
    from core.domain import Identity

    return await running.services.accounts.ensure_user(Identity("telegram", str(telegram_user["id"])))


def en(key: str, **values: Any) -> str:
    """A catalogue text as a Telegram user with language_code "en" reads it."""
    from core.i18n import Texts

    return Texts.load().get(key, "en", **values)


def help_en(with_buy: bool = True) -> str:
    """/help as the Telegram channel shows it in English (/buy only while Telegram Stars are on)."""
    from adapters.telegram.commands import TELEGRAM_MENU
    from core.commands_account import help_texts
    from core.i18n import Texts

    menu = [c for c in TELEGRAM_MENU if with_buy or c != "buy"]
    return Texts.load().join(help_texts(menu), "en")
