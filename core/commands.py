"""CommandService: the one command layer every channel calls; a command in, a CommandResult (Text keys, choices,
a payment, a link) out. Channels render results; they never decide what a command does.

How a channel uses it:
    command = commands.parse(text, aliases=..., bot_username=...)     # None: chat for the model
    result = await commands.run(ctx, command)                          # or commands.choose(ctx, "role:pirate")
    locale = result.locale or ctx.locale                               # /lang answers in the new language
    texts.join(result.texts, locale) (+ choices as buttons or lines, result.payment, result.link)
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable, Mapping, Sequence

from core.accounts import AccountService
from core.catalog import ModelCatalog
from core.commands_account import AccountCommands, help_texts
from core.commands_chat import ChatCommands
from core.chat_modes import ChatModes
from core.commands_group import GroupCommands, refused_in_group
from core.commands_parse import COMMANDS, GROUP_ONLY, PAYING, ParsedCommand, as_command, parse_command
from core.commands_results import (
    CommandContext, CommandResult, LoginConfirmations, ModelPreferences, PaymentOption, PayPageLinks, SignInLinks,
)
from core.commands_shop import ShopCommands
from core.conversations import ConversationService
from core.errors import DomainError
from core.i18n import LOCALES, Text
from core.i18n_errors import error_text
from core.orders import OrderService
from core.usage_limits import UsageLimits

log = logging.getLogger(__name__)

Handler = Callable[[CommandContext, str], Awaitable[CommandResult]]


class CommandService:
    def __init__(self, *, accounts: AccountService, conversations: ConversationService, orders: OrderService,
                 catalog: ModelCatalog, locales: Sequence[str] = LOCALES, sign_in: SignInLinks | None = None,
                 models: ModelPreferences | None = None, logins: LoginConfirmations | None = None,
                 limits: UsageLimits | None = None, chat_modes: ChatModes | None = None,
                 pay_pages: PayPageLinks | None = None):
        """`pay_pages` with `sign_in`: /buy in a channel that offers the web pay page by a sign-in link (Telegram)."""
        self._orders = orders
        account = AccountCommands(accounts, orders, locales, sign_in, logins, self.menu, limits)
        chat = ChatCommands(conversations, catalog, models)
        shop = ShopCommands(orders, accounts, sign_in, pay_pages)
        group = GroupCommands(chat_modes)
        self._handlers: Mapping[str, Handler] = {
            "start": account.start, "help": account.help, "balance": account.balance, "link": account.link,
            "lang": account.lang, "web": account.web, "confirm": account.confirm,
            "new": chat.new, "role": chat.role, "roles": chat.roles, "model": chat.model, "cancel": chat.cancel,
            "buy": shop.buy, "paid": shop.paid, "mode": group.mode,
        }
        assert set(self._handlers) == set(COMMANDS)

    @staticmethod
    def parse(text: str, aliases: Mapping[str, str] | None = None,
              bot_username: str | None = None) -> ParsedCommand | None:
        """The command in a chat message, or None when the message is for the model."""
        return parse_command(text, aliases, bot_username)

    async def run(self, ctx: CommandContext, command: ParsedCommand | str) -> CommandResult:
        """Run a command; a user's mistake or a refused action comes back as a result with `error` set."""
        if ctx.user.blocked:   # an operator blocked this user: every command answers so (core/admin_access.py)
            return CommandResult("blocked", (Text.of("error.user_blocked"),), error="user_blocked")
        if isinstance(command, str):
            parsed = parse_command(command)
            if parsed is None:
                return self._unknown(ctx, command.strip())
            command = parsed
        handler = self._handlers.get(command.name) if command.known else None
        if handler is None:
            return self._unknown(ctx, command.name)
        try:
            refused = await refused_in_group(ctx, command.name)
            if refused is not None:
                return refused
            return await handler(ctx, command.arg)
        except DomainError as e:
            log.info("command /%s for %s refused: %s (%s)", command.name, ctx.user.id, e.reason, e.message)
            return CommandResult(command.name, (error_text(e),), error=e.reason)

    def menu(self, ctx: CommandContext) -> tuple[str, ...]:
        """The commands help lists in this chat's channel (see `listed`)."""
        return self.listed(ctx.menu, ctx.payments)

    def listed(self, menu: Sequence[str], payments: Sequence[PaymentOption]) -> tuple[str, ...]:
        """The commands a channel lists in help (and Telegram's setMyCommands shows): its menu, or every command;
        /buy and /paid only when one of the channel's ways to pay is on."""
        can_pay = any(o.is_on(self._orders.providers) for o in payments)
        listed = menu or tuple(c for c in COMMANDS if c not in GROUP_ONLY)
        return tuple(c for c in listed if can_pay or c not in PAYING)

    async def choose(self, ctx: CommandContext, choice_id: str) -> CommandResult:
        """A pressed button or a chosen list entry: the Choice.id of an earlier result."""
        command = as_command(choice_id)
        if command is None or not command.arg:
            return CommandResult("choose", (Text.of("button.expired"),), toast=Text.of("button.expired"),
                                 error="unknown_choice")
        return await self.run(ctx, command)

    def _unknown(self, ctx: CommandContext, name: str) -> CommandResult:
        texts = (Text.of("command.unknown", name=name.lstrip("/")), Text.plain(""), *help_texts(self.menu(ctx)))
        return CommandResult("unknown", texts, error="unknown_command")
