"""Wiring of WeChat Pay: the gateway from `payments.wechatpay`, its providers added to the order service."""
from __future__ import annotations

from adapters.wechatpay.gateway import build_gateway
from bot.config import AppConfig


def wechatpay_hook(config: AppConfig):
    """A ServiceHook: the providers of payments.wechatpay.methods (wechat_native, wechat_jsapi, wechat_h5) join the
    order service; their HTTP session closes with the services."""

    async def hook(services) -> None:
        gateway = build_gateway(config.payments.wechatpay, config.server.public_url, services.orders,
                                services.metrics)
        for provider in gateway.methods:
            services.orders.add_provider(provider)
        services.wechatpay = gateway
        services.closers.append(gateway.client.close)

    return hook
