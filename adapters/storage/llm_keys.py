"""OwnKeyStore on tortoise: the API keys users bring, sealed at rest and bound to their user and provider."""
from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError

from adapters.storage.llm_models import UserLlmKeyRow
from adapters.storage.llm_secrets import SecretBox
from core.own_keys import OwnKeyInfo

log = logging.getLogger(__name__)


def _context(user_id: str, provider: str) -> str:
    return f"user:{user_id}:{provider}"


def _info(row: UserLlmKeyRow) -> OwnKeyInfo:
    return OwnKeyInfo(row.provider, "…" + row.key_hint, row.created_at, row.updated_at)


class TortoiseOwnKeys:
    def __init__(self, box: SecretBox):
        self._box = box

    async def put(self, user_id: str, provider: str, api_key: str) -> OwnKeyInfo:
        sealed = self._box.seal(api_key, _context(user_id, provider))
        hint = api_key[-4:]
        if not await UserLlmKeyRow.filter(user_id=user_id, provider=provider).update(api_key=sealed, key_hint=hint):
            try:
                await UserLlmKeyRow.create(user_id=user_id, provider=provider, api_key=sealed, key_hint=hint)
            except IntegrityError:  # a second save of the same key at the same moment: the last one stays
                await UserLlmKeyRow.filter(user_id=user_id, provider=provider).update(api_key=sealed, key_hint=hint)
        row = await UserLlmKeyRow.get(user_id=user_id, provider=provider)
        return _info(row)

    async def info(self, user_id: str, provider: str) -> OwnKeyInfo | None:
        row = await UserLlmKeyRow.get_or_none(user_id=user_id, provider=provider)
        return _info(row) if row else None

    async def list(self, user_id: str) -> list[OwnKeyInfo]:
        return [_info(r) for r in await UserLlmKeyRow.filter(user_id=user_id).order_by("provider")]

    async def key(self, user_id: str, provider: str) -> str | None:
        row = await UserLlmKeyRow.get_or_none(user_id=user_id, provider=provider)
        if row is None:
            return None
        key = self._box.open(row.api_key, _context(user_id, provider)) if self._box.available else None
        if key is None:
            log.error("user %s's key for provider %s cannot be decrypted (security.encryption_secret changed?)",
                      user_id, provider)
        return key

    async def has(self, user_id: str, provider: str) -> bool:
        return await UserLlmKeyRow.exists(user_id=user_id, provider=provider)

    async def delete(self, user_id: str, provider: str) -> bool:
        return bool(await UserLlmKeyRow.filter(user_id=user_id, provider=provider).delete())
