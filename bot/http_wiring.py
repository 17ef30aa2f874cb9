"""Wiring of the HTTP adapter: its settings from config.yaml, and its services (the core's and its own) built once."""
from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.coordination.streams import RedisEventLog
from adapters.http.admin.settings import ConsoleFacts
from adapters.http.dify.context import DifyServices, DifySettings
from adapters.http.dify.tasks import ReplyTasks
from adapters.http.keys import HttpServices, HttpSettings
from adapters.http.streams import ReplyStreams
from adapters.http.web.sessions import Sessions
from adapters.retrieval.fetcher import PageFetcher
from adapters.storage.api_keys import TortoiseApiKeys
from adapters.wechat.oauth import WeChatWebOAuth
from adapters.storage.chat_app import TortoiseChatHistory, TortoiseConversationInputs
from bot.config import AppConfig
from core.auth import ApiKeyService, TokenSigner
from core.chat_app import ChatAppService
from core.files import IMAGE_TYPES
from core.titles import SuggestionWriter, TitleWriter

if TYPE_CHECKING:
    from adapters.telegram.install import ChannelSlot as TelegramSlot
    from adapters.wechat.webhook import ChannelSlot as WeChatSlot


def http_settings(config: AppConfig) -> HttpSettings:
    s, sec = config.server, config.security
    return HttpSettings(public_url=s.public_url, trusted_proxies=tuple(s.trusted_proxies),
                        admin_api_keys=tuple(sec.admin_api_keys), admin_session_seconds=sec.admin_session_seconds,
                        token_secret=sec.token_secret, token_ttl=sec.token_ttl,
                        shutdown_grace_seconds=s.shutdown_grace_seconds, max_upload_mb=config.rag.max_upload_mb,
                        telegram_enabled=config.channels.telegram.enabled,
                        wechat_enabled=config.channels.wechat.enabled, dify_enabled=bool(config.dify.app_keys))


def wechat_web_oauth(config: AppConfig, store) -> WeChatWebOAuth | None:
    wechat = config.channels.wechat
    if not wechat.enabled:
        return None
    return WeChatWebOAuth(app_id=wechat.app_id, app_secret=wechat.app_secret, oauth_base_url=wechat.oauth_base_url,
                          api_base_url=wechat.api_base_url, secret=config.security.token_secret or wechat.app_secret,
                          store=store)


def http_services(services) -> HttpServices:
    """What the handlers call; the reply streams (mirrored to Redis when redis.url is set) are closed with the rest."""
    config: AppConfig = services.config
    shared = RedisEventLog(config.redis.url, config.redis.key_prefix) if config.redis.url else None
    streams = ReplyStreams(services.repos.messages.get, shared, config.server.sse_resume_seconds,
                           services.coordination.stops())
    services.metrics.track_queue("sse_streams", lambda: len(streams))
    services.closers.append(streams.close)
    knowledge = services.knowledge
    return HttpServices(
        accounts=services.accounts, conversations=services.conversations, engine=services.engine,
        orders=services.orders, catalog=services.catalog, quota=services.quota, messages=services.repos.messages,
        ledger=services.repos.ledger, ephemeral=services.ephemeral, coordination=services.coordination,
        metrics=services.metrics, qr_login=services.qr_login, texts=services.texts, commands=services.commands,
        failures=services.failures, api_keys=ApiKeyService(TortoiseApiKeys()),
        signer=TokenSigner(config.security.token_secret, config.security.token_ttl), streams=streams,
        sessions=Sessions(services.ephemeral, config.security.token_ttl,
                          secure=config.server.public_url.startswith("https://")),
        files=services.files, llm=services.llm, models=services.models, providers=services.providers,
        own_keys=services.own_keys, limits=services.limits, sign_in=services.sign_in,
        knowledge=knowledge.service if knowledge is not None else None, media=services.media,
        wechatpay=services.wechatpay, wechat_oauth=wechat_web_oauth(config, services.ephemeral), access=services.access, admin=services.admin, queries=services.queries, recent_logs=services.recent_logs)


def dify_settings(config: AppConfig) -> DifySettings:
    return DifySettings(config.dify, speech=config.llm.speech is not None,
                        allow_private_urls=config.rag.allow_private_urls)


def dify_services(services) -> DifyServices:
    """The Dify sub-app's own: its chat history, suggested questions, stored inputs, image fetcher, reply tasks."""
    config: AppConfig = services.config
    model, catalog, counter, quota = services.model, services.catalog, services.counter, services.quota
    tasks = ReplyTasks(services.coordination.stops())
    services.metrics.track_queue("dify_tasks", lambda: len(tasks))
    services.closers.append(tasks.close)
    return DifyServices(
        chat_app=ChatAppService(services.conversations, TortoiseChatHistory(),
                                TitleWriter(model, catalog, counter, quota)),
        suggestions=SuggestionWriter(model, catalog, counter, quota), inputs=TortoiseConversationInputs(),
        image_fetcher=PageFetcher(max_bytes=config.dify.image_file_size_limit_mb * 1024 * 1024,
                                  timeout_seconds=config.rag.fetch_timeout_seconds,
                                  user_agent="chatbot-platform/dify-files", accept=tuple(IMAGE_TYPES)),
        tasks=tasks)


def console_facts(config: AppConfig, telegram: TelegramSlot | None = None,
                  wechat: WeChatSlot | None = None) -> ConsoleFacts:
    """What the console's health page shows; `telegram` and `wechat` are the channels' slots when they are on."""
    channels, pay = config.channels, config.payments
    allowance = config.quota.allowance
    return ConsoleFacts(
        database_kind=config.database.url.split("://")[0], telegram_enabled=channels.telegram.enabled,
        telegram_mode=channels.telegram.mode, wechat_enabled=channels.wechat.enabled,
        wechat_reply_mode=channels.wechat.reply_mode, wechat_menu=dict(getattr(channels.wechat, "menu", {}) or {}),
        wechatpay_enabled=pay.wechatpay.enabled, stars_enabled=pay.telegram.enabled and channels.telegram.enabled,
        allowance=allowance if allowance and allowance.tokens else None,
        telegram_ready=telegram.ready if telegram is not None else lambda: False,
        wechat_up=wechat.up if wechat is not None else lambda: False)
