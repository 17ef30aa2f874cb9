"""docs/configuration.md, generated from the config model (bot/config.py): every key, its type, default and example."""
from __future__ import annotations

import inspect
import io
import json
import re
import tokenize
import types
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bot.config import AppConfig
from bot.preflight import string_values

SHIPPED = Path(__file__).resolve().parents[1] / "config.yaml"

# What a key is for, where the model's source has no comment on it (comments in bot/config.py win).
DESCRIPTIONS = {
    "server.host": "Address to listen on (`bot run --host` overrides it).",
    "server.port": "Port to listen on (`bot run --port` overrides it; the shipped file reads `PORT`).",
    "server.public_url": "The address the world reaches this server at: webhook and payment-notify URLs, links.",
    "server.max_body_bytes": "Largest request body accepted (uploads have their own limit, `rag.max_upload_mb`).",
    "server.shutdown_grace_seconds": "On Ctrl-C / SIGTERM, how long in-flight replies may finish before exit.",
    "database.url": "`sqlite://PATH` (a relative path is under the config file's folder) or "
                    "`postgres://user:pass@host:5432/db`.",
    "redis.url": "`redis://...`: shares dedupe marks, locks and login scenes between workers; null: the database.",
    "redis.key_prefix": "Prefix of every Redis key, so several deployments can share one Redis.",
    "security.admin_api_keys": "`X-API-Key` values with operator rights (empty strings are dropped).",
    "security.token_secret": "Signs bearer tokens; empty: `POST /api/v1/auth/token` and OAuth sign-in are off.",
    "security.token_ttl": "Bearer token lifetime in seconds.",
    "security.oauth_providers": "OAuth2 (authorization code) sign-in providers.",
    "llm.default_model": "The model used when a request names none; must be listed under a provider.",
    "llm.providers": "OpenAI-compatible endpoints and the models each serves.",
    "llm.providers[].name": "A name for the provider (shown in errors, used by `embeddings.provider`).",
    "llm.providers[].base_url": "Its OpenAI-compatible base URL, used for every call.",
    "llm.providers[].api_key": "Its API key; empty: calls carry none (fine for a local server that needs none).",
    "llm.providers[].timeout_seconds": "How long a call may wait for the provider.",
    "llm.providers[].models[].name": "The model's name as the provider knows it.",
    "llm.providers[].models[].input_weight": "Tokens charged per prompt token.",
    "llm.providers[].models[].output_weight": "Tokens charged per completion token.",
    "llm.providers[].models[].context_window": "The model's context size in tokens.",
    "llm.providers[].models[].max_output_tokens": "The most a reply may generate (and what is held before a call).",
    "llm.embeddings.provider": "`local` (an offline multilingual model from a package) or a provider's name.",
    "llm.embeddings.model": "The embeddings model, when `provider` is a provider's name.",
    "llm.embeddings.batch_size": "Passages embedded per call.",
    "conversation.default_instruction": "The system prompt of a conversation without a role or instruction.",
    "conversation.history_tokens": "History kept in each prompt; older turns are summarised.",
    "conversation.summary.enabled": "Summarise history that outgrows `history_tokens` (an operator cost).",
    "conversation.summary.model": "The model that writes summaries; null: `llm.default_model`.",
    "roles[].name": "The role's name (`/role NAME`).",
    "roles[].description": "One line shown in role lists.",
    "roles[].system_prompt": "The role's system prompt.",
    "quota.signup_grant": "Tokens credited once to every new user.",
    "quota.hold_ttl_seconds": "A hold left by a worker that died expires after this long.",
    "products[].id": "Stable id (`/buy ID`, `POST /orders {product_id}`).",
    "products[].name": "Shown to buyers.",
    "products[].description": "Shown to buyers.",
    "products[].price": "Price in `currency` (WeChat Pay).",
    "products[].currency": "ISO currency of `price`.",
    "products[].tokens": "Tokens credited when paid.",
    "products[].storage_mb": "Knowledge-base storage added when paid.",
    "products[].stars": "Price in Telegram Stars; 0: not sold in Telegram.",
    "channels.telegram.enabled": "Run the Telegram channel (the shipped file: on when `TELEGRAM_BOT_TOKEN` is set).",
    "channels.telegram.token": "The bot token from @BotFather.",
    "channels.telegram.mode": "`polling` (no public address needed) or `webhook` (Telegram calls "
                              "`{public_url}/webhooks/telegram`).",
    "channels.telegram.webhook_secret": "Checked in `X-Telegram-Bot-Api-Secret-Token`; required in webhook mode.",
    "channels.telegram.api_base_url": "Bot API base (the token is appended), used for every call.",
    "channels.wechat.enabled": "Run the WeChat Official Account channel (the shipped file: on when `WECHAT_TOKEN` "
                               "is set). Callback URL: `{public_url}/webhooks/wechat`.",
    "channels.wechat.app_id": "AppID from the WeChat console.",
    "channels.wechat.app_secret": "AppSecret from the WeChat console.",
    "channels.wechat.token": "The Token you typed into the console's server configuration.",
    "channels.wechat.encoding_aes_key": "The 43-character EncodingAESKey (compatible and safe modes).",
    "channels.wechat.reply_mode": "`customer_service` (verified accounts: answer pushed later) or `passive` "
                                  "(unverified: answer within WeChat's 5 s).",
    "channels.wechat.api_base_url": "WeChat API base, used for every call.",
    "channels.wechat.oauth_base_url": "WeChat web OAuth base: the pay page sends a browser inside WeChat to "
                                      "`{oauth_base_url}/connect/oauth2/authorize` (snsapi_base).",
    "channels.wechat.welcome": "Sent to a new follower; empty: the catalogue's welcome.follow in their language.",
    "channels.wechat.sources_prefix": "Put before the list of cited sources; empty: the catalogue's reply.sources.",
    "channels.wechat.menu": "Menu `CLICK` keys to commands or questions: `{MENU_BALANCE: /balance}`. Seeds keys the database never had; edit them live in the console (docs/operator.md).",
    "channels.wechat.aliases": "Words that run a command: `{余额: /balance}`.",
    "payments.wechatpay.enabled": "WeChat Pay v3 Native (the shipped file: on when `WECHATPAY_MCH_ID` is set).",
    "payments.wechatpay.mch_id": "Merchant id.",
    "payments.wechatpay.app_id": "The AppID the merchant account is bound to.",
    "payments.wechatpay.apiv3_key": "The 32-character APIv3 key.",
    "payments.wechatpay.cert_serial_no": "Serial number of the merchant API certificate.",
    "payments.wechatpay.private_key_path": "The merchant's private key (PEM file).",
    "payments.wechatpay.public_key_path": "WeChat Pay's platform public key (PEM file).",
    "payments.wechatpay.public_key_id": "Its id (`PUB_KEY_ID_...`).",
    "payments.wechatpay.api_base_url": "WeChat Pay API base, used for every call.",
    "payments.wechatpay.order_ttl_seconds": "An unpaid order expires after this long.",
    "payments.wechatpay.timeout_seconds": "How long a WeChat Pay call may take.",
    "payments.wechatpay.methods": "Ways to pay: `native` (QR), `jsapi` (inside WeChat, needs the WeChat channel "
                                  "with the same app id), `h5` (phone browsers). See docs/wechat-pay.md.",
    "payments.telegram.enabled": "Sell products with `stars > 0` for Telegram Stars.",
    "payments.telegram.currency": "Only `XTR` (Stars).",
    "payments.telegram.provider_token": "Empty for Stars.",
    "security.oauth_providers[].name": "Short name (a-z, 0-9, _ and -) used in URLs.",
    "security.oauth_providers[].client_id": "The client id the provider issued.",
    "security.oauth_providers[].client_secret": "The client secret the provider issued.",
    "security.oauth_providers[].authorize_url": "Where the browser is sent to sign in.",
    "security.oauth_providers[].token_url": "Where the code is exchanged for a token.",
    "security.oauth_providers[].userinfo_url": "Where the signed-in user's profile is read.",
    "security.oauth_providers[].scope": "Scopes asked for.",
    "security.oauth_providers[].id_field": "The profile field holding a stable user id.",
    "security.oauth_providers[].name_field": "The profile field holding a display name.",
    "llm.providers[].models": "The models this provider serves, with their price weights.",
    "channels.telegram.edit_interval_group": "Seconds between edits of a streaming answer in a group.",
    "channels.telegram.poll_timeout": "getUpdates long-poll seconds (polling mode).",
    "channels.wechat.pending_text": "Passive mode: sent when the answer is not ready within WeChat's window; empty: the catalogue's wechat.pending (zh).",
    "channels.wechat.more_text": "Passive mode: ends a part of a long answer; empty: the catalogue's wechat.more (zh).",
    "dify.app_keys": "Bearer keys a Dify client uses (`Authorization: Bearer KEY`); empty strings are dropped.",
    "dify.opening_statement": "Shown by Dify clients before the first message (`GET /parameters`).",
    "dify.description": "`GET /dify/v1/info`.",
    "dify.suggested_questions": "Shown by Dify clients before the first message.",
    "rag.mode": "Retrieval: `hybrid` (keyword + vector, fused by rank), `vector` or `keyword`.",
    "rag.chunk_chars": "Characters per indexed passage.",
    "rag.chunk_overlap": "Characters shared by neighbouring passages.",
    "rag.min_similarity": "Vector hits below this cosine similarity are dropped.",
    "rag.max_upload_mb": "Largest uploaded document.",
    "rag.max_page_kb": "A web page larger than this fails with `page_too_large`.",
    "rag.fetch_timeout_seconds": "How long fetching a web page may take.",
    "rag.top_k": "Passages put into each prompt.",
    "rag.user_storage_mb": "A user's private documents; products add `storage_mb`.",
    "rag.allow_private_urls": "Users' URLs may reach loopback and private addresses (operators' always may).",
}

_FIELD = re.compile(r"^    ([a-z_][a-z0-9_]*)\s*:")


def source_comments(model: type[BaseModel]) -> dict[str, str]:
    """The `# ...` comment on a field's line, or the comment lines just above it, in the model's source."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments = {tok.start[0]: tok for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    found: dict[str, str] = {}
    above: list[str] = []
    for number, line in enumerate(lines, start=1):
        tok = comments.get(number)
        text = tok.string.lstrip("#").strip() if tok else ""
        if tok and not line[: tok.start[1]].strip():
            above.append(text) if tok.start[1] == 4 else None
            continue
        if m := _FIELD.match(line):
            if text or above:
                found[m.group(1)] = text or " ".join(above)
        if line.strip():
            above = []
    return found


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or as list items."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        return _model_in(item) if item is not None else None
    return None


def type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {type_name(args[0])} to {type_name(args[1])}" if args else "map"
    if annotation is Decimal:
        return "decimal"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def _limits(metadata: list[Any]) -> str:
    marks = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "max_length": "max length", "pattern": "pattern"}
    out = [f"{sign} {getattr(m, attr)}" for m in metadata for attr, sign in marks.items()
           if getattr(m, attr, None) is not None and attr != "pattern"]
    return f" ({', '.join(out)})" if out else ""


def show(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Decimal):
        value = str(value)
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (int, float)) or isinstance(value, bool) \
        else str(value)
    return "`" + text.replace("|", "\\|") + "`"


def _example(raw: Any, key: str) -> str:
    if not isinstance(raw, dict) or key not in raw:
        return ""
    return show(raw[key])


def _rows(model: type[BaseModel], path: str, raw: Any, out: list[str], below: list[tuple]) -> None:
    comments = source_comments(model)
    for name, field in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        inner = _model_in(field.annotation)
        default = field.default if field.default_factory is None else field.default_factory()
        value = raw.get(name) if isinstance(raw, dict) else None
        example = _example(raw, name)
        if inner is not None:
            below.append((inner, key + ("[]" if get_origin(field.annotation) is list else ""),
                          value[0] if isinstance(value, list) and value else value))
            if get_origin(field.annotation) is not list:
                continue
            example = f"{len(value)} listed, see `{key}[]`" if isinstance(value, list) and value else example
        about = (field.description or comments.get(name) or DESCRIPTIONS.get(key, "")).replace("|", "\\|")
        out.append(f"| `{key}` | {type_name(field.annotation)}{_limits(field.metadata)} | {show(default)} | "
                   f"{example} | {about} |")


def _section(model: type[BaseModel], path: str, raw: Any) -> list[str]:
    head = [f"### `{path}`", ""]
    doc = inspect.getdoc(model)
    if doc and doc != inspect.getdoc(BaseModel) and not doc.startswith("!!!"):
        head += [doc.splitlines()[0], ""]
    rows: list[str] = []
    below: list[tuple] = []
    _rows(model, path, raw, rows, below)
    out = head + (["| key | type | default | example (config.yaml) | what it does |", "|---|---|---|---|---|",
                   *rows, ""] if rows else [])
    for inner, key, value in below:
        out += _section(inner, key, value)
    return out


def env_table(raw_text: str) -> list[str]:
    """Each variable the example file reads: the keys that read it and its `:-` default."""
    found: dict[str, tuple[list[str], str]] = {}
    for path, value in string_values(yaml.safe_load(raw_text) or {}):
        for name, op, word in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\+)([^}]*))?\}", value):
            keys, default = found.setdefault(name, ([], ""))
            keys.append(path)
            if op == ":-" and word and not default:
                found[name] = (keys, word)
    rows = [f"| `{name}` | {', '.join(f'`{k}`' for k in keys)} | {f'`{default}`' if default else ''} |"
            for name, (keys, default) in found.items()]
    return ["| variable | read by | default |", "|---|---|---|", *rows, ""]


INTRO = """# Configuration reference

<!-- Generated by `bot config-doc --output docs/configuration.md` from the config model (bot/config.py) and the
shipped config.yaml. Do not edit by hand: tests/unit/test_config_doc.py fails when this file is stale. -->

Everything is in one YAML file (`bot run --config PATH`, or `BOT_CONFIG`, default `config.yaml`). It is checked
at start-up and by `bot check-config`; an unknown key or a wrong type stops the start with the key's path.

Environment variables are substituted in every string:

| syntax | becomes |
|---|---|
| `${VAR}` | the variable's value; an error when it is not set |
| `${VAR:-default}` | the value, or `default` when it is not set |
| `${VAR:+word}` | `word` when the variable is set and not empty, else empty (`enabled: ${TELEGRAM_BOT_TOKEN:+true}` turns a channel on with its token) |

A relative `sqlite://` path is under the config file's folder, whatever the current directory.
"""


def generate(example_config: Path | None = SHIPPED) -> str:
    """The whole page. Examples come from `example_config` (the shipped config.yaml)."""
    raw_text = example_config.read_text(encoding="utf-8") if example_config and example_config.exists() else ""
    raw = (yaml.safe_load(raw_text) or {}) if raw_text else {}
    out = [INTRO, "## Environment variables read by the shipped config.yaml", ""]
    out += env_table(raw_text) if raw_text else ["(no example config found)", ""]
    out += ["## Keys", ""]
    for name, field in AppConfig.model_fields.items():
        inner = _model_in(field.annotation)
        assert inner is not None, f"top-level key {name} is not a section"
        value = raw.get(name)
        is_list = get_origin(field.annotation) is list
        out += _section(inner, name + ("[]" if is_list else ""), value[0] if is_list and value else value)
    return "\n".join(out).rstrip() + "\n"


def run(output: str | None, check: str | None) -> int:
    """`bot config-doc`: print the page, write it (--output), or exit 1 when a file is stale (--check)."""
    page = generate()
    if check:
        current = Path(check).read_text(encoding="utf-8") if Path(check).exists() else ""
        if current != page:
            print(f"{check} is stale: regenerate it with `bot config-doc --output {check}`")
            return 1
        print(f"{check} is up to date")
        return 0
    if output:
        Path(output).write_text(page, encoding="utf-8")
        print(f"wrote {output}")
        return 0
    print(page, end="")
    return 0
