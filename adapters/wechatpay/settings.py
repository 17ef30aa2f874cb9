"""The `payments.wechatpay` section of config.yaml: the merchant account, its keys and the ways to pay."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from adapters.config_fields import Strict, Switch

class WeChatPayConfig(Strict):
    enabled: Switch = False
    mch_id: str = ""
    app_id: str = ""
    apiv3_key: str = ""
    cert_serial_no: str = ""
    private_key_path: str = ""
    public_key_path: str = ""
    public_key_id: str = ""
    api_base_url: str = "https://api.mch.weixin.qq.com"
    order_ttl_seconds: int = Field(1800, ge=60)
    timeout_seconds: float = Field(10.0, gt=0)
    # Ways to pay: native (a QR code), jsapi (inside WeChat; needs channels.wechat with the same app_id for web
    # OAuth), h5 (a phone browser outside WeChat; needs H5 pay on the merchant account). See docs/wechat-pay.md.
    methods: list[Literal["native", "jsapi", "h5"]] = Field(default_factory=lambda: ["native"], min_length=1)

    @model_validator(mode="after")
    def _needs_merchant_keys(self) -> "WeChatPayConfig":
        if self.enabled:
            keys = ("mch_id", "app_id", "apiv3_key", "cert_serial_no", "private_key_path", "public_key_path",
                    "public_key_id")
            missing = [k for k in keys if not getattr(self, k)]
            if missing:
                raise ValueError(f"{', '.join(missing)} required when WeChat Pay is enabled")
            if len(self.apiv3_key.encode()) != 32:
                raise ValueError("apiv3_key must be the 32-character APIv3 key from the merchant platform")
        return self
