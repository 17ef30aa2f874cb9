"""Before start-up: the secrets a config lacks (named by their environment variable) and what stops without them."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import yaml

from bot.config import AppConfig

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def env_references(config_path: str | Path) -> dict[str, list[str]]:
    """Which environment variables each YAML path of the file reads: {"llm.providers[0].api_key": ["OPENAI_API_KEY"]}."""
    try:
        data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return {path: names for path, text in string_values(data) if (names := _VAR.findall(text))}


def string_values(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in loaded YAML with its path (`llm.providers[0].api_key`), in the file's order."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from string_values(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from string_values(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def _name(refs: dict[str, list[str]], path: str) -> str:
    """`OPENAI_API_KEY (llm.providers[0].api_key)` when the file reads a variable there, else the YAML path."""
    names = [n for p, ns in refs.items() if p == path or p.startswith(path + "[") for n in ns]
    return f"{', '.join(dict.fromkeys(names))} ({path})" if names else path


def missing_secrets(config: AppConfig, refs: dict[str, list[str]] | None = None) -> list[str]:
    """One line per missing secret: which variable (or key) to set, and what does not work until it is set."""
    refs = refs or {}
    out = []
    for i, p in enumerate(config.llm.providers):
        if not p.api_key:
            out.append(f"{_name(refs, f'llm.providers[{i}].api_key')} is not set: calls to the model provider "
                       f"{p.name} carry no API key, so every answer fails unless its server needs none.")
    sec = config.security
    if not sec.admin_api_keys:
        out.append(f"{_name(refs, 'security.admin_api_keys')} is not set: the admin API (POST /api/v1/users, "
                   "writing roles, products and global resources, refunds) refuses every request.")
    if not sec.token_secret:
        out.append(f"{_name(refs, 'security.token_secret')} is not set: bearer tokens are off, so magic-code, "
                   "WeChat QR and OAuth sign-in (POST /api/v1/auth/token) fail; API keys still work.")
    tg, wx = config.channels.telegram, config.channels.wechat
    if tg.enabled and not tg.token:
        out.append(f"{_name(refs, 'channels.telegram.token')} is not set: Telegram cannot start.")
    if wx.enabled:
        for key in ("app_id", "app_secret", "token"):
            if not getattr(wx, key):
                out.append(f"{_name(refs, f'channels.wechat.{key}')} is not set: WeChat cannot start.")
        if not wx.encoding_aes_key:
            out.append(f"{_name(refs, 'channels.wechat.encoding_aes_key')} is not set: WeChat messages are "
                       "accepted in plaintext only (the console's safe mode cannot be used).")
    if not config.dify.app_keys:
        out.append(f"{_name(refs, 'dify.app_keys')} is not set: the Dify-compatible API (/dify/v1) refuses "
                   "every request.")
    return out


def channels_off(config: AppConfig, refs: dict[str, list[str]] | None = None) -> list[str]:
    """How to turn on each channel that is off, when the file switches it by a variable."""
    refs = refs or {}
    out = []
    for name, title in (("telegram", "Telegram"), ("wechat", "WeChat")):
        names = refs.get(f"channels.{name}.enabled")
        if not getattr(config.channels, name).enabled and names:
            out.append(f"{title} is off: set {', '.join(names)} to turn it on.")
    return out


def database_label(url: str) -> str:
    """What to log about the database: a SQLite file's absolute path, or the URL without its password."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://").split("?", 1)[0]
        return f"SQLite {path if ':memory:' in path else Path(path).resolve()}"
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def problem_hint(problem: str, refs: dict[str, list[str]]) -> str:
    """' (set WECHAT_APP_ID, WECHAT_APP_SECRET)' for a problem naming keys the file reads from variables,
    ' (from TELEGRAM_MODE)' for a bad value that came from one."""
    path, _, message = problem.partition(": ")
    if "environment variable" in message:
        return ""
    if path in refs:
        return f" (from {', '.join(refs[path])})"
    names = [n for p, ns in refs.items() if p.startswith(path + ".") and (key := p[len(path) + 1:]) != "enabled"
             and "." not in key and re.search(rf"\b{re.escape(key)}\b", message) for n in ns]
    return f" (set {', '.join(dict.fromkeys(names))})" if names else ""
