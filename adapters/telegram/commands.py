"""Telegram messages: a command (`/balance`, `余额`, `/role@bot pirate`) goes to the command layer, chat to the
chat lanes. CommandRunner builds who-asks-where (CommandContext) and shows the result: text, inline buttons, an
invoice."""
from __future__ import annotations

import re
from typing import Protocol

from telegram import Bot, Message, MessageEntity, Update
from telegram import User as TelegramUser
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, filters

from adapters.telegram.admins import GroupAdmins
from adapters.telegram.lanes import ChatJob, ChatLanes
from adapters.telegram.results import result_keyboard, result_text
from adapters.telegram.speaker import Speaker
from adapters.telegram.users import CHANNEL, TelegramUsers, chat_key
from core.chat_modes import ChatModes
from core.commands import CommandService
from core.commands_parse import ParsedCommand
from core.commands_results import (
    TELEGRAM_STARS, WECHAT_PAY_ON_WEB, CancelOutcome, ChatAdmins, CommandContext, CommandResult,
)
from core.domain import Order
from core.i18n import Text, Texts

# What /help lists and the menu (setMyCommands) shows; /buy only while a way to pay is on.
TELEGRAM_MENU = ("start", "help", "new", "role", "roles", "balance", "buy", "link", "cancel", "lang", "web", "model")
# Stars in the chat; with WeChat Pay on, also a URL button with a one-time sign-in link to the web pay page.
TELEGRAM_PAYMENTS = (TELEGRAM_STARS, WECHAT_PAY_ON_WEB)


def addressed_text(message: Message, username: str, bot_id: int) -> str | None:
    """In a group, the text meant for the bot (its @mention removed), or None when it was not addressed."""
    text = message.text or ""
    mention = "@" + username.lower()
    mentioned = any(t.lower() == mention for t in message.parse_entities([MessageEntity.MENTION]).values())
    replied = message.reply_to_message is not None and message.reply_to_message.from_user is not None \
        and message.reply_to_message.from_user.id == bot_id
    if not (mentioned or replied):
        return None
    return re.sub(rf"(?i)(?<![\w@])@{re.escape(username)}(?!\w)[ \t]?", "", text).strip()


class Invoices(Protocol):
    """Sends the invoice for an order made by /buy (Telegram Stars: the payload is the order id)."""

    async def send_invoice(self, chat_id: int, order: Order, locale: str) -> None: ...


class LaneCanceller:
    """/cancel for one Telegram account: stops the answer this account asked for in the chat (on any worker)."""

    def __init__(self, lanes: ChatLanes, telegram_user_id: int):
        self._lanes = lanes
        self._asker = telegram_user_id

    async def cancel(self, chat_key: str, user_id: str) -> CancelOutcome:
        outcome = await self._lanes.cancel(int(chat_key.removeprefix(f"{CHANNEL}:")), self._asker)
        return "stopped" if outcome == "cancelled" else outcome


class CommandRunner:
    def __init__(self, commands: CommandService, texts: Texts, users: TelegramUsers, speaker: Speaker,
                 lanes: ChatLanes, invoices: Invoices, bot: Bot, admins: GroupAdmins | None = None):
        """`admins`: asked before /new, /role, /model and /mode in a group; None: everyone may run them."""
        self.commands = commands
        self._admins = admins
        self.texts = texts
        self._users = users
        self._speaker = speaker
        self._lanes = lanes
        self._invoices = invoices
        self._bot = bot

    async def context(self, update: Update, who: TelegramUser) -> CommandContext:
        chat = update.effective_chat
        assert chat is not None
        user, locale = await self._users.user_and_locale(who)
        group = chat.type != "private"
        return CommandContext(user=user, chat_key=chat_key(chat.id), channel=CHANNEL, locale=locale,
                              display_name=who.first_name, payments=TELEGRAM_PAYMENTS,
                              link_url=f"https://t.me/{self._bot.username}?start=link_{{code}}",
                              cancels=LaneCanceller(self._lanes, who.id), menu=TELEGRAM_MENU, group=group,
                              admins=self._group_admins(update, who) if group else None)

    def _group_admins(self, update: Update, who: TelegramUser) -> ChatAdmins | None:
        chat = update.effective_chat
        if self._admins is None or chat is None:
            return None
        return self._admins.asker(chat.id, who.id)

    async def run(self, update: Update, command: ParsedCommand) -> None:
        assert update.effective_user is not None
        ctx = await self.context(update, update.effective_user)
        await self.show(update, ctx, await self.commands.run(ctx, command))

    async def show(self, update: Update, ctx: CommandContext, result: CommandResult) -> None:
        """The result as a new message (with its buttons), and the Stars invoice when it made an order for one."""
        locale = result.locale or ctx.locale
        text = result_text(result, self.texts, locale)
        if text:
            await self._speaker.say(update, text, keyboard=result_keyboard(result, self.texts, locale))
        if result.payment is not None and result.payment.method == TELEGRAM_STARS.method \
                and update.effective_chat is not None:
            await self._invoices.send_invoice(update.effective_chat.id, result.payment.order, locale)

    def render(self, text: Text, ctx: CommandContext, result: CommandResult | None = None) -> str:
        return self.texts.render(text, (result.locale if result else None) or ctx.locale)


class TelegramMessages:
    """The message handlers: every text (commands and chat), and the one answer to anything else."""

    def __init__(self, runner: CommandRunner, speaker: Speaker, lanes: ChatLanes, bot: Bot,
                 modes: ChatModes | None = None):
        """`modes`: a group's /mode; without it (or in mode `mentions`) a group is answered only when it addresses
        the bot."""
        self._runner = runner
        self._modes = modes
        self._speaker = speaker
        self._lanes = lanes
        self._bot = bot

    def handlers(self) -> list[BaseHandler]:
        """PTB handlers, first match wins. Edited messages and channel posts are not answered."""
        only_new = filters.UpdateType.MESSAGE
        private = filters.ChatType.PRIVATE
        guard = self._speaker.guarded
        return [
            MessageHandler(only_new & filters.TEXT, guard(self.text)),
            MessageHandler(only_new & private & ~filters.TEXT & ~filters.StatusUpdate.ALL & ~filters.SUCCESSFUL_PAYMENT,
                           guard(self.not_text)),
        ]

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or sender is None or sender.is_bot:
            return
        text = message.text or ""
        private = chat.type == "private"
        if text.lstrip().startswith(("/", "／")):
            command = self._runner.commands.parse(text, bot_username=self._bot.username)
            # Another bot's command, or (in a group) one we do not have: not ours to answer.
            if command is not None and (command.known or private):
                await self._runner.run(update, command)
            return
        if not private:
            addressed = addressed_text(message, self._bot.username, self._bot.id)
            if addressed is None:
                if self._modes is None or await self._modes.reply_to(chat_key(chat.id)) != "all":
                    return
                addressed = text   # /mode all: every message is for the bot
            if not addressed:
                await self._speaker.tell(update, Text.of("chat.empty_mention"))
                return
            text = addressed
        command = self._runner.commands.parse(text)
        if command is not None:   # 余额, 新对话, 角色 海盗 ...
            await self._runner.run(update, command)
            return
        await self._lanes.submit(ChatJob(chat.id, chat.type, sender.id, sender.full_name, message.message_id, text,
                                         message.message_thread_id if message.is_topic_message else None,
                                         update.update_id, sender.language_code))

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._speaker.tell(update, Text.of("chat.text_only"))
