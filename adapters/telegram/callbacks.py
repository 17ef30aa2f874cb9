"""Inline buttons: a choice of an earlier command (a role, a pack, a language) goes to the command layer; 👍/👎 rate
an answer. Every press is answered (Telegram shows a spinner until it is)."""
from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ContextTypes

from adapters.telegram.commands import CommandRunner
from adapters.telegram.results import BUY_MENU, result_text
from adapters.telegram.sender import TelegramSender
from adapters.telegram.users import TelegramUsers
from core.commands_parse import ParsedCommand
from core.commands_results import CommandContext, CommandResult
from core.conversations import ConversationService
from core.errors import DomainError, NotFound
from core.i18n import Text, Texts
from core.i18n_errors import error_text

log = logging.getLogger(__name__)

EXPIRED = Text.of("button.expired")
TOAST_CHARS = 200


class Buttons:
    def __init__(self, runner: CommandRunner, conversations: ConversationService, users: TelegramUsers,
                 sender: TelegramSender, texts: Texts):
        self._runner = runner
        self._conversations = conversations
        self._users = users
        self._sender = sender
        self._texts = texts

    def handler(self) -> CallbackQueryHandler:
        return CallbackQueryHandler(self.pressed)

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        toast: str | None = None
        alert = False
        try:
            user, locale = await self._users.user_and_locale(query.from_user)
            toast = self._texts.render(EXPIRED, locale)
            data = query.data or ""
            if data.startswith("fb:"):
                toast = self._texts.render(await self._feedback(query, user.id, data[3:]), locale)
            elif update.effective_chat is not None:
                ctx = await self._runner.context(update, query.from_user)
                toast, alert = await self._choose(update, query, ctx, data)
        except DomainError as e:
            toast, alert = self._texts.render(error_text(e), self._texts.default_locale), True
        finally:
            try:
                await query.answer(toast[:TOAST_CHARS] if toast else None, show_alert=alert)
            except TelegramError as e:
                log.info("could not answer a button press: %s", e)

    async def _choose(self, update: Update, query: CallbackQuery, ctx: CommandContext,
                      data: str) -> tuple[str | None, bool]:
        if data == BUY_MENU:   # "Buy tokens" under an out-of-tokens notice: the packs, as a new message
            await self._runner.show(update, ctx, await self._runner.commands.run(ctx, ParsedCommand("buy")))
            return None, False
        result = await self._runner.commands.choose(ctx, data)
        if result.payment is not None or result.choices:
            await self._runner.show(update, ctx, result)
            return None, False
        if result.error is not None:
            note = result.toast or (result.texts[0] if result.texts else EXPIRED)
            return self._runner.render(note, ctx, result), result.error != "unknown_choice"
        await self._settle_menu(query, ctx, result)
        return (self._runner.render(result.toast, ctx, result) if result.toast else None), False

    async def _settle_menu(self, query: CallbackQuery, ctx: CommandContext, result: CommandResult) -> None:
        """The menu message now says what was chosen (its buttons go)."""
        message = query.message
        text = result_text(result, self._texts, ctx.locale)
        if message is None or not text:
            return
        try:
            await self._sender.edit(message.chat.id, message.message_id, text)
        except TelegramError as e:
            log.info("could not update the menu: %s", e)

    async def _feedback(self, query: CallbackQuery, user_id: str, rest: str) -> Text:
        rating_text, _, message_id = rest.partition(":")
        if rating_text not in ("1", "-1") or not message_id:
            return EXPIRED
        try:
            answer = await self._conversations.message(user_id, message_id)
        except NotFound:
            return Text.of("feedback.not_yours")
        if answer.role != "assistant":
            return EXPIRED
        # The answer's user_id is whoever asked; in a group, other members' presses do not count.
        if answer.user_id != user_id:
            return Text.of("feedback.not_yours")
        await self._conversations.feedback(user_id, message_id, int(rating_text))
        return Text.of("feedback.thanks")
