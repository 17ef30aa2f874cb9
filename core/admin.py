"""AdminService: what an operator does to users, balances, orders and the catalogue, each step in the audit log."""
from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from core.audit import AuditLog
from core.conversations import ConversationService
from core.domain import Order, Page, Product, Role, User
from core.errors import InvalidRequest, NotFound
from core.menu import WeChatMenu
from core.orders import OrderService
from core.ports import MessageRepository, ProductRepository, UserRepository
from core.quota import QuotaLedger

MAX_ADJUSTMENT = 10**12
MAX_REASON = 200


def as_record(value: Any) -> Any:
    """A domain value as the audit log keeps it (JSON: dataclasses as dicts, decimals and dates as text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_record(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): as_record(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_record(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class AdminService:
    """`actor` names the operator ("admin:ops-key", "cli:alice"); it is what the audit log shows as who."""

    def __init__(self, *, users: UserRepository, quota: QuotaLedger, orders: OrderService,
                 conversations: ConversationService, messages: MessageRepository, products: ProductRepository,
                 audit: AuditLog, menu: WeChatMenu | None = None):
        self._users = users
        self._quota = quota
        self._orders = orders
        self._conversations = conversations
        self._messages = messages
        self._products = products
        self.audit = audit
        self.menu = menu

    async def record(self, actor: str, action: str, target: str, before: Any = None, after: Any = None) -> None:
        await self.audit.record(actor, action, target, as_record(before), as_record(after))

    async def user(self, user_id: str) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    # --- users ------------------------------------------------------------------------------------

    async def set_blocked(self, actor: str, user_id: str, blocked: bool) -> User:
        """Block (every channel answers error.user_blocked, the API 403 user_blocked) or unblock a user."""
        before = await self.user(user_id)
        await self._users.set_blocked(user_id, blocked)
        await self.record(actor, "user.block" if blocked else "user.unblock", f"user:{user_id}",
                          {"blocked": before.blocked}, {"blocked": blocked})
        return await self.user(user_id)

    async def adjust(self, actor: str, user_id: str, tokens: int, reason: str) -> User:
        """Grant (tokens > 0) or deduct (tokens < 0) with a reason: one ledger entry `adjustment`. A deduction
        never takes the balance below what is held or below zero."""
        reason = " ".join(reason.split())[:MAX_REASON]
        if not reason:
            raise InvalidRequest("Say why (a reason is kept with the ledger entry).", reason="reason_required")
        if tokens == 0 or abs(tokens) > MAX_ADJUSTMENT:
            raise InvalidRequest(f"tokens must be a non-zero whole number up to {MAX_ADJUSTMENT}.")
        before = await self.user(user_id)
        key = f"adjustment:{uuid.uuid4()}"
        if tokens > 0:
            entry = await self._quota.credit(user_id, tokens, "adjustment", key=key, ref=reason)
        else:
            entry = await self._quota.debit(user_id, -tokens, "adjustment", key=key, ref=reason)
        after = await self.user(user_id)
        await self.record(actor, "ledger.adjust", f"user:{user_id}", {"balance": before.balance},
                          {"balance": after.balance, "amount": entry.amount if entry else 0, "reason": reason})
        return after

    async def show_messages(self, actor: str, user_id: str, conversation_id: str, limit: int = 100) -> Page:
        """A conversation's message bodies: an operator reads them only through this, and it is audited."""
        conversation = await self._conversations.get(user_id, conversation_id)
        page = await self._messages.list(conversation.id, limit, None)
        await self.record(actor, "conversation.show", f"conversation:{conversation.id}", None,
                          {"user_id": user_id, "messages": len(page.items)})
        return page

    # --- orders -----------------------------------------------------------------------------------

    async def refund(self, actor: str, order_id: str) -> Order:
        before = await self._orders.get(None, order_id)
        after = await self._orders.refund(order_id)
        await self.record(actor, "order.refund", f"order:{order_id}", {"status": before.status},
                          {"status": after.status, "tokens": after.tokens})
        return after

    # --- the catalogue ----------------------------------------------------------------------------

    async def put_role(self, actor: str, role: Role) -> Role:
        before = await self._conversations.roles()
        old = next((r for r in before if r.name == role.name), None)
        saved = await self._conversations.put_role(role)
        await self.record(actor, "role.put", f"role:{role.name}", old, saved)
        return saved

    async def delete_role(self, actor: str, name: str) -> None:
        old = await self._conversations.role(name)
        await self._conversations.delete_role(name)
        await self.record(actor, "role.delete", f"role:{name}", old, None)

    async def put_product(self, actor: str, product: Product) -> Product:
        if product.price < 0 or product.tokens < 0:
            raise InvalidRequest("price and tokens must not be negative.")
        old = await self._products.get(product.id)
        saved = await self._orders.put_product(product)
        await self.record(actor, "product.put", f"product:{product.id}", old, saved)
        return saved

    async def products(self) -> list[Product]:
        """Every product, those taken off sale too."""
        return await self._products.list(include_inactive=True)

    async def remove_product(self, actor: str, product_id: str) -> None:
        old = await self._products.get(product_id)
        await self._orders.remove_product(product_id)
        await self.record(actor, "product.remove", f"product:{product_id}", old, None)

    # --- WeChat menu keys -------------------------------------------------------------------------

    def _menu(self) -> WeChatMenu:
        if self.menu is None:
            raise InvalidRequest("WeChat menu keys are not kept in this configuration.")
        return self.menu

    async def put_menu_key(self, actor: str, key: str, action: str) -> None:
        """Add or change a key; the next CLICK on any worker runs the new action."""
        before, after = await self._menu().put(key, action)
        await self.record(actor, "menu.put", f"menu:{key.strip()}", None if before is None else {"action": before},
                          {"action": after})

    async def delete_menu_key(self, actor: str, key: str) -> None:
        before = await self._menu().delete(key)
        await self.record(actor, "menu.delete", f"menu:{key}", {"action": before}, None)
