"""Plugs a built Telegram channel into the app: start/stop with the server, the webhook route (bot/telegram_wiring.py
builds the channel once the services exist and puts it in the slot)."""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import AsyncIterator

from aiohttp import web

from adapters.http.errors import error_response
from adapters.telegram.channel import WEBHOOK_PATH, TelegramChannel
from adapters.telegram.settings import TelegramConfig

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class ChannelSlot:
    """Holds the channel once the services exist (the route is added before they do)."""

    channel: TelegramChannel | None = None

    def ready(self) -> bool:
        """Connected to Telegram and taking updates (the console's health page)."""
        channel = self.channel
        return channel is not None and channel.ready.is_set() and channel.accepting


TELEGRAM = web.AppKey("telegram", ChannelSlot)


def install(app: web.Application, tg: TelegramConfig, slot: ChannelSlot) -> None:
    """The channel starts after the services (whose hook filled the slot) and stops before they close."""
    app[TELEGRAM] = slot

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        assert slot.channel is not None, "the services hook has not run"
        await slot.channel.start()
        yield
        await slot.channel.stop()

    app.cleanup_ctx.append(lifecycle)
    if tg.mode == "webhook":
        app.router.add_post(WEBHOOK_PATH, webhook(tg.webhook_secret, slot))


def webhook(secret: str, slot: ChannelSlot):
    """Telegram's webhook route. Only requests carrying our secret are processed; the update is handled
    before the answer, so a failure makes Telegram deliver it again (and a repeat is skipped)."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode(), expected):
            return error_response(request, 401, "unauthorized", f"Missing or wrong {SECRET_HEADER}.")
        channel = slot.channel
        if channel is None or not channel.accepting:
            return error_response(request, 503, "unavailable", "The Telegram channel is not ready; deliver again later.",
                                  **{"Retry-After": "5"})
        try:
            data = await request.json()
        except (ValueError, RecursionError):  # not JSON, nested too deeply, or a number too long
            return error_response(request, 400, "invalid_request", "The body is not JSON.")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return error_response(request, 400, "invalid_request", "The body is not a Telegram update.")
        try:
            update = channel.parse(data)
        except Exception:  # noqa: BLE001 - anything PTB cannot read is the sender's problem, not a crash
            return error_response(request, 400, "invalid_request", "The body is not a Telegram update.")
        await channel.feed_update(update)
        return web.Response(status=200)

    return receive
