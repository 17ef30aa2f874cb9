"""`bot chat` and `bot grant`: the engine driven from a terminal, through the same services as every channel."""
from __future__ import annotations

import asyncio
import contextlib
import sys

from bot.config import AppConfig
from bot.wiring import Services, open_services
from core.commands import CommandService
from core.commands_parse import ParsedCommand
from core.commands_results import WECHAT_NATIVE, CommandContext, CommandResult
from core.commands_text import as_plain_text
from core.domain import Identity, InboundMessage, User
from core.errors import DomainError
from core.i18n import Texts
from core.reply_stream import ReplyDone, ReplyFailed, ReplyGrew, follow_reply

CHANNEL = "cli"
CLI_ACTOR = "cli"          # who the audit log names for `bot grant`
# What /help lists in the terminal (/quit leaves); /buy and /paid only while WeChat Pay is on.
TERMINAL_MENU = ("help", "new", "role", "roles", "balance", "buy", "paid", "link", "lang", "model")
QUIT = ("/quit", "/exit")


async def resolve_user(services: Services, ref: str) -> User:
    """A user by id, or by `channel:external_id`."""
    if ":" in ref:
        channel, external_id = ref.split(":", 1)
        user = await services.repos.users.find_by_identity(Identity(channel, external_id))
    else:
        user = await services.repos.users.get(ref)
    if user is None:
        raise DomainError(f"No user {ref!r} (give a user id or channel:external_id).", reason="not_found")
    return user


async def grant(config: AppConfig, ref: str, tokens: int) -> int:
    async with open_services(config, background=False) as services:
        try:
            user = await resolve_user(services, ref)
        except DomainError as e:
            print(e.message, file=sys.stderr)
            return 1
        try:   # the console's grant: one `adjustment` entry, and the audit log names the command line
            after = await services.admin.adjust(CLI_ACTOR, user.id, tokens, "cli grant")
        except DomainError as e:
            print(e.message, file=sys.stderr)
            return 1
        print(f"user {user.id} ({user.name}): {tokens:+d} tokens, balance {after.balance}")
        return 0


async def _read_line(prompt: str) -> str | None:
    print(prompt, end="", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


def _payment_hooks(config: AppConfig) -> list:
    if not config.payments.wechatpay.enabled:
        return []
    from bot.payments_wiring import wechatpay_hook

    return [wechatpay_hook(config)]


async def chat(config: AppConfig, name: str) -> int:
    """The engine and the command layer from a terminal, in i18n.default_locale (or the user's /lang)."""
    async with open_services(config, hooks=_payment_hooks(config)) as services:
        user = await services.accounts.ensure_user(Identity(CHANNEL, name), name)
        terminal = Terminal(services.commands, services.texts)
        print(services.texts.get("cli.chatting_as", terminal.locale(user), name=user.name, balance=user.balance))
        while (line := await _read_line("you> ")) is not None:
            text = line.strip()
            if not text:
                continue
            if text in QUIT:
                break
            user = await services.accounts.get(user.id)   # /lang and /link change who and which language
            command = services.commands.parse(text)
            if command is not None:
                print(await terminal.run(user, command))
                continue
            locale = terminal.locale(user)
            await terminal.answer(services, InboundMessage(user.id, text, chat_key=f"{CHANNEL}:{user.id}",
                                                           locale=locale), locale)
        return 0


class Terminal:
    """Shows command results and answers as terminal text; a WeChat Pay code_url is drawn as a QR code."""

    def __init__(self, commands: CommandService, texts: Texts):
        self._commands = commands
        self._texts = texts

    def locale(self, user: User) -> str:
        return self._texts.locale_for(user.locale)

    async def run(self, user: User, command: ParsedCommand) -> str:
        ctx = CommandContext(user=user, chat_key=f"{CHANNEL}:{user.id}", channel=CHANNEL, locale=self.locale(user),
                             display_name=user.name, payments=(WECHAT_NATIVE,), menu=TERMINAL_MENU)
        return self.show(await self._commands.run(ctx, command), ctx.locale)

    def show(self, result: CommandResult, locale: str) -> str:
        locale = result.locale or locale
        payment = result.payment
        if payment is not None and payment.url:
            from adapters.wechatpay.qr import terminal_text

            order = payment.order
            return (terminal_text(payment.url) + payment.url + "\n" +
                    self._texts.get("buy.pay_scan", locale, price=str(order.price), currency=order.currency,
                                    product=order.product_name, order=order.id))
        return as_plain_text(result, self._texts, locale)

    async def answer(self, services: Services, inbound: InboundMessage, locale: str) -> None:
        print("bot> ", end="", flush=True)
        async with contextlib.aclosing(follow_reply(services.engine.reply(inbound))) as updates:
            async for update in updates:
                if isinstance(update, ReplyGrew):
                    print(update.delta, end="", flush=True)
                elif isinstance(update, ReplyDone):
                    if update.sources is not None:
                        print("\n" + self._texts.render(update.sources, locale), end="")
                    print("\n   " + self._texts.get("reply.usage", locale, tokens=update.usage.total_tokens,
                                                    cost=update.message.cost))
                elif isinstance(update, ReplyFailed):
                    # The user's words, then the engine's own sentence for the operator at the keyboard.
                    print(("\n" if update.partial else "") + self._texts.render(update.error, locale))
                    print(f"   [{update.reason}] {update.detail}")
