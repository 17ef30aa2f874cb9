"""In-memory conversations, messages, roles, products, orders and the ephemeral store (see memory.py)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from core.domain import Citation, Conversation, Message, Order, Page, Product, Role, Usage
from tests.unit.memory import CONVERSATION_FIELDS, ORDER_FIELDS, MemoryDatabase, _page


class MemoryConversations:
    def __init__(self, db: MemoryDatabase):
        self._db = db
        self._order: dict[str, int] = {}

    async def create(self, user_id: str, *, title: str = "", instruction: str | None = None,
                     role: str | None = None, resource_ids: Iterable[str] = (),
                     chat_key: str | None = None, model: str | None = None) -> Conversation:
        now = self._db.clock()
        conv = Conversation(str(uuid.uuid4()), user_id, title[:200], instruction, role, tuple(resource_ids), "", 0, 0,
                            now, now, chat_key, model)
        self._db.conversations[conv.id] = conv
        self._order[conv.id] = next(self._db.seq)
        self._db.wrote("conversations.create", conv)
        return conv

    async def get(self, conversation_id: str) -> Conversation | None:
        return self._db.conversations.get(conversation_id)

    def _newest_first(self, convs: Iterable[Conversation]) -> list[Conversation]:
        return sorted(convs, key=lambda c: self._order.get(c.id, 0), reverse=True)

    async def latest_for_chat(self, chat_key: str) -> Conversation | None:
        mine = self._newest_first(c for c in self._db.conversations.values() if c.chat_key == chat_key)
        return mine[0] if mine else None

    async def list_for_user(self, user_id: str, limit: int, cursor: str | None) -> Page:
        mine = self._newest_first(c for c in self._db.conversations.values() if c.user_id == user_id)
        return _page(mine, limit, cursor)

    async def update(self, conversation_id: str, **fields: object) -> Conversation | None:
        if set(fields) - CONVERSATION_FIELDS:
            raise ValueError(f"cannot update {', '.join(sorted(set(fields) - CONVERSATION_FIELDS))}")
        conv = self._db.conversations.get(conversation_id)
        if conv is None:
            return None
        if "resource_ids" in fields:
            fields["resource_ids"] = tuple(fields["resource_ids"])  # type: ignore[arg-type]
        conv = self._db.conversations[conversation_id] = replace(conv, **fields)  # type: ignore[arg-type]
        self._db.wrote("conversations.update", (conversation_id, fields))
        return conv

    async def delete(self, conversation_id: str) -> bool:
        for mid in [m.id for m in self._db.messages.values() if m.conversation_id == conversation_id]:
            del self._db.messages[mid]
        self._db.wrote("conversations.delete", conversation_id)
        return self._db.conversations.pop(conversation_id, None) is not None

    async def add_token_usage(self, conversation_id: str, tokens: int) -> None:
        conv = self._db.conversations[conversation_id]
        self._db.conversations[conversation_id] = replace(conv, token_usage=conv.token_usage + tokens,
                                                          updated_at=self._db.clock())

    async def set_summary(self, conversation_id: str, summary: str, until_seq: int) -> None:
        conv = self._db.conversations[conversation_id]
        self._db.conversations[conversation_id] = replace(conv, summary=summary, summary_until=until_seq)
        self._db.wrote("conversations.set_summary", (conversation_id, summary, until_seq))


class MemoryMessages:
    def __init__(self, db: MemoryDatabase):
        self._db = db

    async def add(self, *, conversation_id: str, user_id: str, role: str, content: str, model: str | None = None,
                  status: str = "complete", usage: Usage = Usage(), cost: int = 0,
                  citations: Sequence[Citation] = (), id: str | None = None) -> Message:
        message_id = id or str(uuid.uuid4())
        if message_id in self._db.messages:
            raise ValueError(f"message {message_id} exists")  # the primary key, as in the database
        message = Message(message_id, next(self._db.seq), conversation_id, user_id, role, content,  # type: ignore[arg-type]
                          model, status, usage, cost, tuple(citations), 0, self._db.clock())  # type: ignore[arg-type]
        self._db.messages[message_id] = message
        self._db.wrote("messages.add", message)
        return message

    async def finish(self, message_id: str, *, content: str, status: str, usage: Usage, cost: int,
                     model: str | None = None, citations: Sequence[Citation] = ()) -> Message:
        old = self._db.messages[message_id]
        new = replace(old, content=content, status=status, usage=usage, cost=cost, model=model or old.model,  # type: ignore[arg-type]
                      citations=tuple(citations))
        self._db.messages[message_id] = new
        return new

    async def get(self, message_id: str) -> Message | None:
        return self._db.messages.get(message_id)

    def _of(self, conversation_id: str) -> list[Message]:
        return sorted((m for m in self._db.messages.values() if m.conversation_id == conversation_id),
                      key=lambda m: m.seq)

    async def list(self, conversation_id: str, limit: int, cursor: str | None) -> Page:
        return _page(self._of(conversation_id), limit, cursor)

    async def recent(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        return [m for m in self._of(conversation_id) if m.seq > after_seq][-limit:]

    async def set_feedback(self, message_id: str, rating: int) -> None:
        self._db.messages[message_id] = replace(self._db.messages[message_id], feedback=rating)

    async def delete(self, message_id: str) -> bool:
        return self._db.messages.pop(message_id, None) is not None


class MemoryRoles:
    def __init__(self, db: MemoryDatabase):
        self._db = db

    async def list(self) -> list[Role]:
        return sorted(self._db.roles.values(), key=lambda r: r.name)

    async def get(self, name: str) -> Role | None:
        return self._db.roles.get(name)

    async def put(self, role: Role) -> Role:
        self._db.roles[role.name] = role
        return role

    async def delete(self, name: str) -> bool:
        return self._db.roles.pop(name, None) is not None


class MemoryProducts:
    def __init__(self, db: MemoryDatabase):
        self._db = db

    async def list(self, include_inactive: bool = False) -> list[Product]:
        found = [p for p in self._db.products.values() if include_inactive or p.active]
        return sorted(found, key=lambda p: (p.price, p.id))

    async def get(self, product_id: str) -> Product | None:
        return self._db.products.get(product_id)

    async def put(self, product: Product) -> Product:
        self._db.products[product.id] = product
        return product

    async def deactivate(self, product_id: str) -> bool:
        product = self._db.products.get(product_id)
        if product is None or not product.active:
            return False
        self._db.products[product_id] = replace(product, active=False)
        return True


class MemoryOrders:
    def __init__(self, db: MemoryDatabase):
        self._db = db
        self._seq: dict[str, int] = {}

    async def create(self, *, user_id: str, product: Product, note: str, expires_at: datetime | None) -> Order:
        order = Order(str(uuid.uuid4()), user_id, product.id, product.name, product.price, product.currency,
                      product.tokens, product.storage_mb, product.stars, "unpaid", None, None, note, self._db.clock(),
                      None, expires_at)
        self._db.orders[order.id] = order
        self._seq[order.id] = next(self._db.seq)
        self._db.wrote("orders.create", order)
        return order

    async def get(self, order_id: str) -> Order | None:
        return self._db.orders.get(order_id)

    async def list_for_user(self, user_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
        mine = [o for o in self._db.orders.values() if o.user_id == user_id and (not status or o.status == status)]
        return _page(sorted(mine, key=lambda o: self._seq[o.id], reverse=True), limit, cursor)

    async def list_by_status(self, status: str, limit: int) -> list[Order]:
        found = sorted((o for o in self._db.orders.values() if o.status == status), key=lambda o: self._seq[o.id])
        return found[:limit]

    async def transition(self, order_id: str, from_statuses: Sequence[str], to_status: str,
                         **fields: object) -> Order | None:
        if set(fields) - ORDER_FIELDS:
            raise ValueError(f"cannot set {', '.join(sorted(set(fields) - ORDER_FIELDS))} on an order")
        order = self._db.orders.get(order_id)
        if order is None or order.status not in from_statuses:
            return None
        order = self._db.orders[order_id] = replace(order, status=to_status, **fields)  # type: ignore[arg-type]
        self._db.wrote("orders.transition", (order_id, to_status))
        return order

    async def set_note(self, order_id: str, note: str) -> Order | None:
        if order_id in self._db.orders:
            self._db.orders[order_id] = replace(self._db.orders[order_id], note=note)
        return self._db.orders.get(order_id)


class MemoryEphemeral:
    """Keys that expire by the database's clock."""

    def __init__(self, db: MemoryDatabase):
        self._db = db

    def _live(self, namespace: str, key: str) -> str | None:
        found = self._db.ephemeral.get((namespace, key))
        if found is None or found[1] <= self._db.clock():
            return None
        return found[0]

    async def put(self, namespace: str, key: str, value: str, ttl_seconds: float) -> None:
        self._db.ephemeral[(namespace, key)] = (value, self._db.clock() + timedelta(seconds=ttl_seconds))

    async def add(self, namespace: str, key: str, value: str, ttl_seconds: float) -> bool:
        if self._live(namespace, key) is not None:
            return False
        await self.put(namespace, key, value, ttl_seconds)
        return True

    async def get(self, namespace: str, key: str) -> str | None:
        return self._live(namespace, key)

    async def take(self, namespace: str, key: str) -> str | None:
        value = self._live(namespace, key)
        self._db.ephemeral.pop((namespace, key), None)
        return value

    async def delete(self, namespace: str, key: str) -> None:
        self._db.ephemeral.pop((namespace, key), None)

    async def incr(self, namespace: str, key: str, ttl_seconds: float, amount: int = 1) -> int:
        current = self._live(namespace, key)
        if current is None:
            await self.put(namespace, key, str(amount), ttl_seconds)
            return amount
        value = int(current) + amount
        self._db.ephemeral[(namespace, key)] = (str(value), self._db.ephemeral[(namespace, key)][1])
        return value
