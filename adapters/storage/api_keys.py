"""core.auth.ApiKeyRepository on tortoise: one hashed key per user."""
from __future__ import annotations

from tortoise.transactions import in_transaction

from adapters.storage.models_auth import ApiKeyRow
from adapters.storage.sql import connection, sql


class TortoiseApiKeys:
    async def replace(self, user_id: str, key_hash: str, hint: str) -> None:
        async with in_transaction():
            await ApiKeyRow.filter(user_id=user_id).delete()
            await ApiKeyRow.create(user_id=user_id, key_hash=key_hash, hint=hint)

    async def delete(self, user_id: str) -> bool:
        return bool(await ApiKeyRow.filter(user_id=user_id).delete())

    async def user_for(self, key_hash: str) -> str | None:
        # Asked on every authenticated request: plain SQL spares the event loop the ORM's query building.
        conn = connection()
        _, rows = await conn.execute_query(sql(conn, "SELECT user_id FROM api_keys WHERE key_hash = ?"), [key_hash])
        return rows[0][0] if rows else None
