"""Telegram commands and chat messages: /start /help /new /role /balance /buy /link /cancel, and what to answer."""
from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, MessageHandler, filters

from adapters.telegram import texts
from adapters.telegram.lanes import ChatJob, ChatLanes
from adapters.telegram.parts import ChannelParts, chat_key, user_errors

MAX_BUTTON_DATA = 64


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


class Commands:
    def __init__(self, parts: ChannelParts, lanes: ChatLanes):
        self._parts = parts
        self._lanes = lanes

    def handlers(self) -> list[BaseHandler]:
        """PTB handlers, first match wins. Edited messages and channel posts are not answered."""
        only_new = filters.UpdateType.MESSAGE
        private = filters.ChatType.PRIVATE
        commands = {"start": self.start, "help": self.help, "new": self.new, "role": self.role,
                    "balance": self.balance, "buy": self.buy, "link": self.link, "cancel": self.cancel}
        found: list[BaseHandler] = [CommandHandler(name, user_errors(self._parts, fn), filters=only_new)
                                    for name, fn in commands.items()]
        found += [
            MessageHandler(only_new & filters.TEXT & ~filters.COMMAND, user_errors(self._parts, self.text)),
            MessageHandler(only_new & private & filters.COMMAND, user_errors(self._parts, self.unknown)),
            MessageHandler(only_new & private & ~filters.TEXT & ~filters.StatusUpdate.ALL & ~filters.SUCCESSFUL_PAYMENT,
                           user_errors(self._parts, self.not_text)),
        ]
        return found

    # --- chat ---

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or sender is None or sender.is_bot:
            return
        text = message.text or ""
        if chat.type != "private":
            addressed = addressed_text(message, self._parts.username, self._parts.bot_id)
            if addressed is None:
                return
            if not addressed:
                await self._parts.say(update, texts.EMPTY_MENTION)
                return
            text = addressed
        await self._lanes.submit(ChatJob(chat.id, chat.type, sender.id, sender.full_name, message.message_id, text,
                                         message.message_thread_id if message.is_topic_message else None,
                                         update.update_id))

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._parts.say(update, texts.TEXT_ONLY)

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._parts.say(update, "I don't know that command.\n\n" + texts.help_text(self._parts.stars_enabled))

    # --- commands ---

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None
        user = await self._parts.user(update.effective_user)
        arg = (context.args or [""])[0]
        if arg.startswith("link_"):
            await self._redeem(update, arg.removeprefix("link_"))
            return
        await self._parts.say(update, texts.welcome(update.effective_user.first_name, user.balance, user.is_new,
                                                    texts.help_text(self._parts.stars_enabled)))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._parts.say(update, texts.help_text(self._parts.stars_enabled))

    async def new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_chat is not None
        user = await self._parts.user(update.effective_user)
        await self._parts.services.conversations.start_new_chat(user.id, chat_key(update.effective_chat.id))
        await self._parts.say(update, "Started a new conversation: earlier messages are no longer used.")

    async def role(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_chat is not None
        conversations = self._parts.services.conversations
        key = chat_key(update.effective_chat.id)
        if context.args:
            user = await self._parts.user(update.effective_user)
            conv = await conversations.set_chat_role(user.id, key, " ".join(context.args))
            await self._parts.say(update, f"Role set: {conv.role}. A new conversation starts now.")
            return
        roles = [r for r in await conversations.roles() if len(f"role:{r.name}".encode()) <= MAX_BUTTON_DATA]
        if not roles:
            await self._parts.say(update, "No roles are configured.")
            return
        current = await conversations.for_chat(key)
        lines = [f"{'▸ ' if current and current.role == r.name else ''}{r.name}: {r.description}".rstrip(": ")
                 for r in roles]
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(r.name, callback_data=f"role:{r.name}")] for r in roles])
        await self._parts.say(update, "Choose a role for this chat:\n" + "\n".join(lines), keyboard=keyboard)

    async def balance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None
        services = self._parts.services
        user = await services.accounts.get((await self._parts.user(update.effective_user)).id)
        lines = [f"Balance: {user.balance:,} tokens ({user.available:,} available now)",
                 f"Storage: {texts.storage(user.storage_used_bytes, user.storage_limit_bytes)}"]
        orders = (await services.orders.list(user.id, None, 5, None)).items
        if orders:
            lines.append("Last purchases:")
            lines += [f"• {o.product_name}: {o.status} ({o.created_at:%Y-%m-%d})" for o in orders]
        await self._parts.say(update, "\n".join(lines))

    async def buy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.products_menu(update)

    async def products_menu(self, update: Update) -> None:
        if not self._parts.stars_enabled:
            await self._parts.say(update, texts.NO_STARS)
            return
        products = [p for p in await self._parts.services.orders.products() if p.stars > 0]
        if not products:
            await self._parts.say(update, texts.NO_PRODUCTS)
            return
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(f"{p.name}: {p.tokens:,} tokens for {p.stars} ⭐",
                                                               callback_data=f"buy:{p.id}")] for p in products])
        await self._parts.say(update, "Choose a pack (paid with Telegram Stars):", keyboard=keyboard)

    async def link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None
        if context.args:
            await self._redeem(update, context.args[0])
            return
        user = await self._parts.user(update.effective_user)
        code = await self._parts.services.accounts.new_link_code(user.id)
        await self._parts.say(update, f"Your link code: {code} (valid 5 minutes, single use).\n"
                                      f"Send /link {code} in the other chat, or open "
                                      f"https://t.me/{self._parts.username}?start=link_{code} in another "
                                      "Telegram account.")

    async def _redeem(self, update: Update, code: str) -> None:
        assert update.effective_user is not None
        user = await self._parts.user(update.effective_user)
        joined = await self._parts.services.accounts.redeem_link_code(code, user.id, attempt_by=f"user:{user.id}")
        await self._parts.say(update, f"Linked: this chat now uses the account {joined.name}, "
                                      f"balance {joined.balance:,} tokens.")

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_chat is not None
        outcome = await self._lanes.cancel(update.effective_chat.id, update.effective_user.id)
        if outcome == "nothing":
            await self._parts.say(update, texts.NOTHING_TO_CANCEL)
        elif outcome == "not_yours":
            await self._parts.say(update, texts.NOT_YOUR_ANSWER)
