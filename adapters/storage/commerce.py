"""Role, product and order repositories on tortoise."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Sequence

from adapters.storage.models import OrderRow, ProductRow, RoleRow
from adapters.storage.pages import page_of
from core.domain import Order, Page, Product, Role

ORDER_FIELDS = {"payment_method", "provider_txn_id", "payment_ref", "paid_at"}


def _role(row: RoleRow) -> Role:
    return Role(row.name, row.description, row.system_prompt, row.model)


def _product(row: ProductRow) -> Product:
    return Product(row.id, row.name, row.description, row.price, row.currency, row.tokens, row.storage_mb,
                   row.stars, row.active)


def _order(row: OrderRow) -> Order:
    return Order(row.id, row.user_id, row.product_id, row.product_name, row.price, row.currency, row.tokens,
                 row.storage_mb, row.stars, row.status, row.payment_method, row.provider_txn_id, row.note,
                 row.created_at, row.paid_at, row.expires_at, row.payment_ref)


class TortoiseRoles:
    async def list(self) -> list[Role]:
        return [_role(r) for r in await RoleRow.all().order_by("name")]

    async def get(self, name: str) -> Role | None:
        row = await RoleRow.get_or_none(name=name)
        return _role(row) if row else None

    async def put(self, role: Role) -> Role:
        await RoleRow.update_or_create(name=role.name, defaults={"description": role.description,
                                                                  "system_prompt": role.system_prompt,
                                                                  "model": role.model})
        return role

    async def delete(self, name: str) -> bool:
        return bool(await RoleRow.filter(name=name).delete())


class TortoiseProducts:
    async def list(self, include_inactive: bool = False) -> list[Product]:
        query = ProductRow.all() if include_inactive else ProductRow.filter(active=True)
        return [_product(r) for r in await query.order_by("price", "id")]

    async def get(self, product_id: str) -> Product | None:
        row = await ProductRow.get_or_none(id=product_id)
        return _product(row) if row else None

    async def put(self, product: Product) -> Product:
        values = {k: v for k, v in product.__dict__.items() if k != "id"}
        await ProductRow.update_or_create(id=product.id, defaults=values)
        return product

    async def deactivate(self, product_id: str) -> bool:
        return bool(await ProductRow.filter(id=product_id, active=True).update(active=False))


class TortoiseOrders:
    async def create(self, *, user_id: str, product: Product, note: str, expires_at: datetime | None) -> Order:
        row = await OrderRow.create(id=str(uuid.uuid4()), user_id=user_id, product_id=product.id,
                                    product_name=product.name, price=product.price, currency=product.currency,
                                    tokens=product.tokens, storage_mb=product.storage_mb, stars=product.stars,
                                    note=note, expires_at=expires_at)
        return _order(row)

    async def get(self, order_id: str) -> Order | None:
        row = await OrderRow.get_or_none(id=order_id)
        return _order(row) if row else None

    async def list_for_user(self, user_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
        query = OrderRow.filter(user_id=user_id)
        if status:
            query = query.filter(status=status)
        return await page_of(query, limit, cursor, _order, newest_first=True)

    async def list_by_status(self, status: str, limit: int) -> list[Order]:
        return [_order(r) for r in await OrderRow.filter(status=status).order_by("seq").limit(limit)]

    async def transition(self, order_id: str, from_statuses: Sequence[str], to_status: str,
                         **fields: object) -> Order | None:
        unknown = set(fields) - ORDER_FIELDS
        if unknown:
            raise ValueError(f"cannot set {', '.join(sorted(unknown))} on an order")
        # A conditional UPDATE is the state machine's lock: of two racing transitions, one wins.
        changed = await OrderRow.filter(id=order_id, status__in=list(from_statuses)).update(status=to_status, **fields)
        return await self.get(order_id) if changed else None

    async def set_note(self, order_id: str, note: str) -> Order | None:
        await OrderRow.filter(id=order_id).update(note=note)
        return await self.get(order_id)
