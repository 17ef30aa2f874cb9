"""The Telegram config sections: what check-config refuses, and where files are fetched from."""
from __future__ import annotations

import pytest

from adapters.telegram.channel import file_url
from bot.config import ConfigError, parse_config


def _telegram(**section) -> dict:
    return {"channels": {"telegram": {"enabled": True, "token": "1:abc", **section}}}


@pytest.mark.parametrize("section, problem", [
    ({"token": ""}, "channels.telegram: token is required"),
    ({"mode": "webhook"}, "channels.telegram: webhook_secret is required"),
    ({"mode": "webhook", "webhook_secret": "has spaces!"}, "channels.telegram: webhook_secret may only use"),
    ({"mode": "push"}, "channels.telegram.mode:"),
    ({"edit_interval_group": -1}, "channels.telegram.edit_interval_group:"),
    ({"poll_timeout": 1000}, "channels.telegram.poll_timeout:"),
    ({"webhook_max_connections": 0}, "channels.telegram.webhook_max_connections:"),
    ({"colour": "blue"}, "channels.telegram.colour: unknown key"),
])
def test_bad_telegram_config_names_the_key(section: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_telegram(**section), env={})
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_stars_only() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"payments": {"telegram": {"currency": "USD"}}}, env={})
    assert err.value.problems == ["payments.telegram.currency: only XTR (Telegram Stars) is supported"]


def test_good_config_and_file_url() -> None:
    config = parse_config(_telegram(mode="webhook", webhook_secret="Abc_123-x"), env={})
    assert config.channels.telegram.edit_interval_private == 1.0 and config.channels.telegram.poll_timeout == 30
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"
