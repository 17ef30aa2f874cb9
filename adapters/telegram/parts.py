"""ChannelParts: what every Telegram handler uses (services, sender, settings), and the handler error policy."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from telegram import Update
from telegram import User as TelegramUser
from telegram.ext import ContextTypes

from adapters.telegram.sender import TelegramSender
from bot.config import AppConfig, TelegramConfig
from bot.wiring import Services
from core.domain import Identity, User
from core.errors import DomainError

log = logging.getLogger(__name__)

CHANNEL = "telegram"
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[Any]]


def chat_key(chat_id: int) -> str:
    """History is per chat: every member of a group talks in the same conversation."""
    return f"telegram:{chat_id}"


@dataclass
class ChannelParts:
    services: Services
    sender: TelegramSender
    config: AppConfig
    username: str = ""  # the bot's @username, known after getMe
    bot_id: int = 0

    @property
    def tg(self) -> TelegramConfig:
        return self.config.channels.telegram

    @property
    def stars_enabled(self) -> bool:
        return self.config.payments.telegram.enabled

    async def user(self, tg_user: TelegramUser) -> User:
        """Billing is per person: the user behind this Telegram account, created on first contact."""
        return await self.services.accounts.ensure_user(Identity(CHANNEL, str(tg_user.id)), tg_user.full_name)

    def interval(self, chat_type: str) -> float:
        return self.tg.edit_interval_private if chat_type == "private" else self.tg.edit_interval_group

    async def say(self, update: Update, text: str, **kwargs: Any) -> None:
        """Answer in the chat an update came from (in the same forum topic, replying in groups)."""
        message = update.effective_message
        chat = update.effective_chat
        if chat is None:
            return
        in_group = chat.type != "private"
        await self.sender.send(chat.id, text, reply_to=message.message_id if (message and in_group) else None,
                               thread_id=message.message_thread_id if (message and message.is_topic_message) else None,
                               **kwargs)


def user_errors(parts: ChannelParts, handler: Handler) -> Handler:
    """A DomainError from a service reaches the user as its message; anything else goes to the error handler."""

    @functools.wraps(handler)
    async def wrapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
        try:
            return await handler(update, context)
        except DomainError as e:
            await parts.say(update, e.message)

    return wrapped
