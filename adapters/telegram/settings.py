"""The `channels.telegram` and `payments.telegram` sections of config.yaml, and what the channel is built with."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.config_fields import Switch


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: Switch = False
    token: str = ""
    mode: Literal["polling", "webhook"] = "polling"
    webhook_secret: str = ""
    api_base_url: str = "https://api.telegram.org/bot"
    # Streaming pace (seconds between edits of one reply) and the getUpdates long-poll wait.
    edit_interval_private: float = Field(1.0, ge=0)
    edit_interval_group: float = Field(3.0, ge=0)
    poll_timeout: int = Field(30, ge=0, le=300)
    # setWebhook's max_connections: 1 makes Telegram send the next update only after our answer (strict order).
    webhook_max_connections: int = Field(40, ge=1, le=100)
    # Who may run /new, /role, /model and /mode in a group: its admins (asked with getChatMember, remembered for
    # admin_cache_seconds), or everyone.
    group_commands: Literal["admins", "everyone"] = "admins"
    admin_cache_seconds: float = Field(60.0, ge=0)

    @model_validator(mode="after")
    def _needs_token(self) -> "TelegramConfig":
        if self.enabled and not self.token:
            raise ValueError("token is required when the Telegram channel is enabled")
        if self.enabled and self.mode == "webhook" and not self.webhook_secret:
            raise ValueError("webhook_secret is required in webhook mode")
        if self.webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", self.webhook_secret):
            raise ValueError("webhook_secret may only use A-Z, a-z, 0-9, _ and - (1-256 characters), as Telegram requires")
        return self


class TelegramPaymentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    currency: str = "XTR"
    provider_token: str = ""

    @field_validator("currency")
    @classmethod
    def _stars_only(cls, currency: str) -> str:
        if currency != "XTR":
            raise ValueError("only XTR (Telegram Stars) is supported")
        return currency


@dataclass(frozen=True)
class TelegramSettings:
    """What the channel reads: its own section, the Stars provider token, the public address, the shutdown grace."""

    channel: TelegramConfig
    stars_token: str = ""
    public_url: str = ""
    shutdown_grace_seconds: float = 10.0
