"""WeChat menu keys: what each CLICK key of the Official Account menu runs, kept in the database and read live."""
from __future__ import annotations

import logging
from typing import Mapping, Protocol

from core.errors import InvalidRequest, NotFound

log = logging.getLogger(__name__)

MAX_KEY = 100        # config_seeds keeps keys up to 100 characters; WeChat's own limit is 128 bytes
MAX_ACTION = 500
SEED_KIND = "menu"


class MenuKeyRepository(Protocol):
    async def all(self) -> dict[str, str]:
        """Every key and its action, by key."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, action: str) -> None: ...

    async def delete(self, key: str) -> bool:
        """True when the key was there."""
        ...


class MenuSeeds(Protocol):
    """Which config items were ever written (core/admin_seed.py's SeedRecords)."""

    async def seeded(self, kind: str) -> set[str]: ...

    async def mark(self, kind: str, key: str) -> None: ...


def checked(key: str, action: str) -> tuple[str, str]:
    """A key and its action as stored: trimmed, non-empty, printable, within their limits."""
    key, action = key.strip(), action.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable() or any(c.isspace() for c in key):
        raise InvalidRequest(f"A menu key is 1 to {MAX_KEY} characters without spaces.", reason="invalid_menu_key")
    if not action or len(action) > MAX_ACTION:
        raise InvalidRequest(f"Say what the key does (a /command or a question, up to {MAX_ACTION} characters).",
                             reason="invalid_menu_action")
    return key, action


class WeChatMenu:
    """The menu the WeChat channel asks on every CLICK, so an operator's change applies to the next click on
    every worker. config.yaml's `channels.wechat.menu` only seeds keys the database never had (the same rule as
    roles and products, docs/operator.md)."""

    def __init__(self, keys: MenuKeyRepository):
        self._keys = keys

    async def action(self, key: str) -> str:
        """What `key` runs ("" when no such key)."""
        return (await self._keys.get(key) or "").strip() if key else ""

    async def all(self) -> dict[str, str]:
        return dict(sorted((await self._keys.all()).items()))

    async def put(self, key: str, action: str) -> tuple[str | None, str]:
        """Set a key; (its action before or None, its action now)."""
        key, action = checked(key, action)
        before = await self._keys.get(key)
        await self._keys.put(key, action)
        return before, action

    async def delete(self, key: str) -> str:
        """Remove a key; the action it had. NotFound when there was none."""
        before = await self._keys.get(key)
        if before is None or not await self._keys.delete(key):
            raise NotFound("No such menu key.")
        return before

    async def seed(self, configured: Mapping[str, str], seeds: MenuSeeds) -> list[str]:
        """Write the config's keys never seen before (a key an operator deleted stays deleted)."""
        seen = await seeds.seeded(SEED_KIND)
        added = []
        for key, action in configured.items():
            key = key.strip()
            if not key or key in seen or len(key) > MAX_KEY:
                continue
            if await self._keys.get(key) is None and action.strip():
                await self._keys.put(key, action.strip()[:MAX_ACTION])
                added.append(key)
            await seeds.mark(SEED_KIND, key)
        if added:
            log.info("seeded WeChat menu keys from the config file: %s", ", ".join(added))
        return added
