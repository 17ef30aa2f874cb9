"""Text commands in WeChat (/new, /role, /balance, /buy, /link, /help), their aliases and menu keys."""
from __future__ import annotations

import time

from core.domain import User
from core.errors import DomainError
from core.login import LoginRequest

HELP = ("Commands:\n/new — start a new conversation\n/role [NAME] — list roles, or talk to one\n"
        "/balance — your tokens\n/buy [ID] — list products, or buy one with WeChat Pay\n"
        "/link [CODE] — link another chat account\n/help — this list")
WECHAT_PAY = "wechat_native"
NO_PAYMENT = "WeChat Pay is not configured for this account yet, so nothing can be bought here."


def help_text(can_pay: bool) -> str:
    """The command list; /buy only when WeChat Pay is on."""
    return HELP if can_pay else "\n".join(line for line in HELP.split("\n") if not line.startswith("/buy"))


CONFIRM_WORDS = ("确认", "確認", "confirm", "/confirm")
LOGIN_CONFIRMED = "Login confirmed. You can go back to the web page."
NOTHING_TO_CONFIRM = "There is no sign-in waiting for your confirmation (a login QR code lives 5 minutes)."


def is_confirm_word(text: str) -> bool:
    return text.strip().casefold() in CONFIRM_WORDS


def confirm_prompt(request: LoginRequest, now: float | None = None) -> str:
    """The message after a login QR is scanned: what asks to sign in, and how to allow it."""
    now = time.time() if now is None else now
    asked = time.strftime("%H:%M UTC", time.gmtime(request.opened_at))
    minutes = max(1, request.seconds_left(now) // 60)
    who = request.requester or "a web browser"
    return (f"Sign-in request: {who} asked at {asked} to sign in to your account.\n"
            f"If that was you, reply 确认 (or confirm) within {minutes} minutes.\n"
            "If it was not you, ignore this message: nobody is signed in without your confirmation.")


def normalize_command(text: str, aliases: dict[str, str]) -> str | None:
    """The command a message asks for ("/role pirate"), through the configured aliases; None for chat."""
    text = text.strip()
    if text.startswith("／"):  # a full-width slash from a Chinese input method
        text = "/" + text[1:]
    if text.startswith("/"):
        return text
    folded = text.casefold()
    for word, command in aliases.items():
        word_folded = word.strip().casefold()
        if not word_folded:
            continue
        if folded == word_folded:
            return command
        if folded.startswith(word_folded + " "):
            return f"{command} {text[len(word.strip()):].strip()}"
    return None


class WeChatCommands:
    """Runs one command for a user and returns the text to answer; errors become readable text."""

    def __init__(self, services):
        self._s = services

    async def run(self, user: User, chat_key: str, command: str) -> str:
        name, _, arg = command.strip().partition(" ")
        name, arg = name.lower().lstrip("/"), arg.strip()
        handler = {"new": self._new, "role": self._role, "balance": self._balance, "buy": self._buy,
                   "link": self._link, "help": self._help, "start": self._help,
                   "confirm": self._confirm}.get(name)
        if handler is None:
            return f"Unknown command /{name}.\n\n{help_text(self._can_pay)}"
        try:
            return await handler(user, chat_key, arg)
        except DomainError as e:
            return e.message

    @property
    def _can_pay(self) -> bool:
        return WECHAT_PAY in self._s.orders.providers

    async def _help(self, user: User, chat_key: str, arg: str) -> str:
        return help_text(self._can_pay)

    async def _new(self, user: User, chat_key: str, arg: str) -> str:
        conv = await self._s.conversations.start_new_chat(user.id, chat_key)
        suffix = f" (role: {conv.role})" if conv.role else ""
        return f"Started a new conversation{suffix}. Send your first message."

    async def _role(self, user: User, chat_key: str, arg: str) -> str:
        if arg:
            role = await self._s.conversations.role(arg)
            await self._s.conversations.set_chat_role(user.id, chat_key, role.name)
            return f"Now talking as {role.name}. A new conversation has started."
        roles = await self._s.conversations.roles()
        if not roles:
            return "No roles are configured."
        current = await self._s.conversations.for_chat(chat_key)
        active = current.role if current else None
        lines = [f"{'• ' if r.name == active else ''}{r.name} — {r.description}".rstrip(" —") for r in roles]
        return "Roles:\n" + "\n".join(lines) + "\n\nSend /role NAME to switch."

    async def _balance(self, user: User, chat_key: str, arg: str) -> str:
        fresh = await self._s.accounts.get(user.id)
        held = f" ({fresh.available} available, {fresh.held} reserved for replies in progress)" if fresh.held else ""
        return f"Your balance: {fresh.balance} tokens{held}."

    async def _buy(self, user: User, chat_key: str, arg: str) -> str:
        orders = self._s.orders
        if not self._can_pay:  # said before any order exists: nothing unpaid is left behind
            return NO_PAYMENT
        if not arg:
            products = await orders.products()
            if not products:
                return "Nothing is for sale right now."
            lines = [f"{p.id}: {p.name} — {p.price} {p.currency}, {p.tokens} tokens" for p in products]
            return "Products:\n" + "\n".join(lines) + "\n\nSend /buy ID to buy one."
        order = await orders.create(user.id, arg, note="wechat")
        order = await orders.pay(user.id, order.id, WECHAT_PAY)
        return (f"Order {order.id}: {order.product_name}, {order.price} {order.currency}.\n"
                f"Pay with WeChat Pay: {order.payment_ref}\n"
                "Your tokens are added as soon as the payment arrives.")

    async def _confirm(self, user: User, chat_key: str, arg: str) -> str:
        return LOGIN_CONFIRMED if await self._s.qr_login.confirm(user.id) else NOTHING_TO_CONFIRM

    async def _link(self, user: User, chat_key: str, arg: str) -> str:
        accounts = self._s.accounts
        if not arg:
            code = await accounts.new_link_code(user.id)
            return (f"Your link code: {code} (valid 5 minutes, single use). Send /link {code} in the other chat, "
                    "or use it on the web.")
        joined = await accounts.redeem_link_code(arg, user.id, attempt_by=f"user:{user.id}")
        return f"Linked. This chat now shares one account: balance {joined.balance} tokens."
