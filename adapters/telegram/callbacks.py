"""Inline buttons: a role for the chat, a pack to buy, and 👍/👎 on answers. Every press is answered."""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ContextTypes

from adapters.telegram import texts
from adapters.telegram.parts import ChannelParts, chat_key
from core.errors import DomainError, NotFound

log = logging.getLogger(__name__)

Toast = str | None


class Buttons:
    def __init__(self, parts: ChannelParts, products_menu: Callable[[Update], Awaitable[None]],
                 send_invoice: Callable[[Update, str], Awaitable[None]]):
        self._parts = parts
        self._products_menu = products_menu
        self._send_invoice = send_invoice

    def handler(self) -> CallbackQueryHandler:
        return CallbackQueryHandler(self.pressed)

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        toast: Toast = texts.EXPIRED_BUTTON
        alert = False
        try:
            kind, _, rest = (query.data or "").partition(":")
            if kind == "fb":
                toast = await self._feedback(query, rest)
            elif kind == "role":
                toast = await self._role(update, query, rest)
            elif kind == "buy" and rest == "menu":
                toast = None
                await self._products_menu(update)
            elif kind == "buy" and rest:
                toast = None
                await self._send_invoice(update, rest)
        except DomainError as e:
            toast, alert = e.message, True
        finally:
            # Telegram shows a spinner on the button until the press is answered: always answer it.
            try:
                await query.answer(toast[:200] if toast else None, show_alert=alert)
            except TelegramError as e:
                log.info("could not answer a button press: %s", e)

    async def _feedback(self, query: CallbackQuery, rest: str) -> Toast:
        rating_text, _, message_id = rest.partition(":")
        if rating_text not in ("1", "-1") or not message_id:
            return texts.EXPIRED_BUTTON
        user = await self._parts.user(query.from_user)
        conversations = self._parts.services.conversations
        try:
            answer = await conversations.message(user.id, message_id)
        except NotFound:
            return texts.NOT_YOUR_FEEDBACK
        if answer.role != "assistant":
            return texts.EXPIRED_BUTTON
        # The answer's user_id is whoever asked; in a group, other members' presses do not count.
        if answer.user_id != user.id:
            return texts.NOT_YOUR_FEEDBACK
        await conversations.feedback(user.id, message_id, int(rating_text))
        return texts.THANKS

    async def _role(self, update: Update, query: CallbackQuery, name: str) -> Toast:
        chat = update.effective_chat
        if chat is None:
            return texts.EXPIRED_BUTTON
        user = await self._parts.user(query.from_user)
        conv = await self._parts.services.conversations.set_chat_role(user.id, chat_key(chat.id), name)
        note = f"Role set: {conv.role}. A new conversation starts now."
        if query.message is not None:
            try:
                await self._parts.sender.edit(chat.id, query.message.message_id, note)
            except TelegramError as e:
                log.info("could not update the role menu: %s", e)
        return f"Role: {conv.role}"
