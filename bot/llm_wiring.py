"""Wiring of the model providers (config.yaml + database, refreshed live), users' own keys, allowance, rate limit."""
from __future__ import annotations

import logging

from adapters.llm.keys import OpenAIKeyChecker
from adapters.llm.openai_chat import Provider
from adapters.storage.llm_keys import TortoiseOwnKeys
from adapters.storage.llm_providers import TortoiseProviderStore
from adapters.storage.llm_secrets import SecretBox
from adapters.storage.llm_allowance import TortoiseAllowanceReads
from core.allowance import Allowance
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


def wire_llm(services) -> None:
    """Add services.providers and services.own_keys, and let the engine, the model and /model use own keys."""
    config, llm, catalog = services.config, services.llm, services.catalog
    box = SecretBox(config.security.encryption_secret or config.security.token_secret)

    def apply(providers: list[LLMProvider]) -> None:
        seen: set[str] = set()
        table, specs = [], []
        for p in providers:
            models = [m for m in p.models if m.name not in seen]
            if len(models) < len(p.models):
                log.warning("provider %s lists a model another provider serves; that model is left out", p.name)
            seen.update(m.name for m in models)
            table.append(Provider(p.name, p.base_url, p.api_key, p.timeout_seconds, tuple(m.name for m in models)))
            specs.extend(models)
        llm.set_providers(table)
        catalog.replace(specs)

    services.providers = ProviderRegistry(TortoiseProviderStore(box), configured_providers(config), apply)
    services.own_keys = OwnKeyService(TortoiseOwnKeys(box), services.providers, OpenAIKeyChecker(),
                                      llm.table.provider_of)
    llm.own_keys = services.own_keys.key
    services.engine.own_keys = services.own_keys
    services.engine.own_key_weight = config.llm.byok_fee_weight
    if services.models is not None:
        services.models.own_key_check = services.own_keys.has


def wire_limits(services) -> None:
    """services.limits: the free allowance (spent first, by the quota) and the message rate limit (the engine)."""
    q = services.config.quota
    allowance = rate = None
    if q.allowance is not None:
        allowance = Allowance(services.repos.ledger, TortoiseAllowanceReads(), q.allowance.tokens, q.allowance.every)
        services.quota.allowance = allowance
    if q.rate_limit is not None:
        rate = MessageRateLimit(services.ephemeral, services.repos.users, q.rate_limit.messages, q.rate_limit.per,
                                q.rate_limit.exempt)
        services.engine.rate_limit = rate
    services.limits = UsageLimits(allowance, rate)


async def refresh_providers(services) -> None:
    """Load the providers added over the API (a hook at start-up; then every REFRESH_SECONDS)."""
    await services.providers.refresh()
