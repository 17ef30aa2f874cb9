"""ProviderRegistry: the model providers of config.yaml (read-only) and those an operator adds over the API."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Literal, Protocol

from core.domain import ModelSpec
from core.errors import Conflict, InvalidRequest, NotFound

Source = Literal["config", "database"]


@dataclass(frozen=True)
class LLMProvider:
    name: str
    base_url: str
    api_key: str                       # never shown again: the API shows its last 4 characters
    models: tuple[ModelSpec, ...]
    timeout_seconds: float = 60.0
    source: Source = "database"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def key_hint(self) -> str | None:
        return "…" + self.api_key[-4:] if self.api_key else None


class ProviderStore(Protocol):
    """The providers added over the API, their keys encrypted at rest."""

    async def list(self) -> list[LLMProvider]: ...

    async def get(self, name: str) -> LLMProvider | None: ...

    async def add(self, provider: LLMProvider) -> LLMProvider:
        """Store a new provider; Conflict when the name is taken."""
        ...

    async def replace(self, provider: LLMProvider) -> LLMProvider | None:
        """Overwrite the provider of that name; None when there is none."""
        ...

    async def delete(self, name: str) -> bool: ...


# The provider table changed: every provider (config first), to route and price by.
OnChange = Callable[[list[LLMProvider]], None]


class ProviderRegistry:
    def __init__(self, store: ProviderStore, configured: Iterable[LLMProvider], on_change: OnChange):
        self._store = store
        self._configured = {p.name: dataclasses.replace(p, source="config") for p in configured}
        self._on_change = on_change

    async def list(self) -> list[LLMProvider]:
        return [*self._configured.values(), *(p for p in await self._store.list() if p.name not in self._configured)]

    async def get(self, name: str) -> LLMProvider:
        provider = self._configured.get(name) or await self._store.get(name)
        if provider is None:
            raise NotFound(f"No model provider named {name!r}.")
        return provider

    async def create(self, provider: LLMProvider) -> LLMProvider:
        if provider.name in self._configured:
            raise Conflict(f"The provider {provider.name!r} comes from config.yaml; choose another name.",
                           reason="already_exists")
        await self._check_models(provider)
        stored = await self._store.add(dataclasses.replace(provider, source="database"))
        await self.refresh()
        return stored

    async def update(self, name: str, **changes: object) -> LLMProvider:
        current = await self.get(name)
        self._writable(current)
        changed = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
        await self._check_models(changed)
        stored = await self._store.replace(changed)
        if stored is None:
            raise NotFound(f"No model provider named {name!r}.")
        await self.refresh()
        return stored

    async def delete(self, name: str) -> None:
        self._writable(await self.get(name))
        await self._store.delete(name)
        await self.refresh()

    async def refresh(self) -> list[LLMProvider]:
        """Route and price by the providers as stored now (after a change here, and now and then for the changes
        other workers made)."""
        providers = await self.list()
        self._on_change(providers)
        return providers

    def configured_model(self, name: str) -> bool:
        return any(m.name == name for p in self._configured.values() for m in p.models)

    @staticmethod
    def _writable(provider: LLMProvider) -> None:
        if provider.source == "config":
            raise Conflict(f"The provider {provider.name!r} is set in config.yaml and is read-only here; change "
                           "it in the file and restart.", reason="read_only_provider")

    async def _check_models(self, provider: LLMProvider) -> None:
        names = [m.name for m in provider.models]
        if not names:
            raise InvalidRequest("models: a provider needs at least one model.")
        if len(names) != len(set(names)):
            raise InvalidRequest("models: a model name is listed twice.")
        for other in await self.list():
            if other.name == provider.name:
                continue
            taken = set(names) & {m.name for m in other.models}
            if taken:
                raise Conflict(f"The model {sorted(taken)[0]!r} is already served by the provider {other.name!r}; "
                               "a model name belongs to one provider (use llm.fallbacks for a second one).",
                               reason="model_taken")
