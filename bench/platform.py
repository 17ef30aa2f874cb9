"""The platform under test: a bench config in a temp dir, a fresh database, and a real `bot run` process."""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import AsyncIterator

import yaml

from bench.procs import Child, free_port, start_child

ADMIN_KEY = "bench-admin-key"
PG_ADMIN_URL = os.environ.get("BOT_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TELEGRAM_TOKEN = "123456:bench-token"
TELEGRAM_SECRET = "bench-telegram-secret"
WECHAT_TOKEN = "benchtoken"


def bench_config(database_url: str, model_url: str, port: int, channels: dict | None = None,
                 redis: dict | None = None) -> dict:
    """A valid config.yaml for the benchmark: one model at the fake server, summaries off, a big signup grant."""
    return {
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}",
                   "shutdown_grace_seconds": 5},
        "database": {"url": database_url},
        "security": {"admin_api_keys": [ADMIN_KEY], "token_secret": "bench-secret-" + "x" * 24},
        "llm": {"default_model": "bench-model", "providers": [{
            "name": "fake", "base_url": model_url, "api_key": "sk-bench", "timeout_seconds": 60,
            "models": [{"name": "bench-model", "input_weight": 1.0, "output_weight": 2.0,
                        "context_window": 16384, "max_output_tokens": 256}]}]},
        # Summaries are off so every model call is a measured reply (the summary is a background call).
        "conversation": {"default_instruction": "You are a helpful assistant.", "history_tokens": 3000,
                         "summary": {"enabled": False}},
        "roles": [{"name": "assistant", "description": "A helpful assistant",
                   "system_prompt": "You are a helpful assistant."}],
        "quota": {"signup_grant": 1_000_000_000},
        "channels": channels or {},
        "redis": redis or {"url": None},
    }


def telegram_channel(api_base_url: str, default_pace: bool = False) -> dict:
    # No pause between edits unless asked: Telegram's one-edit-a-second rule would make every answer take a
    # second and measure the rule, not the platform's cost (bench/speed.py measures the default pace's cost).
    pace = {} if default_pace else {"edit_interval_private": 0}
    return {"telegram": {"enabled": True, "token": TELEGRAM_TOKEN, "mode": "webhook", **pace,
                         "webhook_secret": TELEGRAM_SECRET, "api_base_url": api_base_url}}


def wechat_channel(api_base_url: str, reply_mode: str = "customer_service") -> dict:
    return {"wechat": {"enabled": True, "app_id": "wxbench0000000001", "app_secret": "bench-app-secret",
                       "token": WECHAT_TOKEN, "reply_mode": reply_mode, "api_base_url": api_base_url}}


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def postgres_available() -> str | None:
    """None when PostgreSQL answers; otherwise why not."""
    try:
        await _pg_admin("SELECT 1")
        return None
    except Exception as e:  # noqa: BLE001 - any failure means "not here"
        return f"{e.__class__.__name__}: {e}"


@contextlib.asynccontextmanager
async def redis_section() -> AsyncIterator[dict | None]:
    """A `redis` config section with a key prefix of its own (its keys are deleted after); None without Redis."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    prefix = f"bot-bench-{uuid.uuid4().hex[:8]}:"
    try:
        await client.ping()
    except Exception:  # noqa: BLE001 - no Redis here: the variant is skipped
        await client.aclose()
        yield None
        return
    try:
        yield {"url": REDIS_URL, "key_prefix": prefix}
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@contextlib.asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[str]:
    """A fresh database URL: a new SQLite file, or a PostgreSQL database created now and dropped after."""
    if kind in ("sqlite", "sqlite_full"):
        # sqlite_full: fsync at every commit (SQLite's default), to compare with the platform's NORMAL.
        fsync = "?synchronous=FULL" if kind == "sqlite_full" else ""
        yield f"sqlite://{workdir}/bench-{uuid.uuid4().hex[:8]}.db{fsync}"
        return
    name = f"bot_bench_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def platform(database_url: str, model_url: str, workdir: Path, log_dir: Path, *, label: str,
                   channels: dict | None = None, redis: dict | None = None,
                   tree: Path | None = None, env: dict | None = None) -> AsyncIterator[Child]:
    """`python -m bot run --config <temp>/<label>.yaml`, ready once GET /api/v1/status answers 200; with `tree`,
    that checkout's code (bench/ref.py) instead of the working tree's."""
    port = free_port()
    config_path = workdir / f"{label}.yaml"
    config_path.write_text(yaml.safe_dump(bench_config(database_url, model_url, port, channels, redis)))
    child = await start_child(f"platform-{label}", ["-m", "bot", "run", "--config", str(config_path)], log_dir,
                              ready_url=f"http://127.0.0.1:{port}/api/v1/status",
                              # The platform's own default log level (INFO) unless BOT_BENCH_LOG_LEVEL says otherwise.
                              env={"BOT_LOG_LEVEL": os.environ.get("BOT_BENCH_LOG_LEVEL", "INFO"), **(env or {})},
                              tree=tree)
    child.url = f"http://127.0.0.1:{port}"
    try:
        yield child
    finally:
        await child.stop()
