"""`bot chat` and `bot grant`: the engine driven from a terminal, through the same services as every channel."""
from __future__ import annotations

import asyncio
import sys
import uuid

from bot.config import AppConfig
from bot.wiring import Services, open_services
from core.chat import ReplyDelta, ReplyFinished
from core.domain import Identity, InboundMessage, User
from core.errors import DomainError

HELP = ("Commands: /new (fresh conversation), /role NAME, /roles, /balance, /buy [PRODUCT] (pay by WeChat Pay), "
        "/paid (check the last payment), /help, /quit")
HELP_NO_PAYMENT = "Commands: /new (fresh conversation), /role NAME, /roles, /balance, /help, /quit"
NO_PAYMENT = "Buying needs WeChat Pay, which is not configured (payments.wechatpay), so nothing can be bought here."
WECHAT_PAY = "wechat_native"


def help_text(services: Services) -> str:
    """The command list; /buy and /paid only when a payment method works here."""
    return HELP if WECHAT_PAY in services.orders.providers else HELP_NO_PAYMENT


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
        op = services.quota.credit if tokens >= 0 else services.quota.debit
        entry = await op(user.id, abs(tokens), "adjustment", key=f"adjustment:{uuid.uuid4()}", ref="cli grant")
        balance = entry.balance_after if entry else user.balance
        print(f"user {user.id} ({user.name}): {tokens:+d} tokens, balance {balance}")
        return 0


async def _read_line(prompt: str) -> str | None:
    print(prompt, end="", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else None


def _payment_hooks(config: AppConfig) -> list:
    if not config.payments.wechatpay.enabled:
        return []
    from adapters.wechatpay.gateway import service_hook

    return [service_hook(config)]


async def chat(config: AppConfig, name: str) -> int:
    async with open_services(config, hooks=_payment_hooks(config)) as services:
        user = await services.accounts.ensure_user(Identity("cli", name), name)
        chat_key = f"cli:{user.id}"
        print(f"Chatting as {user.name} (balance {user.balance}). {help_text(services)}")
        while (line := await _read_line("you> ")) is not None:
            text = line.strip()
            if not text:
                continue
            if text in ("/quit", "/exit"):
                break
            try:
                if text.startswith("/"):
                    print(await _command(services, user.id, chat_key, text))
                    continue
                await _stream(services, InboundMessage(user.id, text, chat_key=chat_key))
            except DomainError as e:
                print(f"[{e.reason}] {e.message}")
        return 0


async def _stream(services: Services, inbound: InboundMessage) -> None:
    print("bot> ", end="", flush=True)
    async for event in services.engine.reply(inbound):
        if isinstance(event, ReplyDelta):
            print(event.text, end="", flush=True)
        elif isinstance(event, ReplyFinished):
            print(f"\n   ({event.message.usage.total_tokens} tokens, cost {event.message.cost})")


async def _command(services: Services, user_id: str, chat_key: str, text: str) -> str:
    name, _, arg = text.partition(" ")
    if name == "/new":
        await services.conversations.start_new_chat(user_id, chat_key)
        return "Started a new conversation."
    if name == "/roles":
        return "\n".join(f"{r.name}: {r.description}" for r in await services.conversations.roles()) or "No roles."
    if name == "/role":
        await services.conversations.set_chat_role(user_id, chat_key, arg.strip())
        return f"Role set to {arg.strip()}; a new conversation starts."
    if name == "/buy":
        return await _buy(services, user_id, arg.strip())
    if name == "/paid":
        return await _paid(services, user_id)
    if name == "/balance":
        user = await services.accounts.get(user_id)
        return f"Balance: {user.balance} tokens ({user.available} available)."
    return help_text(services)


async def _buy(services: Services, user_id: str, product_id: str) -> str:
    """Order a product and pay with WeChat Pay Native: the QR code is drawn right here in the terminal."""
    if WECHAT_PAY not in services.orders.providers:  # said before any order exists: none is left unpaid
        return NO_PAYMENT
    if not product_id:
        return "\n".join([f"{p.id}: {p.name}, {p.price} {p.currency}, {p.tokens} tokens"
                          for p in await services.orders.products()] + ["Buy one with /buy PRODUCT."])
    from adapters.wechatpay.qr import terminal_text

    order = await services.orders.create(user_id, product_id)
    order = await services.orders.pay(user_id, order.id, WECHAT_PAY)
    return (f"{terminal_text(order.payment_ref or '')}Scan with WeChat to pay {order.price} {order.currency} "
            f"for {order.product_name} (order {order.id}, {order.payment_ref}). Then type /paid.")


async def _paid(services: Services, user_id: str) -> str:
    page = await services.orders.list(user_id, "paying", 1, None)
    if not page.items:
        return "No payment is waiting; /buy starts one."
    order = await services.orders.check_payment(page.items[0])
    if order.status == "paid":
        return f"Paid: {order.tokens} tokens credited, balance {(await services.accounts.get(user_id)).balance}."
    return f"Order {order.id} is {order.status}; not paid yet."
