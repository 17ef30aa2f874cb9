"""Wiring: the one place that picks concrete classes and builds the engine's services from config."""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from adapters.coordination.local import LocalCoordination
from adapters.coordination.ports import Coordination
from adapters.coordination.shared import SharedCoordination
from adapters.llm.breaker import Breakers
from adapters.llm.failover import FailoverChatModel, RetryPolicy
from adapters.llm.instrumented import InstrumentedChatModel
from adapters.llm.openai_chat import OpenAIChatModel
from adapters.metrics import Metrics
from adapters.llm.token_counter import TiktokenCounter
from adapters.storage import db
from adapters.storage.chat_settings import TortoiseChatSettings
from adapters.storage.chats import TortoiseConversations, TortoiseMessages
from adapters.storage.commerce import TortoiseOrders, TortoiseProducts, TortoiseRoles
from adapters.storage.ephemeral import DatabaseEphemeralStore
from adapters.storage.files import DiskFileStore
from adapters.storage.ledger import TortoiseLedger
from adapters.storage.redis_store import RedisEphemeralStore
from adapters.storage.users import TortoiseUsers
from adapters.http.web.links import sign_in_url
from adapters.http.web.pay import PayPagePaths
from bot.background import Periodic, RecentChanges
from bot.llm_wiring import REFRESH_SECONDS, build_limits, build_providers, refresh_providers
from bot.config import AppConfig
from core.accounts import AccountService
from core.catalog import ModelCatalog
from core.chat import ChatEngine, EngineSettings
from core.chat_modes import ChatModes
from core.commands import CommandService
from core.conversations import ConversationService
from core.files import AttachmentService
from core.i18n import Texts
from core.domain import ModelSpec, Product, Role
from core.limits import FailureLimiter
from core.login import QrLoginService
from core.media import MediaService
from core.model_choice import ModelChoiceService
from core.own_keys import OwnKeyService
from core.providers import ProviderRegistry
from core.usage_limits import UsageLimits
from core.orders import OrderService
from core.ports import ChatModel, EphemeralStore, TokenCounter
from core.quota import QuotaLedger
from core.sign_in import SignInLinkService
from core.summary import Summarizer

log = logging.getLogger(__name__)

MB = 1024 * 1024


@dataclass
class Repositories:
    users: TortoiseUsers = field(default_factory=TortoiseUsers)
    conversations: TortoiseConversations = field(default_factory=TortoiseConversations)
    messages: TortoiseMessages = field(default_factory=TortoiseMessages)
    ledger: TortoiseLedger = field(default_factory=TortoiseLedger)
    roles: TortoiseRoles = field(default_factory=TortoiseRoles)
    products: TortoiseProducts = field(default_factory=TortoiseProducts)
    orders: TortoiseOrders = field(default_factory=TortoiseOrders)
    tx: db.TortoiseTransactions = field(default_factory=db.TortoiseTransactions)


@dataclass
class Services:
    """Every built service, for bot/ to hand out: an adapter receives only the typed parts it calls (bot/*_wiring.py)
    and never builds services itself."""

    config: AppConfig
    repos: Repositories
    catalog: ModelCatalog
    model: ChatModel
    counter: TokenCounter
    quota: QuotaLedger
    accounts: AccountService
    conversations: ConversationService
    engine: ChatEngine
    orders: OrderService
    ephemeral: EphemeralStore
    periodic: Periodic
    qr_login: QrLoginService
    metrics: Metrics
    # Every sentence a user reads, by key, in zh and en (core/locales; operator overrides in i18n.texts).
    texts: Texts
    # The one command layer every channel calls (/new, /role, /balance, /buy, /link, /lang, ... and 余额 etc.).
    commands: CommandService
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Chat locks, waiting lines, edit pacing, stop requests: in this process, or shared through Redis.
    coordination: Coordination = field(default_factory=LocalCoordination)
    # Users' stored files (uploads, fetched images) under media.folder.
    files: AttachmentService | None = None
    # Failed guesses (link codes, login QR tickets, API keys, OAuth states) per client, shared by every worker.
    failures: FailureLimiter | None = None
    # The model providers' table, retries, fallbacks and circuit breakers (adapters/llm/failover.py).
    llm: FailoverChatModel | None = None
    # The models a user may pick and the one each chat uses (GET /models, /model).
    models: ModelChoiceService | None = None
    # Model providers (config.yaml's and those added over the API) and the keys users bring (bot/llm_wiring.py).
    providers: ProviderRegistry | None = None
    own_keys: OwnKeyService | None = None
    # The free allowance and the message rate limit, as /me and /balance show them.
    limits: UsageLimits | None = None
    # Per group chat: answer every message or only mentions and replies (/mode).
    chat_modes: ChatModes | None = None
    # /web: one-time sign-in links to the web pages (absolute, on server.public_url).
    sign_in: SignInLinkService | None = None
    # The knowledge base (bot/knowledge.py) and the files, speech and documents of every channel (bot/media.py).
    knowledge: Any = None
    media: MediaService | None = None
    # payments.wechatpay (bot/payments_wiring.py): the signed client, the notify handler, the pay methods.
    wechatpay: Any = None
    # The operator's side (bot/admin_wiring.py): blocked users, the audit log, AdminService, reports, health.
    access: Any = None
    admin: Any = None
    queries: Any = None
    recent_logs: Any = None


def model_specs(config: AppConfig) -> list[ModelSpec]:
    return [ModelSpec(m.name, m.input_weight, m.output_weight, m.context_window, m.max_output_tokens, m.vision)
            for p in config.llm.providers for m in p.models]


def build_model(config: AppConfig) -> OpenAIChatModel:
    return OpenAIChatModel([(p.name, p.base_url, p.api_key, p.timeout_seconds, [m.name for m in p.models])
                            for p in config.llm.providers])


def build_failover(config: AppConfig, metrics: Metrics, table: OpenAIChatModel, own_keys=None) -> FailoverChatModel:
    r, b = config.llm.retry, config.llm.breaker
    return FailoverChatModel(table, fallbacks=config.llm.fallbacks, metrics=metrics, own_keys=own_keys,
                             policy=RetryPolicy(r.attempts, r.base_delay_seconds, r.max_delay_seconds,
                                                r.max_retry_after_seconds),
                             breakers=Breakers(b.failures, b.cooldown_seconds))


def build_services(config: AppConfig, metrics: Metrics | None = None) -> Services:
    """Every service, built once in dependency order; each receives what it uses through its constructor."""
    from bot.admin_wiring import build_operator_side
    from bot.knowledge import build_knowledge, knowledge_closers
    from bot.media import build_media

    repos = Repositories()
    metrics = metrics or Metrics()
    closers: list[Callable[[], Awaitable[None]]] = []
    texts = Texts.load(config.i18n.default_locale, config.i18n.texts)
    ephemeral: EphemeralStore
    if config.redis.url:
        ephemeral = RedisEphemeralStore(config.redis.url, config.redis.key_prefix)
    else:
        ephemeral = DatabaseEphemeralStore()
    # Models: the provider table, the providers' registry and users' own keys, then the failover model over them
    # (a change of providers reaches it later, through `llm.set_providers`).
    catalog = ModelCatalog(model_specs(config), config.llm.default_model, config.llm.vision_model)
    table = build_model(config)
    providers, own_keys = build_providers(config, table, catalog, lambda rows: llm.set_providers(rows))
    llm = build_failover(config, metrics, table, own_keys=own_keys.key)
    model = InstrumentedChatModel(llm, metrics)
    counter = TiktokenCounter()
    limits = build_limits(config, repos.ledger, repos.users, ephemeral)
    quota = QuotaLedger(repos.ledger, config.quota.hold_ttl_seconds,
                        hold_lease_seconds=config.quota.hold_lease_seconds, allowance=limits.allowance)
    failures = FailureLimiter(ephemeral)
    accounts = AccountService(repos.users, quota, ephemeral, repos.tx, config.quota.signup_grant,
                              config.rag.user_storage_mb * MB, failures)
    orders = OrderService(products=repos.products, orders=repos.orders, users=repos.users, quota=quota, tx=repos.tx,
                          order_ttl_seconds=config.payments.wechatpay.order_ttl_seconds)
    conversations = ConversationService(repos.conversations, repos.messages, repos.roles)
    operator = build_operator_side(repos, quota, orders, conversations, texts, closers)
    knowledge = build_knowledge(config)
    conv_cfg = config.conversation
    summarizer = None
    if conv_cfg.summary.enabled and config.llm.providers:
        summarizer = Summarizer(model, conv_cfg.summary.model or config.llm.default_model, counter,
                                repos.conversations, repos.messages, conv_cfg.history_tokens)
    engine = ChatEngine(model=model, catalog=catalog, counter=counter, quota=quota,
                        conversations=repos.conversations, messages=repos.messages, roles=repos.roles,
                        settings=EngineSettings(conv_cfg.default_instruction, conv_cfg.history_tokens,
                                                config.rag.top_k),
                        summarizer=summarizer, retriever=knowledge.retriever, texts=texts, own_keys=own_keys,
                        own_key_weight=config.llm.byok_fee_weight, rate_limit=limits.rate_limit,
                        access=operator.access)
    qr_login = QrLoginService(ephemeral)
    sign_in = SignInLinkService(ephemeral, sign_in_url(config.server.public_url))
    model_choice = ModelChoiceService(catalog, repos.conversations, repos.roles, table.provider_of,
                                      own_key=own_keys.has, own_key_weight=config.llm.byok_fee_weight)
    chat_modes = ChatModes(TortoiseChatSettings())
    commands = CommandService(accounts=accounts, conversations=conversations, orders=orders, catalog=catalog,
                              locales=texts.locales, sign_in=sign_in, logins=qr_login, models=model_choice,
                              limits=limits, chat_modes=chat_modes, pay_pages=PayPagePaths())
    files = AttachmentService(DiskFileStore(config.media.folder), repos.users)
    closers.append(model.close)
    if isinstance(ephemeral, RedisEphemeralStore):
        closers.append(ephemeral.close)
    closers.extend(knowledge_closers(knowledge))
    # Documents sent in chats become resources of the knowledge base.
    media = build_media(config, files, quota, repos.conversations, repos.messages, knowledge.service, closers)
    return Services(
        config=config, repos=repos, catalog=catalog, model=model, counter=counter, quota=quota, accounts=accounts,
        conversations=conversations, engine=engine, orders=orders, ephemeral=ephemeral, periodic=Periodic(),
        qr_login=qr_login, metrics=metrics, texts=texts, commands=commands, closers=closers,
        # One worker (no redis.url) coordinates in memory: no database round trips for what need not outlive it.
        coordination=SharedCoordination(ephemeral) if config.redis.url else LocalCoordination(),
        files=files, failures=failures, llm=llm, models=model_choice, providers=providers, own_keys=own_keys,
        limits=limits, chat_modes=chat_modes, sign_in=sign_in, knowledge=knowledge, media=media, access=operator.access,
        admin=operator.admin, queries=operator.queries, recent_logs=operator.recent_logs)


def configured_products(config: AppConfig) -> list[Product]:
    return [Product(p.id, p.name, p.description, p.price, p.currency, p.tokens, p.storage_mb, p.stars)
            for p in config.products]


# Features (retrieval, payments, channels) register here to extend the services once they exist.
ServiceHook = Callable[[Services], Awaitable[None]]


def default_hooks(config: AppConfig) -> list[ServiceHook]:
    """Hooks every entry point runs (server, `bot chat`, `bot ingest`): the knowledge base's index is prepared."""
    from bot.knowledge import knowledge_hook

    return [knowledge_hook]


@contextlib.asynccontextmanager
async def open_services(config: AppConfig, hooks: list[ServiceHook] | None = None,
                        background: bool = True, metrics: Metrics | None = None) -> AsyncIterator[Services]:
    """Connect the database, build the services, seed roles and products, run the sweepers; undo on exit."""
    await db.open_database(config.database.url, migrate=config.database.migrate_on_start)
    from bot.preflight import database_label

    log.info("database opened: %s", database_label(config.database.url))
    services: Services | None = None
    try:
        services = build_services(config, metrics)
        # config.yaml seeds only what the database never had: a restart never undoes an operator.
        from bot.admin_wiring import seed_catalogue

        await seed_catalogue(services, [Role(r.name, r.description, r.system_prompt, r.model) for r in config.roles],
                             configured_products(config))
        for hook in [*default_hooks(config), *(hooks or ())]:
            await hook(services)
        await refresh_providers(services)  # the providers added over the API answer from the start
        if background:
            # A dead worker's holds are freed soon after their lease lapses, by whichever worker sweeps first.
            sweep = min(30.0, services.quota.lease_seconds / 2)
            # One worker on SQLite: holds lapse only after writes (a hold, its renewals), so an idle server skips it.
            recent = RecentChanges(db.rows_changed, 2 * services.quota.lease_seconds + sweep)
            services.periodic.every(sweep, services.quota.release_expired, "release expired quota holds",
                                    when=lambda: services.coordination.shared or recent())
            services.periodic.every(60, services.orders.sweep, "order payment sweep")
            # Only other workers' changes need fetching: this process refreshes itself after each change it makes.
            services.periodic.every(REFRESH_SECONDS, services.providers.refresh, "refresh model providers",
                                    when=lambda: services.coordination.shared)
            services.periodic.every(300, services.ephemeral.purge_expired, "purge expired keys")  # type: ignore[attr-defined]
        yield services
    finally:
        if services is not None:
            await services.periodic.stop()
            await services.engine.drain()
            for close in reversed(services.closers):
                try:
                    await close()
                except Exception:
                    log.warning("closing a service failed", exc_info=True)
        await db.close_database()
