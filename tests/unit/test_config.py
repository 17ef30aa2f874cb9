"""config.yaml: one validated model, ${VAR} substitution, problems reported with their YAML path."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_is_valid_without_any_environment() -> None:
    config = load_config(ROOT / "config.yaml", env={})
    assert config.database.url == f"sqlite://{ROOT}/data/bot.db"  # relative: under the config file's folder
    assert not config.channels.telegram.enabled and not config.channels.wechat.enabled
    assert not config.payments.wechatpay.enabled
    assert config.server.port == 8080
    assert config.security.admin_api_keys == []  # "${ADMIN_API_KEY:-}" never becomes a usable empty key
    assert config.llm.default_model == "gpt-4o-mini"


def test_env_substitution_with_defaults() -> None:
    config = load_config(ROOT / "config.yaml", env={"OPENAI_API_KEY": "sk-1", "PORT": "9000",
                                                      "ADMIN_API_KEY": "adm"})
    assert config.llm.providers[0].api_key == "sk-1"
    assert config.server.port == 9000
    assert config.security.admin_api_keys == ["adm"]


def test_a_channel_turns_on_when_its_token_is_in_the_environment() -> None:
    config = load_config(ROOT / "config.yaml", env={"TELEGRAM_BOT_TOKEN": "1:abc",
                                                      "TELEGRAM_API_BASE_URL": "http://127.0.0.1:1/bot",
                                                      "WECHAT_API_BASE_URL": "http://127.0.0.1:2",
                                                      "WECHATPAY_API_BASE_URL": "http://127.0.0.1:3",
                                                      "OPENAI_BASE_URL": "http://127.0.0.1:4/v1"})
    assert config.channels.telegram.enabled and config.channels.telegram.token == "1:abc"
    assert config.channels.telegram.api_base_url == "http://127.0.0.1:1/bot"
    assert config.channels.wechat.api_base_url == "http://127.0.0.1:2"
    assert config.payments.wechatpay.api_base_url == "http://127.0.0.1:3"
    assert config.llm.providers[0].base_url == "http://127.0.0.1:4/v1"
    with pytest.raises(ConfigError, match="app_id, app_secret required"):
        load_config(ROOT / "config.yaml", env={"WECHAT_TOKEN": "t"})


def test_plus_substitution_is_the_word_only_when_the_variable_is_set_and_not_empty() -> None:
    data = {"channels": {"telegram": {"enabled": "${T:+true}", "token": "${T:-}"}}}
    assert parse_config(data, env={"T": "1:x"}).channels.telegram.enabled is True
    assert parse_config(data, env={"T": ""}).channels.telegram.enabled is False
    assert parse_config(data, env={}).channels.telegram.enabled is False


def test_relative_sqlite_path_is_under_the_config_files_folder(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    for url, expected in [("sqlite://data/x.db?busy_timeout=100", f"sqlite://{tmp_path}/app/data/x.db?busy_timeout=100"),
                          ("sqlite:///abs/x.db", "sqlite:///abs/x.db"), ("sqlite://:memory:", "sqlite://:memory:"),
                          ("postgres://u@h/db", "postgres://u@h/db")]:
        (tmp_path / "app" / "c.yaml").write_text(f"database: {{url: '{url}'}}\n", encoding="utf-8")
        assert load_config(tmp_path / "app" / "c.yaml", env={}).database.url == expected


def test_missing_variable_without_default_names_the_path() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"channels": {"wechat": {"token": "${WX_TOKEN}"}}}, env={})
    assert e.value.problems == ["channels.wechat.token: environment variable WX_TOKEN is not set "
                                "(use ${WX_TOKEN:-default} for a default)"]


@pytest.mark.parametrize("data, problem", [
    ({"server": {"prot": 1}}, "server.prot: unknown key"),
    ({"server": {"port": "eighty"}}, "server.port: Input should be a valid integer, unable to parse string as an integer"),
    ({"channels": {"wechat": {"enabled": True, "app_id": "a", "app_secret": "s"}}},
     "channels.wechat: token required when the WeChat channel is enabled"),
    ({"llm": {"providers": [{"name": "p", "base_url": "http://x", "models": [{"input_weight": 1}]}]}},
     "llm.providers[0].models[0].name: field required"),
    ({"products": [{"id": "p", "name": "P", "price": -1}]}, "products[0].price: Input should be greater than or equal to 0"),
    ({"channels": {"telegram": {"mode": "carrier-pigeon"}}},
     "channels.telegram.mode: Input should be 'polling' or 'webhook'"),
])
def test_problems_carry_their_yaml_path(data: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(data, env={})
    assert problem in e.value.problems


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", env={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: {port: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad, env={})
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar, env={})



def test_deploy_config_is_valid_with_its_environment() -> None:
    env = {"PUBLIC_URL": "https://bot.example.com", "DATABASE_URL": "postgres://bot:pw@postgres:5432/bot",
           "REDIS_URL": "redis://redis:6379/0", "ADMIN_API_KEY": "k", "TOKEN_SECRET": "s", "OPENAI_API_KEY": "sk"}
    config = load_config(ROOT / "deploy" / "config.prod.yaml", env=env)
    assert config.redis.url == "redis://redis:6379/0" and config.channels.telegram.mode == "webhook"
    with pytest.raises(ConfigError, match="DATABASE_URL is not set"):
        load_config(ROOT / "deploy" / "config.prod.yaml", env={k: v for k, v in env.items() if k != "DATABASE_URL"})
