"""The whole config.yaml as one pydantic model, with ${VAR} / ${VAR:-default} / ${VAR:+word} substitution."""
from __future__ import annotations

import ipaddress
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from adapters.http.dify.settings import DifyConfig  # noqa: F401 - the `dify:` section, owned by its adapter
from adapters.http.oauth_settings import OAuthProviderConfig  # security.oauth_providers[]
from adapters.config_fields import Switch  # an on/off that may be written ${VAR:+true}
from adapters.telegram.settings import TelegramConfig, TelegramPaymentsConfig  # channels.telegram, payments.telegram
from adapters.wechat.settings import WeChatConfig  # channels.wechat


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    shutdown_grace_seconds: float = Field(30.0, ge=0)
    # A streamed answer whose client hung up keeps going this long, so the client can resume it (Last-Event-ID);
    # then, if nobody resumed it, the model call is stopped and what was generated is charged. 0: stop at once.
    sse_resume_seconds: float = Field(10.0, ge=0)
    # Peers (addresses or CIDR networks) whose X-Forwarded-For is believed: the reverse proxies in front of
    # the workers ("127.0.0.1" behind the shipped nginx). Empty: the client address is the TCP peer's.
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR network like 10.0.0.0/8") from None
        return [p.strip() for p in proxies]
    # Browser origins allowed to call /api/v1 and /dify/v1 (CORS); empty: none. "*" allows any origin, but
    # then never with credentials. cors_allow_credentials: listed origins may send cookies / HTTP auth.
    cors_origins: list[str] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    cors_max_age: int = Field(600, ge=0, le=86400)  # how long a browser may cache a preflight answer

    @model_validator(mode="after")
    def _cors_origins_are_origins(self) -> "ServerConfig":
        for origin in self.cors_origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(f"cors_origins: {origin!r} is not an origin like https://app.example.com (no path)")
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("cors_allow_credentials cannot be used with the origin '*': list the origins instead")
        return self


class DatabaseConfig(Strict):
    url: str = "sqlite://data/bot.db"
    # Apply pending schema migrations at start-up; false: refuse to start on a database that is behind
    # (run `bot migrate` as a deploy step instead).
    migrate_on_start: bool = True


class RedisConfig(Strict):
    url: str | None = None
    key_prefix: str = "bot:"


class SecurityConfig(Strict):
    admin_api_keys: list[str] = Field(default_factory=list)
    token_secret: str = ""
    token_ttl: int = Field(86400, ge=60)
    # Encrypts the API keys stored in the database (users' own keys, providers added over the API), through
    # HKDF; empty: token_secret is used. Changing it makes the stored keys unreadable (they must be saved again).
    encryption_secret: str = ""
    admin_session_seconds: int = Field(3600, ge=1)   # the /admin console asks for the key again after this
    oauth_providers: list[OAuthProviderConfig] = Field(default_factory=list)

    @field_validator("admin_api_keys")
    @classmethod
    def _drop_empty(cls, keys: list[str]) -> list[str]:
        # "${ADMIN_API_KEY:-}" expands to "" when unset: that must never be a valid key.
        return [k for k in keys if k]

    @field_validator("oauth_providers")
    @classmethod
    def _unique_names(cls, providers: list[OAuthProviderConfig]) -> list[OAuthProviderConfig]:
        names = [p.name for p in providers]
        if len(names) != len(set(names)):
            raise ValueError("two OAuth providers have the same name")
        return providers


class ModelConfig(Strict):
    name: str
    input_weight: float = Field(1.0, ge=0)
    output_weight: float = Field(1.0, ge=0)
    context_window: int = Field(8192, ge=256)
    max_output_tokens: int = Field(1024, ge=1)
    vision: bool = False  # the model reads images (OpenAI image_url content parts)


class ProviderConfig(Strict):
    name: str
    base_url: str
    api_key: str = ""
    timeout_seconds: float = Field(60.0, gt=0)
    models: list[ModelConfig] = Field(default_factory=list)


class EmbeddingsConfig(Strict):
    provider: str = "local"
    model: str | None = None
    batch_size: int = Field(32, ge=1)


class RetryConfig(Strict):
    """Before a reply's first token: connect errors, 429 and 5xx are retried on the same provider."""

    attempts: int = Field(3, ge=1, le=10)               # calls to one provider before its fallbacks
    base_delay_seconds: float = Field(0.5, ge=0)        # doubled after each retry
    max_delay_seconds: float = Field(8.0, ge=0)
    max_retry_after_seconds: float = Field(20.0, ge=0)  # a longer Retry-After moves on to the next provider


class BreakerConfig(Strict):
    """A provider failing `failures` times in a row is skipped for `cooldown_seconds`, then probed once."""

    failures: int = Field(5, ge=1)
    cooldown_seconds: float = Field(30.0, ge=0)


class SpeechConfig(Strict):
    """Voice to text through a provider's OpenAI-compatible /audio/transcriptions (docs/media.md)."""

    provider: str                                   # a name under llm.providers
    model: str = "whisper-1"
    weight_per_second: float = Field(1.0, ge=0)     # tokens charged per second of audio


class LLMConfig(Strict):
    default_model: str = "gpt-4o-mini"
    providers: list[ProviderConfig] = Field(default_factory=list)
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)
    # The model that answers a message with images when the chosen model has no `vision`; unset: refused.
    vision_model: str | None = None
    # {MODEL: ["PROVIDER/MODEL", ...]}: where a model's replies go, in order, when its provider fails before
    # the first token. The fallback's own weights price the reply (a model listed under that provider), or the
    # original's when it is the same model name served by another provider.
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    # Replies made with a user's own key (/api/v1/me/llm-keys) cost this many tokens per token used; 0: free.
    byok_fee_weight: float = Field(0.0, ge=0)
    # Voice notes and audio attachments are transcribed by this provider's model; unset: voice is refused.
    speech: SpeechConfig | None = None

    @model_validator(mode="after")
    def _speech_provider_known(self) -> "LLMConfig":
        if self.speech and self.speech.provider not in {p.name for p in self.providers}:
            raise ValueError(f"speech.provider {self.speech.provider!r} is not configured under llm.providers")
        return self

    @model_validator(mode="after")
    def _fallbacks_known(self) -> "LLMConfig":
        names = {m.name for p in self.providers for m in p.models}
        providers = {p.name for p in self.providers}
        for model, targets in self.fallbacks.items():
            if self.providers and model not in names:
                raise ValueError(f"fallbacks: {model!r} is not listed under any provider's models")
            for target in targets:
                provider, _, name = target.partition("/")
                if not provider or not name:
                    raise ValueError(f"fallbacks.{model}: {target!r} is not PROVIDER/MODEL")
                if provider not in providers:
                    raise ValueError(f"fallbacks.{model}: provider {provider!r} is not configured")
                if name != model and name not in names:
                    raise ValueError(f"fallbacks.{model}: {name!r} is not listed under any provider's models "
                                     "(list it with its weights)")
        return self

    @model_validator(mode="after")
    def _default_model_known(self) -> "LLMConfig":
        names = [m.name for p in self.providers for m in p.models]
        if self.providers and self.default_model not in names:
            raise ValueError(f"default_model {self.default_model!r} is not listed under any provider's models")
        if self.vision_model and not any(m.name == self.vision_model and m.vision
                                         for p in self.providers for m in p.models):
            raise ValueError(f"vision_model {self.vision_model!r} is not a listed model with vision: true")
        if len(names) != len(set(names)):
            raise ValueError("a model name is listed under more than one provider")
        emb = self.embeddings.provider
        if emb != "local" and emb not in {p.name for p in self.providers}:
            raise ValueError(f"embeddings.provider {emb!r} is neither 'local' nor a provider name")
        return self


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


class MediaConfig(Strict):
    """Stored files (uploads, fetched images, voice, documents): where their bytes live and what is accepted."""

    folder: str = "data/media"
    max_image_mb: float = Field(10, gt=0)
    max_audio_mb: float = Field(25, gt=0)            # OpenAI's /audio/transcriptions takes up to 25 MB
    max_audio_seconds: int = Field(600, ge=1)        # a longer voice note is refused, nothing charged
    max_document_mb: float = Field(10, gt=0)
    # Kinds people may send: image, audio, document (PDF, Markdown, text).
    allowed_kinds: list[Literal["image", "audio", "document"]] = Field(
        default_factory=lambda: ["image", "audio", "document"])
    ffmpeg: str = "ffmpeg"                           # converts voice the speech endpoint does not take (AMR, Speex)
    ffprobe: str = "ffprobe"                         # reads an audio file's format and duration
    convert_timeout_seconds: float = Field(60, gt=0)
    document_wait_seconds: float = Field(60, ge=0)   # an attached document is indexed before the answer, this long


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
