"""Builds the WeChat Pay pieces from `payments.wechatpay`: the signed client, the provider, the notify handler."""
from __future__ import annotations

from dataclasses import dataclass

from adapters.metrics import Metrics
from adapters.wechatpay.client import WeChatPayClient
from adapters.wechatpay.methods import WeChatH5Provider, WeChatJsapiProvider
from adapters.wechatpay.notify import PaymentNotifyHandler
from adapters.wechatpay.provider import MerchantAccount, WeChatNativeProvider
from adapters.wechatpay.signing import MerchantSigner, PlatformVerifier, load_private_key, load_public_key
from core.orders import OrderService

NOTIFY_PATH = "/webhooks/wechatpay"


@dataclass(frozen=True)
class WeChatPayGateway:
    client: WeChatPayClient
    provider: WeChatNativeProvider
    notify: PaymentNotifyHandler
    signer: MerchantSigner | None = None          # signs the JSAPI paySign
    appid: str = ""
    methods: tuple = ()                           # the providers payments.wechatpay.methods turns on


def build_gateway(cfg, public_url: str, orders: OrderService, metrics: Metrics | None = None) -> WeChatPayGateway:
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
    signer = MerchantSigner(cfg.mch_id, cfg.cert_serial_no, private_key)
    client = WeChatPayClient(cfg.api_base_url, signer, verifier, cfg.timeout_seconds)
    account = MerchantAccount(cfg.mch_id, cfg.app_id, public_url.rstrip("/") + NOTIFY_PATH)
    native = WeChatNativeProvider(client, account)
    made = {"native": native, "jsapi": WeChatJsapiProvider(client, account, native),
            "h5": WeChatH5Provider(client, account, native)}
    methods = tuple(made[m] for m in dict.fromkeys(getattr(cfg, "methods", None) or ["native"]))
    return WeChatPayGateway(client, native, PaymentNotifyHandler(verifier, cfg.apiv3_key, account, orders, metrics),
                            signer, cfg.app_id, methods)
