"""Wiring of the model providers (config.yaml + database, refreshed live), users' own keys, allowance, rate limit."""
from __future__ import annotations

import logging
from typing import Callable

from adapters.llm.keys import OpenAIKeyChecker
from adapters.llm.openai_chat import OpenAIChatModel, Provider
from adapters.storage.llm_keys import TortoiseOwnKeys
from adapters.storage.llm_providers import TortoiseProviderStore
from adapters.storage.llm_secrets import SecretBox
from adapters.storage.llm_allowance import TortoiseAllowanceReads
from core.allowance import Allowance
from core.catalog import ModelCatalog
from core.domain import ModelSpec
from core.own_keys import OwnKeyService
from core.providers import LLMProvider, ProviderRegistry
from core.rate_limit import MessageRateLimit
from core.usage_limits import UsageLimits

log = logging.getLogger(__name__)

# Other workers' provider changes are picked up this often (this worker's own at once).
REFRESH_SECONDS = 15.0


def configured_providers(config) -> list[LLMProvider]:
    return [LLMProvider(p.name, p.base_url, p.api_key,
                        tuple(ModelSpec(m.name, m.input_weight, m.output_weight, m.context_window,
                                        m.max_output_tokens, m.vision) for m in p.models),
                        p.timeout_seconds, "config") for p in config.llm.providers]


def build_providers(config, table: OpenAIChatModel, catalog: ModelCatalog,
                    on_table: Callable[[list[Provider]], None]) -> tuple[ProviderRegistry, OwnKeyService]:
    """The providers (config.yaml's and those added over the API) and the keys users bring. A change of providers
    updates the catalogue and goes to `on_table` (the failover model, which watches each provider's breaker)."""
    box = SecretBox(config.security.encryption_secret or config.security.token_secret)

    def apply(providers: list[LLMProvider]) -> None:
        seen: set[str] = set()
        rows, specs = [], []
        for p in providers:
            models = [m for m in p.models if m.name not in seen]
            if len(models) < len(p.models):
                log.warning("provider %s lists a model another provider serves; that model is left out", p.name)
            seen.update(m.name for m in models)
            rows.append(Provider(p.name, p.base_url, p.api_key, p.timeout_seconds, tuple(m.name for m in models)))
            specs.extend(models)
        on_table(rows)
        catalog.replace(specs)

    providers = ProviderRegistry(TortoiseProviderStore(box), configured_providers(config), apply)
    own_keys = OwnKeyService(TortoiseOwnKeys(box), providers, OpenAIKeyChecker(), table.provider_of)
    return providers, own_keys


def build_limits(config, ledger, users, ephemeral) -> UsageLimits:
    """The free allowance (spent first, by the quota) and the message rate limit (the engine), as configured."""
    q = config.quota
    allowance = rate = None
    if q.allowance is not None:
        allowance = Allowance(ledger, TortoiseAllowanceReads(), q.allowance.tokens, q.allowance.every)
    if q.rate_limit is not None:
        rate = MessageRateLimit(ephemeral, users, q.rate_limit.messages, q.rate_limit.per, q.rate_limit.exempt)
    return UsageLimits(allowance, rate)


async def refresh_providers(services) -> None:
    """Load the providers added over the API (a hook at start-up; then every REFRESH_SECONDS)."""
    await services.providers.refresh()

