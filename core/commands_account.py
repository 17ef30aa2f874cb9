"""Account commands: /start, /help, /balance, /link, /lang, /web, /confirm."""
from __future__ import annotations

import math
import time
from typing import Callable, Sequence

from core.accounts import AccountService
from core.commands_results import Choice, CommandContext, CommandResult, LoginConfirmations, SignInLinks
from core.i18n import Text, normalize_locale
from core.login import LoginRequest
from core.orders import OrderService
from core.usage_limits import LimitsSummary, UsageLimits

LINK_PREFIX = "link_"          # /start link_CODE: Telegram's deep link that redeems a link code
RECENT_ORDERS = 5
MB = 1024 * 1024


def help_texts(menu: Sequence[str]) -> tuple[Text, ...]:
    """The help: a line per command of `menu` (CommandService.menu gives a channel's)."""
    blank = Text.plain("")
    lines = [Text.of("help.line", command=c, about=Text.of(f"menu.{c}")) for c in menu]
    return (Text.of("help.intro"), blank, Text.of("help.commands"), *lines, blank, Text.of("help.more"),
            Text.of("help.aliases"))


def login_prompt(request: LoginRequest, now: float) -> Text:
    """What the scanner of a login QR is asked (WeChat SCAN): who asks, since when, and how to allow it."""
    if request.address and request.agent:
        who = Text.of("login.browser_agent_at", agent=request.agent, address=request.address)
    elif request.address:
        who = Text.of("login.browser_at", address=request.address)
    else:
        who = Text.plain(request.requester) if request.requester else Text.of("login.someone")
    return Text.of("login.confirm_prompt", who=who, time=time.strftime("%H:%M UTC", time.gmtime(request.opened_at)),
                   minutes=max(1, request.seconds_left(now) // 60))


def limits_texts(summary: LimitsSummary) -> tuple[Text, ...]:
    """The free allowance (left this period, when it renews) and the rate limit, as /balance and /web/me say them;
    nothing for what is not configured."""
    lines = []
    allowance = summary.allowance
    if allowance is not None:
        lines.append(Text.of("balance.allowance", left=allowance.left, tokens=allowance.tokens,
                             every=Text.of(f"balance.every.{allowance.every}"),
                             renews=f"{allowance.renews_at:%Y-%m-%d %H:%M} UTC"))
    rate = summary.rate_limit
    if rate is not None:
        if rate.exempt:
            lines.append(Text.of("balance.rate_exempt"))
        else:
            lines.append(Text.of("balance.rate_limit", messages=rate.messages, per=Text.of(f"balance.per.{rate.per}"),
                                 used=rate.used, minutes=max(1, math.ceil(rate.resets_in_seconds / 60))))
    return tuple(lines)


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f}"


class AccountCommands:
    def __init__(self, accounts: AccountService, orders: OrderService, locales: Sequence[str],
                 sign_in: SignInLinks | None, logins: LoginConfirmations | None,
                 menu: Callable[[CommandContext], tuple[str, ...]], limits: UsageLimits | None = None):
        self._accounts = accounts
        self._limits = limits
        self._orders = orders
        self._locales = tuple(locales)
        self._sign_in = sign_in
        self._logins = logins
        self._menu = menu

    async def start(self, ctx: CommandContext, arg: str) -> CommandResult:
        if arg.startswith(LINK_PREFIX):
            return await self.link(ctx, arg.removeprefix(LINK_PREFIX))
        user = await self._accounts.get(ctx.user.id)
        key = "welcome.new" if ctx.user.is_new else "welcome.back"
        greeting = Text.of(key, name=ctx.display_name or user.name, balance=user.balance)
        return CommandResult("start", (greeting, Text.plain(""), *help_texts(self._menu(ctx))))

    async def help(self, ctx: CommandContext, arg: str) -> CommandResult:
        return CommandResult("help", help_texts(self._menu(ctx)))

    async def balance(self, ctx: CommandContext, arg: str) -> CommandResult:
        """The same facts in every channel: balance, held, the free allowance and the rate limit when configured,
        storage used and limit, the last orders."""
        if self._limits is not None:
            await self._limits.renew(ctx.user.id)   # this period's allowance is in the balance shown
        user = await self._accounts.get(ctx.user.id)
        lines = [Text.of("balance.tokens", balance=user.balance, available=user.available),
                 Text.of("balance.held", held=user.held)]
        if self._limits is not None:
            lines += limits_texts(await self._limits.summary(user))
        lines.append(Text.of("balance.storage", used=_megabytes(user.storage_used_bytes),
                             limit=_megabytes(user.storage_limit_bytes)))
        orders = (await self._orders.list(user.id, None, RECENT_ORDERS, None)).items
        if orders:
            lines.append(Text.of("balance.orders"))
            lines += [Text.of("balance.order", product=o.product_name, status=Text.of(f"order.status.{o.status}"),
                              date=f"{o.created_at:%Y-%m-%d}") for o in orders]
        else:
            lines.append(Text.of("balance.no_orders"))
        return CommandResult("balance", tuple(lines))

    async def link(self, ctx: CommandContext, arg: str) -> CommandResult:
        if arg:
            joined = await self._accounts.redeem_link_code(arg, ctx.user.id)
            return CommandResult.say("link", "link.done", name=joined.name, balance=joined.balance)
        code = await self._accounts.new_link_code(ctx.user.id)
        if ctx.link_url:
            return CommandResult.say("link", "link.code_deep_link", code=code, url=ctx.link_url.format(code=code))
        return CommandResult.say("link", "link.code", code=code)

    async def lang(self, ctx: CommandContext, arg: str) -> CommandResult:
        if not arg:
            choices = tuple(Choice(f"lang:{loc}", Text.of(f"lang.name.{loc}"), selected=loc == ctx.locale)
                            for loc in self._locales)
            return CommandResult("lang", (Text.of("lang.choose"),), choices)
        locale = normalize_locale(arg)
        if locale not in self._locales:
            names = ", ".join(self._locales)
            return CommandResult("lang", (Text.of("lang.unknown", names=names),), error="unknown_locale")
        await self._accounts.set_locale(ctx.user.id, locale)
        return CommandResult("lang", (Text.of("lang.set"),), toast=Text.of("lang.set"), locale=locale)

    async def web(self, ctx: CommandContext, arg: str) -> CommandResult:
        if self._sign_in is None:  # TODO(web pages issue): wire the one-time sign-in link service
            return CommandResult("web", (Text.of("web.unavailable"),), error="unavailable")
        link = await self._sign_in.issue(ctx.user.id)
        return CommandResult("web", (Text.of("web.link", url=link.url),), link=link)

    async def confirm(self, ctx: CommandContext, arg: str) -> CommandResult:
        if self._logins is None:
            return CommandResult("confirm", (Text.of("confirm.unavailable"),), error="unavailable")
        if await self._logins.confirm(ctx.user.id):
            return CommandResult.say("confirm", "confirm.done")
        return CommandResult("confirm", (Text.of("confirm.nothing"),), error="nothing_to_confirm")
