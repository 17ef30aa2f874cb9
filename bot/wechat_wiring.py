"""Wiring of the WeChat channel: its settings and services, storage, media, paid notices, sweeps and gauges."""
from __future__ import annotations

from functools import partial

from aiohttp import web

from adapters.retrieval.fetcher import PageFetcher
from adapters.storage.wechat_inbox import TortoiseWeChatInbox
from adapters.storage.wechat_outbox import TortoiseWeChatOutbox
from adapters.wechat import install
from adapters.wechat.api import WeChatApi
from adapters.wechat.channel import WeChatChannel, WeChatServices
from adapters.wechat.codec import WeChatCodec
from adapters.wechat.inbox import worker_name
from adapters.wechat.marks import SeenQueries
from adapters.wechat.media import WeChatMedia
from adapters.wechat.settings import WeChatSettings
from adapters.wechat.webhook import WECHAT, ChannelSlot
from bot.config import AppConfig
from core.files import IMAGE_TYPES


def wechat_settings(config: AppConfig) -> WeChatSettings:
    """/buy links to the order's pay page when WeChat Pay is on (the page lives in adapters/http)."""
    from adapters.http.web.pay import pay_link

    pay_page = partial(pay_link, config.server.public_url) if config.payments.wechatpay.enabled else None
    return WeChatSettings(channel=config.channels.wechat, shutdown_grace_seconds=config.server.shutdown_grace_seconds,
                          pay_page=pay_page)


def wechat_services(services) -> WeChatServices:
    return WeChatServices(engine=services.engine, accounts=services.accounts, qr_login=services.qr_login,
                          commands=services.commands, texts=services.texts, ephemeral=services.ephemeral,
                          coordination=services.coordination, menu=services.admin.menu)


def wechat_media(config: AppConfig, services, api: WeChatApi) -> WeChatMedia | None:
    """Images, voice without Recognition and links (adapters/wechat/media.py), when files are handled."""
    if services.media is None:
        return None
    knowledge = services.knowledge
    fetcher = PageFetcher(max_bytes=services.media.limits.image_bytes, timeout_seconds=config.rag.fetch_timeout_seconds,
                          user_agent="chatbot-platform/wechat-images", accept=tuple(IMAGE_TYPES))
    return WeChatMedia(api=api, media=services.media, conversations=services.conversations,
                       knowledge=knowledge.service if knowledge is not None else None, image_fetcher=fetcher,
                       allow_private_urls=config.rag.allow_private_urls, catalog=services.catalog,
                       texts=services.texts)


def wechat_hook(config: AppConfig, slot: ChannelSlot):
    """A ServiceHook: builds the channel and its replay guard into the slot, and everything that runs beside it."""
    cfg = config.channels.wechat

    async def hook(services) -> None:
        api = WeChatApi(cfg.api_base_url, cfg.app_id, cfg.app_secret, services.ephemeral)
        codec = WeChatCodec(cfg.token, cfg.app_id, cfg.encoding_aes_key, encryption=cfg.encryption,
                            tolerance_seconds=cfg.timestamp_tolerance_seconds)
        channel = slot.channel = WeChatChannel(
            wechat_settings(config), wechat_services(services), codec, api, TortoiseWeChatOutbox(),
            TortoiseWeChatInbox(worker_name(), cfg.answer_lease_seconds), media=wechat_media(config, services, api))
        slot.seen_queries = SeenQueries(services.ephemeral, cfg.app_id, cfg.timestamp_tolerance_seconds)
        services.metrics.track_queue("wechat_answers", channel.in_progress)
        owed = {"parts": 0, "counted": 0}

        async def count_owed() -> None:
            owed["parts"] = await channel.outbox.total()
            owed["counted"] += 1

        services.metrics.track_queue("wechat_pending", lambda: owed["parts"])
        # Refreshed in the background: a scrape never waits on the database.
        services.periodic.every(15, count_owed, "count WeChat answers owed",
                                when=lambda: services.coordination.shared or not owed["counted"]
                                or channel.active_within(60))
        services.orders.paid_listeners.append(channel.notify_paid)
        channel.start_sweeping(services.periodic)
        services.closers.append(channel.close)

    return hook


def install_wechat(app: web.Application, config: AppConfig) -> None:
    """Nothing at all when channels.wechat.enabled is false."""
    if not config.channels.wechat.enabled:
        return
    from bot.app import SERVICE_HOOKS

    slot = ChannelSlot()
    app[SERVICE_HOOKS].append(wechat_hook(config, slot))
    install(app, slot, config.server.shutdown_grace_seconds)


def wechat_slot(app: web.Application) -> ChannelSlot | None:
    """The channel's slot (the console's health page, the tests); None when the channel is off."""
    return app.get(WECHAT)
