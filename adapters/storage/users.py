"""UserRepository on tortoise: users, their identities, and moving identities when accounts are linked."""
from __future__ import annotations

import uuid

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from adapters.storage.models import ConversationRow, IdentityRow, MessageRow, OrderRow, UserRow
from core.domain import Identity, User


def _user(row: UserRow, identities: list[IdentityRow], is_new: bool = False) -> User:
    return User(row.id, row.name, row.balance, row.held, row.storage_limit_bytes, row.storage_used_bytes,
                row.created_at, tuple(Identity(i.channel, i.external_id) for i in identities), is_new, row.locale,
                row.blocked)


class TortoiseUsers:
    async def get(self, user_id: str) -> User | None:
        row = await UserRow.get_or_none(id=user_id)
        if row is None:
            return None
        return _user(row, await IdentityRow.filter(user_id=user_id).order_by("id"))

    async def find_by_identity(self, identity: Identity) -> User | None:
        ident = await IdentityRow.get_or_none(channel=identity.channel, external_id=identity.external_id)
        return await self.get(ident.user_id) if ident else None

    async def create(self, name: str, identity: Identity | None, storage_limit_bytes: int) -> User:
        user_id = str(uuid.uuid4())
        try:
            async with in_transaction():
                row = await UserRow.create(id=user_id, name=name[:200], storage_limit_bytes=storage_limit_bytes)
                idents = []
                if identity is not None:
                    idents.append(await IdentityRow.create(user_id=user_id, channel=identity.channel,
                                                           external_id=identity.external_id))
        except IntegrityError:
            # Two first messages raced: the other one created the user; use it.
            assert identity is not None
            existing = await self.find_by_identity(identity)
            if existing is None:
                raise
            return existing
        return _user(row, idents, is_new=True)

    async def add_storage_limit(self, user_id: str, delta_bytes: int) -> None:
        await UserRow.filter(id=user_id).update(storage_limit_bytes=F("storage_limit_bytes") + delta_bytes)

    async def add_storage_used(self, user_id: str, delta_bytes: int) -> None:
        await UserRow.filter(id=user_id).update(storage_used_bytes=F("storage_used_bytes") + delta_bytes)

    async def set_locale(self, user_id: str, locale: str | None) -> None:
        await UserRow.filter(id=user_id).update(locale=locale)

    async def set_blocked(self, user_id: str, blocked: bool) -> bool:
        return bool(await UserRow.filter(id=user_id).update(blocked=blocked))

    async def is_blocked(self, user_id: str) -> bool:
        return await UserRow.filter(id=user_id, blocked=True).exists()

    async def move_identities(self, from_user_id: str, to_user_id: str) -> None:
        async with in_transaction():
            await IdentityRow.filter(user_id=from_user_id).update(user_id=to_user_id)
            await ConversationRow.filter(user_id=from_user_id).update(user_id=to_user_id)
            await MessageRow.filter(user_id=from_user_id).update(user_id=to_user_id)
            await OrderRow.filter(user_id=from_user_id).update(user_id=to_user_id)
            source = await UserRow.get(id=from_user_id)
            target = await UserRow.get(id=to_user_id)
            if source.storage_limit_bytes > target.storage_limit_bytes:
                await UserRow.filter(id=to_user_id).update(storage_limit_bytes=source.storage_limit_bytes)
            await UserRow.filter(id=to_user_id).update(
                storage_used_bytes=F("storage_used_bytes") + source.storage_used_bytes)
            await UserRow.filter(id=from_user_id).update(storage_used_bytes=0)
