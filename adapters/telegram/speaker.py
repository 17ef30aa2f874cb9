"""Speaker: says things in the chat an update came from (in its forum topic, replying in groups), in the
sender's language; and the handler guard that turns a refused action into words instead of a traceback."""
from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from adapters.telegram.sender import TelegramSender
from adapters.telegram.users import TelegramUsers
from core.errors import DomainError
from core.i18n import Text, Texts
from core.i18n_errors import error_text

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[Any]]


class Speaker:
    def __init__(self, sender: TelegramSender, users: TelegramUsers, texts: Texts):
        self.sender = sender
        self._users = users
        self._texts = texts

    async def say(self, update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Answer in the chat an update came from (in the same forum topic, replying in groups)."""
        message = update.effective_message
        chat = update.effective_chat
        if chat is None:
            return
        in_group = chat.type != "private"
        await self.sender.send(chat.id, text, reply_to=message.message_id if (message and in_group) else None,
                               thread_id=message.message_thread_id if (message and message.is_topic_message) else None,
                               keyboard=keyboard)

    async def locale_of(self, update: Update) -> str:
        """The language of whoever sent the update (i18n.default_locale when nobody did)."""
        who = update.effective_user
        if who is None:
            return self._texts.default_locale
        _, locale = await self._users.user_and_locale(who)
        return locale

    async def tell(self, update: Update, text: Text) -> None:
        """Say one catalogue text in the sender's language."""
        await self.say(update, self._texts.render(text, await self.locale_of(update)))

    def guarded(self, handler: Handler) -> Handler:
        """A DomainError from a service reaches the user as its text; anything else goes to the error handler."""

        @functools.wraps(handler)
        async def wrapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
            try:
                return await handler(update, context)
            except DomainError as e:
                log.info("Telegram update %s refused: %s (%s)", update.update_id, e.reason, e.message)
                await self.tell(update, error_text(e))

        return wrapped
