"""OwnKeyService: API keys users bring for a model provider: checked when saved, used only for their owner."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from core.errors import InvalidRequest, NotFound
from core.providers import LLMProvider, ProviderRegistry


@dataclass(frozen=True)
class OwnKeyInfo:
    provider: str
    key_hint: str            # "…" and the key's last 4 characters: the key itself is never shown again
    created_at: datetime | None = None
    updated_at: datetime | None = None


class OwnKeyStore(Protocol):
    async def put(self, user_id: str, provider: str, api_key: str) -> OwnKeyInfo: ...

    async def info(self, user_id: str, provider: str) -> OwnKeyInfo | None: ...

    async def list(self, user_id: str) -> list[OwnKeyInfo]: ...

    async def key(self, user_id: str, provider: str) -> str | None:
        """The key itself (decrypted), for a call to the provider on its owner's behalf."""
        ...

    async def has(self, user_id: str, provider: str) -> bool: ...

    async def delete(self, user_id: str, provider: str) -> bool: ...


class KeyChecker(Protocol):
    async def accepts(self, provider: LLMProvider, api_key: str) -> bool:
        """Whether the provider takes the key (False on its 401/403); UpstreamError when it cannot be asked."""
        ...


class OwnKeyService:
    def __init__(self, store: OwnKeyStore, providers: ProviderRegistry, checker: KeyChecker,
                 provider_of: Callable[[str], str | None]):
        self._store = store
        self._providers = providers
        self._checker = checker
        self._provider_of = provider_of

    async def save(self, user_id: str, provider: str, api_key: str) -> OwnKeyInfo:
        """Check the key with the provider (GET /models with it), then store it encrypted."""
        api_key = api_key.strip()
        if len(api_key) < 8 or any(c.isspace() for c in api_key):
            raise InvalidRequest("api_key: that does not look like an API key.", reason="invalid_api_key")
        target = await self._providers.get(provider)
        if not await self._checker.accepts(target, api_key):
            raise InvalidRequest(f"The model provider {provider} refused this API key; check it and try again.",
                                 reason="invalid_api_key")
        return await self._store.put(user_id, provider, api_key)

    async def get(self, user_id: str, provider: str) -> OwnKeyInfo:
        info = await self._store.info(user_id, provider)
        if info is None:
            raise NotFound(f"You have no key for the provider {provider!r}.")
        return info

    async def list(self, user_id: str) -> list[OwnKeyInfo]:
        return await self._store.list(user_id)

    async def delete(self, user_id: str, provider: str) -> None:
        if not await self._store.delete(user_id, provider):
            raise NotFound(f"You have no key for the provider {provider!r}.")

    async def covers(self, user_id: str, model: str) -> bool:
        """Whether the user's own key answers `model` (they brought one for its provider)."""
        provider = self._provider_of(model)
        return bool(provider) and await self._store.has(user_id, provider)  # type: ignore[arg-type]

    async def has(self, user_id: str, provider: str) -> bool:
        return await self._store.has(user_id, provider)

    async def key(self, user_id: str, provider: str) -> str | None:
        return await self._store.key(user_id, provider)
