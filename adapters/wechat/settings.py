"""The `channels.wechat` section of config.yaml (the Official Account channel), and what the channel is built with."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.config_fields import Switch


class WeChatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: Switch = False
    app_id: str = ""
    app_secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    # Which callbacks are accepted: plaintext (明文), compatible (兼容: both) or safe (安全: encrypted only).
    # Unset: safe when encoding_aes_key is set, else plaintext. Refused callbacks get 403.
    encryption: Literal["plaintext", "compatible", "safe"] = Field(None, validate_default=True)
    # A signed callback whose timestamp is further than this from now is refused (replay protection).
    timestamp_tolerance_seconds: float = Field(300, ge=30, le=3600)
    reply_mode: Literal["customer_service", "passive"] = "customer_service"
    api_base_url: str = "https://api.weixin.qq.com"
    # WeChat web OAuth (网页授权): the pay page sends a browser inside WeChat to {oauth_base_url}/connect/oauth2/authorize.
    oauth_base_url: str = "https://open.weixin.qq.com"
    welcome: str = ""
    pending_text: str = Field("", max_length=300)
    more_text: str = Field("", max_length=300)
    sources_prefix: str = ""
    menu: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    # WeChat's passive-reply timing: leave as is (tests shrink it). A callback waits this long for the answer...
    passive_window_seconds: float = Field(4.5, gt=0)
    # ...and WeChat retries a callback that got no answer within this many seconds.
    callback_timeout_seconds: float = Field(5.0, gt=0)
    # A worker's claim on a message it is answering (and on its user's turn); a dead worker's messages are
    # answered by another worker once it runs out.
    answer_lease_seconds: float = Field(30.0, ge=1)

    @field_validator("encryption", mode="before")
    @classmethod
    def _encryption_fits_the_key(cls, value: Any, info) -> Any:
        has_key = bool(info.data.get("encoding_aes_key"))
        if value in (None, ""):
            return "safe" if has_key else "plaintext"
        if value in ("compatible", "safe") and not has_key:
            raise ValueError(f"'{value}' needs encoding_aes_key (the 43-character EncodingAESKey from the "
                             "WeChat console); without one only 'plaintext' is possible")
        return value

    @model_validator(mode="after")
    def _needs_secrets(self) -> "WeChatConfig":
        if self.enabled:
            missing = [k for k in ("app_id", "app_secret", "token") if not getattr(self, k)]
            if missing:
                raise ValueError(f"{', '.join(missing)} required when the WeChat channel is enabled")
        if self.encoding_aes_key and len(self.encoding_aes_key) != 43:
            raise ValueError("encoding_aes_key must be the 43-character EncodingAESKey from the WeChat console")
        if self.passive_window_seconds >= self.callback_timeout_seconds:
            raise ValueError("passive_window_seconds must be shorter than callback_timeout_seconds")
        return self


@dataclass(frozen=True)
class WeChatSettings:
    """What the channel reads besides its section: the shutdown grace, and the pay page's link for /buy (None when
    WeChat Pay is off; the page lives in adapters/http)."""

    channel: WeChatConfig
    shutdown_grace_seconds: float = 10.0
    pay_page: Callable[..., str] | None = None
