"""The whole config.yaml as one pydantic model, with ${VAR} / ${VAR:-default} / ${VAR:+word} substitution."""
from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import Field, ValidationError, model_validator

# Sections that belong to one adapter live next to it; this module composes them with the core sections.
from adapters.config_fields import Strict
from adapters.http.dify.settings import DifyConfig  # dify
from adapters.http.settings import SecurityConfig, ServerConfig  # server, security
from adapters.llm.settings import LLMConfig  # llm
from adapters.media.settings import MediaConfig  # media
from adapters.telegram.settings import TelegramConfig, TelegramPaymentsConfig  # channels.telegram, payments.telegram
from adapters.wechat.settings import WeChatConfig  # channels.wechat
from adapters.wechatpay.settings import WeChatPayConfig  # payments.wechatpay


class DatabaseConfig(Strict):
    url: str = "sqlite://data/bot.db"
    # Apply pending schema migrations at start-up; false: refuse to start on a database that is behind
    # (run `bot migrate` as a deploy step instead).
    migrate_on_start: bool = True


class RedisConfig(Strict):
    url: str | None = None
    key_prefix: str = "bot:"


class SummaryConfig(Strict):
    enabled: bool = True
    model: str | None = None


class ConversationConfig(Strict):
    default_instruction: str = "You are a helpful assistant."
    history_tokens: int = Field(3000, ge=100)
    summary: SummaryConfig = Field(default_factory=SummaryConfig)


class RoleConfig(Strict):
    name: str
    description: str = ""
    system_prompt: str
    model: str | None = None  # the model its conversations use unless one is chosen (a listed model)


class AllowanceConfig(Strict):
    """A free allowance that renews (UTC days, ISO weeks) and is spent before purchased tokens."""

    tokens: int = Field(ge=1)
    every: Literal["day", "week"] = "day"


class RateLimitConfig(Strict):
    """At most `messages` per user per minute or hour; `exempt`: operators' accounts (user ids or
    CHANNEL:EXTERNAL_ID, e.g. telegram:12345), never limited."""

    messages: int = Field(ge=1)
    per: Literal["minute", "hour"] = "minute"
    exempt: list[str] = Field(default_factory=list)


class QuotaConfig(Strict):
    signup_grant: int = Field(20000, ge=0)
    hold_ttl_seconds: int = Field(600, ge=10)      # the longest a hold lives, renewals included
    hold_lease_seconds: float = Field(20, ge=1)     # a live reply renews its hold; a dead worker's lapses after this
    allowance: AllowanceConfig | None = None        # unset: no free allowance (only signup_grant)
    rate_limit: RateLimitConfig | None = None       # unset: no limit on how fast one user sends


class ProductConfig(Strict):
    id: str
    name: str
    description: str = ""
    price: Decimal = Field(ge=0)
    currency: str = "CNY"
    tokens: int = Field(0, ge=0)
    storage_mb: int = Field(0, ge=0)
    stars: int = Field(0, ge=0)


class RagConfig(Strict):
    top_k: int = Field(4, ge=1, le=50)
    user_storage_mb: int = Field(5, ge=0)
    allow_private_urls: bool = False
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
    chunk_chars: int = Field(800, ge=100, le=8000)
    chunk_overlap: int = Field(120, ge=0, le=2000)
    min_similarity: float = Field(0.2, ge=-1, le=1)
    max_upload_mb: int = Field(20, ge=1)
    max_page_kb: int = Field(4096, ge=1)
    fetch_timeout_seconds: float = Field(20.0, gt=0)


class ChannelsConfig(Strict):
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    wechat: WeChatConfig = Field(default_factory=WeChatConfig)


class PaymentsConfig(Strict):
    wechatpay: WeChatPayConfig = Field(default_factory=WeChatPayConfig)
    telegram: TelegramPaymentsConfig = Field(default_factory=TelegramPaymentsConfig)


class I18nConfig(Strict):
    """Languages: what users read comes from the zh and en catalogues in core/locales, by key."""

    # A user's language: their /lang choice, else their platform's (Telegram language_code; WeChat zh), else this.
    default_locale: Literal["zh", "en"] = "en"
    # Replace any text by its key, per language, keeping its {placeholders}: {zh: {"welcome.follow": "..."}}.
    texts: dict[Literal["zh", "en"], dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _texts_exist(self) -> "I18nConfig":
        if self.texts:
            from core.i18n import Texts, TextsError

            try:
                Texts.load(self.default_locale, self.texts)
            except TextsError as e:
                raise ValueError("; ".join(e.problems)) from None
        return self


class AppConfig(Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    conversation: ConversationConfig = Field(default_factory=ConversationConfig)
    roles: list[RoleConfig] = Field(default_factory=list)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    products: list[ProductConfig] = Field(default_factory=list)
    rag: RagConfig = Field(default_factory=RagConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    payments: PaymentsConfig = Field(default_factory=PaymentsConfig)
    dify: DifyConfig = Field(default_factory=DifyConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    i18n: I18nConfig = Field(default_factory=I18nConfig)


class ConfigError(Exception):
    """The config file cannot be used; `problems` are lines like 'channels.wechat.token: field required'."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\+)([^}]*))?\}")


def substitute_env(value: Any, env: Mapping[str, str], path: str = "") -> Any:
    """Replace ${VAR}, ${VAR:-default} and ${VAR:+word} (word when VAR is set and not empty, else "") in every
    string of a parsed YAML tree."""
    if isinstance(value, dict):
        return {k: substitute_env(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(m: re.Match[str]) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3)
        if op == ":+":
            return default if env.get(name) else ""
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError([f"{path}: environment variable {name} is not set (use ${{{name}:-default}} for a default)"])

    return _VAR.sub(repl, value)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type")
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown key"
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def parse_config(data: Any, env: Mapping[str, str] | None = None) -> AppConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["(root): the config file must be a mapping of sections"])
    data = substitute_env(data, os.environ if env is None else env)
    try:
        return AppConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError([f"{_loc(err['loc'])}: {_message(err)}" for err in e.errors()]) from None


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> AppConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"{p}: cannot read ({e.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{p}: not valid YAML{where}"]) from None
    config = parse_config(data, env)
    config.database.url = anchor_sqlite_url(config.database.url, p.resolve().parent)
    config.media.folder = str(p.resolve().parent / config.media.folder)  # an absolute folder stays as it is
    return config


def anchor_sqlite_url(url: str, folder: Path) -> str:
    """A relative sqlite:// file path made absolute against `folder` (the config file's), so the database
    does not depend on the directory the command runs from."""
    if not url.startswith("sqlite://"):
        return url
    path, sep, query = url.removeprefix("sqlite://").partition("?")
    if not path or ":memory:" in path or Path(path).is_absolute():
        return url
    return f"sqlite://{folder / path}{sep}{query}"
