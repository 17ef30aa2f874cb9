"""The WeChat Official Account channel: webhook, passive and customer-service replies, QR login."""
from __future__ import annotations

from aiohttp import web


def install(app: web.Application, slot, shutdown_grace_seconds: float) -> None:
    """The channel's routes and its drain at shutdown; bot/wechat_wiring.py builds the channel into `slot` (a
    webhook.ChannelSlot) once the services exist, and calls this only when channels.wechat.enabled is true."""
    from adapters.wechat import login, webhook

    app[webhook.WECHAT] = slot

    async def drain(app: web.Application) -> None:
        # Before the database closes: answers being made finish and are delivered or parked.
        if slot.channel is not None:
            await slot.channel.drain(shutdown_grace_seconds)

    app.on_shutdown.append(drain)
    app.router.add_get("/webhooks/wechat", webhook.handshake)
    app.router.add_post("/webhooks/wechat", webhook.callback)
    login.install(app)
