"""WeChat menu keys on tortoise (core/menu.py's MenuKeyRepository)."""
from __future__ import annotations

from adapters.storage.models_admin import MenuKeyRow


class TortoiseMenuKeys:
    async def all(self) -> dict[str, str]:
        return dict(await MenuKeyRow.all().values_list("key", "action"))

    async def get(self, key: str) -> str | None:
        row = await MenuKeyRow.get_or_none(key=key)
        return row.action if row else None

    async def put(self, key: str, action: str) -> None:
        await MenuKeyRow.update_or_create(defaults={"action": action}, key=key)

    async def delete(self, key: str) -> bool:
        return await MenuKeyRow.filter(key=key).delete() > 0
