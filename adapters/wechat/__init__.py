"""The WeChat Official Account channel: webhook, passive and customer-service replies, QR login."""
from __future__ import annotations

from aiohttp import web


def install(app: web.Application, config) -> None:
    """Routes and start-up work of the channel; nothing at all when channels.wechat.enabled is false."""
    cfg = config.channels.wechat
    if not cfg.enabled:
        return
    from adapters.storage.wechat_inbox import TortoiseWeChatInbox
    from adapters.storage.wechat_outbox import TortoiseWeChatOutbox
    from adapters.wechat import login, webhook
    from adapters.wechat.api import WeChatApi
    from adapters.wechat.channel import WeChatChannel
    from adapters.wechat.codec import WeChatCodec
    from adapters.wechat.inbox import worker_name
    from adapters.wechat.marks import SeenQueries
    from bot.app import SERVICE_HOOKS, SERVICES

    async def build(services) -> None:
        api = WeChatApi(cfg.api_base_url, cfg.app_id, cfg.app_secret, services.ephemeral)
        codec = WeChatCodec(cfg.token, cfg.app_id, cfg.encoding_aes_key, encryption=cfg.encryption,
                            tolerance_seconds=cfg.timestamp_tolerance_seconds)
        channel = WeChatChannel(services, codec, api,
                                TortoiseWeChatOutbox(), TortoiseWeChatInbox(worker_name(), cfg.answer_lease_seconds),
                                services.commands, services.texts, media=_media(services, api))
        services.extras["wechat"] = channel
        services.extras["wechat_queries"] = SeenQueries(services.ephemeral, cfg.app_id,
                                                        cfg.timestamp_tolerance_seconds)
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

    async def drain(app: web.Application) -> None:
        # Before the database closes: answers being made finish and are delivered or parked.
        channel = app[SERVICES].extras.get("wechat") if SERVICES in app else None
        if channel is not None:
            await channel.drain(config.server.shutdown_grace_seconds)

    def _media(services, api):
        """Images, voice without Recognition and links (adapters/wechat/media.py), when files are handled."""
        if getattr(services, "media", None) is None:
            return None
        from adapters.retrieval.fetcher import PageFetcher
        from adapters.wechat.media import WeChatMedia
        from core.files import IMAGE_TYPES

        knowledge = services.knowledge
        fetcher = PageFetcher(max_bytes=services.media.limits.image_bytes,
                              timeout_seconds=config.rag.fetch_timeout_seconds,
                              user_agent="chatbot-platform/wechat-images", accept=tuple(IMAGE_TYPES))
        return WeChatMedia(api=api, media=services.media, conversations=services.conversations,
                           knowledge=knowledge.service if knowledge is not None else None, image_fetcher=fetcher,
                           allow_private_urls=config.rag.allow_private_urls, catalog=services.catalog,
                           texts=services.texts)

    app[SERVICE_HOOKS].append(build)
    app.on_shutdown.append(drain)
    app.router.add_get("/webhooks/wechat", webhook.handshake)
    app.router.add_post("/webhooks/wechat", webhook.callback)
    login.install(app)
