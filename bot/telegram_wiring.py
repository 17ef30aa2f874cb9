"""Wiring of the Telegram channel: its settings and services, Stars as an order provider, paid notices, its queue gauge."""
from __future__ import annotations

from aiohttp import web

from adapters.telegram.channel import TelegramChannel, TelegramServices
from adapters.telegram.install import TELEGRAM, ChannelSlot, install
from adapters.telegram.settings import TelegramSettings
from bot.config import AppConfig


def telegram_settings(config: AppConfig) -> TelegramSettings:
    return TelegramSettings(channel=config.channels.telegram, stars_token=config.payments.telegram.provider_token,
                            public_url=config.server.public_url,
                            shutdown_grace_seconds=config.server.shutdown_grace_seconds)


def telegram_services(services) -> TelegramServices:
    return TelegramServices(accounts=services.accounts, conversations=services.conversations, engine=services.engine,
                            orders=services.orders, catalog=services.catalog, ephemeral=services.ephemeral,
                            coordination=services.coordination, commands=services.commands, texts=services.texts,
                            media=services.media, chat_modes=services.chat_modes)


def telegram_hook(config: AppConfig, slot: ChannelSlot):
    """A ServiceHook: builds the channel into the slot; Stars join the order service when payments.telegram is on."""

    async def hook(services) -> None:
        channel = slot.channel = TelegramChannel(telegram_settings(config), telegram_services(services))
        if config.payments.telegram.enabled:
            services.orders.add_provider(channel.stars_provider)
        services.orders.paid_listeners.append(channel.notify_paid)
        services.metrics.track_queue("telegram_chats", channel.lanes.waiting)

    return hook


def install_telegram(app: web.Application, config: AppConfig) -> None:
    """Nothing at all when channels.telegram.enabled is false."""
    if not config.channels.telegram.enabled:
        return
    from bot.app import SERVICE_HOOKS

    slot = ChannelSlot()
    app[SERVICE_HOOKS].append(telegram_hook(config, slot))
    install(app, config.channels.telegram, slot)


def telegram_slot(app: web.Application) -> ChannelSlot | None:
    """The channel's slot, for the console's health page; None when the channel is off."""
    return app.get(TELEGRAM)
