"""docs/configuration.md is what the generator makes from the config model, and it covers every key."""
from __future__ import annotations

from pathlib import Path
from typing import get_args, get_origin

from pydantic import BaseModel

from bot.config import AppConfig
from bot.config_doc import generate
from bot.preflight import env_references

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def every_key(model: type[BaseModel], path: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        inner, suffix = field.annotation, ""
        if get_origin(inner) is list and get_args(inner):
            inner, suffix = get_args(inner)[0], "[]"
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            keys += every_key(inner, key + suffix)
        else:
            keys.append(key)
    return keys


def test_committed_reference_is_what_the_generator_makes() -> None:
    assert DOC.read_text(encoding="utf-8") == generate(), (
        "docs/configuration.md is stale: run `bot config-doc --output docs/configuration.md` and commit it")


def test_reference_lists_every_key_and_every_variable_of_the_shipped_file() -> None:
    page = generate()
    keys = every_key(AppConfig)
    assert len(keys) > 80 and "channels.telegram.api_base_url" in keys and "llm.providers[].models[].name" in keys
    missing = [k for k in keys if f"| `{k}` |" not in page]
    assert not missing
    variables = {n for names in env_references(ROOT / "config.yaml").values() for n in names}
    assert {"OPENAI_API_KEY", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "WECHAT_API_BASE_URL",
            "WECHATPAY_API_BASE_URL", "OPENAI_BASE_URL"} <= variables
    assert all(f"| `{v}` |" in page for v in variables)
    # A key's row carries its default and the shipped file's example.
    assert ("| `channels.telegram.enabled` | bool | `false` | `\"${TELEGRAM_BOT_TOKEN:+true}\"` |" in page)
    assert "| `server.port` | int (≥ 0, ≤ 65535) | `8080` | `\"${PORT:-8080}\"` |" in page
