"""ProviderStore on tortoise: providers added over the API, their keys sealed at rest."""
from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError

from adapters.storage.llm_models import LlmProviderRow
from adapters.storage.llm_secrets import SecretBox
from core.domain import ModelSpec
from core.errors import Conflict
from core.providers import LLMProvider

log = logging.getLogger(__name__)


def _context(name: str) -> str:
    return f"provider:{name}"


def _models(rows: list[dict]) -> tuple[ModelSpec, ...]:
    return tuple(ModelSpec(m["name"], float(m["input_weight"]), float(m["output_weight"]), int(m["context_window"]),
                           int(m["max_output_tokens"]), bool(m.get("vision", False))) for m in rows)


def _rows(models: tuple[ModelSpec, ...]) -> list[dict]:
    return [{"name": m.name, "input_weight": m.input_weight, "output_weight": m.output_weight,
             "context_window": m.context_window, "max_output_tokens": m.max_output_tokens, "vision": m.vision}
            for m in models]


class TortoiseProviderStore:
    def __init__(self, box: SecretBox):
        self._box = box

    def _provider(self, row: LlmProviderRow) -> LLMProvider:
        key = ""
        if row.api_key:
            key = self._box.open(row.api_key, _context(row.name)) if self._box.available else None
            if key is None:
                log.error("the API key of model provider %s cannot be decrypted (security.encryption_secret "
                          "changed?); it is used without one", row.name)
                key = ""
        return LLMProvider(row.name, row.base_url, key, _models(row.models), row.timeout_seconds, "database",
                           row.created_at, row.updated_at)

    def _fields(self, p: LLMProvider) -> dict:
        return {"base_url": p.base_url, "timeout_seconds": p.timeout_seconds, "models": _rows(p.models),
                "api_key": self._box.seal(p.api_key, _context(p.name)) if p.api_key else "",
                "key_hint": p.api_key[-4:] if p.api_key else ""}

    async def list(self) -> list[LLMProvider]:
        return [self._provider(r) for r in await LlmProviderRow.all().order_by("name")]

    async def get(self, name: str) -> LLMProvider | None:
        row = await LlmProviderRow.get_or_none(name=name)
        return self._provider(row) if row else None

    async def add(self, provider: LLMProvider) -> LLMProvider:
        try:
            row = await LlmProviderRow.create(name=provider.name, **self._fields(provider))
        except IntegrityError:
            raise Conflict(f"A provider named {provider.name!r} exists; change it with PATCH.",
                           reason="already_exists") from None
        return self._provider(row)

    async def replace(self, provider: LLMProvider) -> LLMProvider | None:
        if not await LlmProviderRow.filter(name=provider.name).update(**self._fields(provider)):
            return None
        return await self.get(provider.name)

    async def delete(self, name: str) -> bool:
        return bool(await LlmProviderRow.filter(name=name).delete())
