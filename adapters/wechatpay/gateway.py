"""Builds the WeChat Pay pieces from `payments.wechatpay`: the signed client, the provider, the notify handler."""
from __future__ import annotations

from dataclasses import dataclass

from adapters.wechatpay.client import WeChatPayClient
from adapters.wechatpay.notify import PaymentNotifyHandler
from adapters.wechatpay.provider import MerchantAccount, WeChatNativeProvider
from adapters.wechatpay.signing import MerchantSigner, PlatformVerifier, load_private_key, load_public_key
from bot.wiring import ServiceHook, Services
from core.orders import OrderService

NOTIFY_PATH = "/webhooks/wechatpay"
EXTRA = "wechatpay"   # services.extras key of the WeChatPayGateway


@dataclass(frozen=True)
class WeChatPayGateway:
    client: WeChatPayClient
    provider: WeChatNativeProvider
    notify: PaymentNotifyHandler


def build_gateway(cfg, public_url: str, orders: OrderService) -> WeChatPayGateway:
    """`cfg` is the WeChatPayConfig. Unreadable key files raise ValueError naming the config key."""
    try:
        private_key = load_private_key(cfg.private_key_path)
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"payments.wechatpay.private_key_path: cannot load the merchant private key ({e})") from None
    try:
        public_key = load_public_key(cfg.public_key_path)
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"payments.wechatpay.public_key_path: cannot load the platform public key ({e})") from None
    verifier = PlatformVerifier(cfg.public_key_id, public_key)
    client = WeChatPayClient(cfg.api_base_url, MerchantSigner(cfg.mch_id, cfg.cert_serial_no, private_key), verifier,
                             cfg.timeout_seconds)
    account = MerchantAccount(cfg.mch_id, cfg.app_id, public_url.rstrip("/") + NOTIFY_PATH)
    return WeChatPayGateway(client, WeChatNativeProvider(client, account),
                            PaymentNotifyHandler(verifier, cfg.apiv3_key, account, orders))


def service_hook(config) -> ServiceHook:
    """Adds the `wechat_native` provider to the order service; its HTTP session closes with the services."""

    async def hook(services: Services) -> None:
        gateway = build_gateway(config.payments.wechatpay, config.server.public_url, services.orders)
        services.orders.add_provider(gateway.provider)
        services.extras[EXTRA] = gateway
        services.closers.append(gateway.client.close)

    return hook
