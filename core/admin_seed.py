"""Restarts never undo an operator: config.yaml's roles and products only seed what the database never had."""
from __future__ import annotations

import logging
from typing import Iterable, Protocol

from core.domain import Product, Role
from core.ports import ProductRepository, RoleRepository

log = logging.getLogger(__name__)


class SeedRecords(Protocol):
    """Which config items were ever written (kept for good, so a deletion is remembered)."""

    async def seeded(self, kind: str) -> set[str]: ...

    async def mark(self, kind: str, key: str) -> None:
        """Remember that `key` of `kind` came from the config (a second mark changes nothing)."""
        ...


class CatalogueSeeder:
    """The rule (docs/operator.md): an item of `roles:` or `products:` in config.yaml is written once, when the
    database has never seen it. After that the database is the truth: a price or prompt changed through the API
    or the console stays, a role deleted there stays deleted, and editing config.yaml changes nothing that
    exists. A new name in config.yaml is added at the next start."""

    def __init__(self, roles: RoleRepository, products: ProductRepository, seeds: SeedRecords):
        self._roles = roles
        self._products = products
        self._seeds = seeds

    async def seed(self, roles: Iterable[Role], products: Iterable[Product]) -> list[str]:
        """Write the config items never seen before; the names written ("role:x", "product:y")."""
        added: list[str] = []
        seen = await self._seeds.seeded("role")
        for role in roles:
            if role.name not in seen:
                if await self._roles.get(role.name) is None:
                    await self._roles.put(role)
                    added.append(f"role:{role.name}")
                await self._seeds.mark("role", role.name)
        seen = await self._seeds.seeded("product")
        for product in products:
            if product.id not in seen:
                if await self._products.get(product.id) is None:
                    await self._products.put(product)
                    added.append(f"product:{product.id}")
                await self._seeds.mark("product", product.id)
        if added:
            log.info("seeded from the config file: %s", ", ".join(added))
        return added

    async def differences(self, roles: Iterable[Role], products: Iterable[Product]) -> list[str]:
        """Config items whose values differ from the database's (the database wins; said at start-up)."""
        found = []
        for role in roles:
            stored = await self._roles.get(role.name)
            if stored is None:
                found.append(f"role {role.name!r} is in config.yaml but was deleted by an operator")
            elif (stored.description, stored.system_prompt) != (role.description, role.system_prompt):
                found.append(f"role {role.name!r} differs from config.yaml (the database's version is used)")
        for product in products:
            stored = await self._products.get(product.id)
            if stored is None or not stored.active:
                found.append(f"product {product.id!r} is in config.yaml but was removed by an operator")
            elif (stored.price, stored.tokens, stored.name) != (product.price, product.tokens, product.name):
                found.append(f"product {product.id!r} differs from config.yaml (the database's version is used)")
        return found
