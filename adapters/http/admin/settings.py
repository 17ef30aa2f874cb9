"""What the console shows about the configuration and the live channels, filled by bot/http_wiring.py at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web


def _never() -> bool:
    return False


@dataclass(frozen=True)
class ConsoleFacts:
    database_kind: str                      # sqlite, postgres, ...
    telegram_enabled: bool = False
    telegram_mode: str = "polling"
    wechat_enabled: bool = False
    wechat_reply_mode: str = "customer_service"
    wechat_menu: dict[str, str] = field(default_factory=dict)
    wechatpay_enabled: bool = False
    stars_enabled: bool = False             # payments.telegram, which needs the Telegram channel too
    allowance: Any = None                   # quota.allowance ({tokens, every}) when one is configured
    telegram_ready: Callable[[], bool] = _never   # connected and taking updates
    wechat_up: Callable[[], bool] = _never        # the channel was built and answers the webhook


FACTS = web.AppKey("console_facts", ConsoleFacts)


def facts_of(request: web.Request) -> ConsoleFacts:
    return request.config_dict[FACTS]
