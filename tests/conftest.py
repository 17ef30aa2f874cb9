"""Shared fixtures: databases (SQLite always; PostgreSQL and Redis on 127.0.0.1 when up), configs, services."""
from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from bot.config import AppConfig, parse_config

PG_ADMIN_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("BOT_TEST_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, err: Exception) -> None:
    message = (f"{what} is not reachable ({err.__class__.__name__}: {err}); tests that need it were SKIPPED. "
               f"Start it (see README, 'Tests') or set BOT_TEST_REQUIRE_SERVICES=1 to make this a failure.")
    if REQUIRE_SERVICES:
        pytest.fail(message.replace("were SKIPPED", "FAIL because BOT_TEST_REQUIRE_SERVICES=1"), pytrace=False)
    pytest.skip(message)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1), timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # noqa: BLE001 - any failure means "not available here"
        _unavailable("PostgreSQL at " + PG_ADMIN_URL, e)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[str]:
    """A PostgreSQL with the pgvector extension (the `pgserver` package) for the session; its socket folder."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="pgv-")  # short: a unix socket path has a 107-byte limit
    try:
        import warnings

        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless here
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(folder, cleanup_mode="stop")
            server.psql("CREATE EXTENSION IF NOT EXISTS vector")
    except Exception as e:  # noqa: BLE001 - not installed, or cannot start here
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable("PostgreSQL with pgvector (pgserver, pip install -e .[dev])", e)
    yield folder
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pgvector_url(pgvector_server: str) -> Iterator[str]:
    """A fresh database on the pgvector server for one test (over its unix socket), dropped afterwards."""
    import asyncpg

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(host=pgvector_server, user="postgres", database="postgres", timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield f"postgres://postgres@/{name}?host={pgvector_server}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres", "pgvector"])
def index_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run a knowledge-base test on SQLite, the local PostgreSQL (no pgvector) and PostgreSQL with pgvector."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/bot.db"
    return request.getfixturevalue("postgres_url" if request.param == "postgres" else "pgvector_url")


@pytest.fixture
def redis_prefix() -> str:
    return f"bot-test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def redis_url(redis_prefix: str) -> AsyncIterator[str]:
    """The local Redis; the test's keys live under a unique prefix (`redis_prefix`) and are removed after."""
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(client.ping(), 3)
    except Exception as e:  # noqa: BLE001
        await client.aclose()
        _unavailable("Redis at " + REDIS_URL, e)
    yield REDIS_URL
    keys = [k async for k in client.scan_iter(f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def database_store(tmp_path: Path):
    """The EphemeralStore on a fresh SQLite database."""
    from adapters.storage import db
    from adapters.storage.ephemeral import DatabaseEphemeralStore

    await db.open_database(f"sqlite://{tmp_path}/ephemeral.db")
    yield DatabaseEphemeralStore()
    await db.close_database()


@pytest.fixture
async def redis_store(redis_url: str, redis_prefix: str):
    """The EphemeralStore on the local Redis, under the test's own key prefix."""
    from adapters.storage.redis_store import RedisEphemeralStore

    shared = RedisEphemeralStore(redis_url, redis_prefix)
    yield shared
    await shared.close()


@pytest.fixture(params=["database_store", "redis_store"])
def store(request: pytest.FixtureRequest):
    """Run the test once on each EphemeralStore: the database and Redis."""
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/bot.db"
    return request.getfixturevalue("postgres_url")


def make_config(tmp_path: Path, llm_base_url: str = "http://127.0.0.1:9/v1", *, database_url: str | None = None,
                **sections: Any) -> AppConfig:
    """A valid config for tests: SQLite under tmp_path and one provider at `llm_base_url`."""
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1:8080"},
        "database": {"url": database_url or f"sqlite://{tmp_path}/bot.db"},
        "security": {"admin_api_keys": ["admin-key"], "token_secret": "test-secret-" + "x" * 20},
        "llm": {"default_model": "test-model", "providers": [{
            "name": "fake", "base_url": llm_base_url, "api_key": "sk-test", "timeout_seconds": 10,
            "models": [{"name": "test-model", "input_weight": 1.0, "output_weight": 2.0,
                        "context_window": 8192, "max_output_tokens": 100}]}],
                # One call per reply: a scripted failure surfaces at once (retries: tests/e2e/test_llm_failover.py).
                "retry": {"attempts": 1}},
        "conversation": {"default_instruction": "You are a test assistant.", "history_tokens": 1000,
                         "summary": {"enabled": False}},
        "roles": [{"name": "pirate", "description": "Talks like a pirate", "system_prompt": "Talk like a pirate."}],
        "quota": {"signup_grant": 1000},
        "products": [{"id": "starter", "name": "Starter pack", "price": "9.90", "currency": "CNY",
                      "tokens": 5000, "storage_mb": 10, "stars": 100}],
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data, env={})


# --- the model server, services and the running app ---------------------------------------------

@pytest.fixture
async def fake_llm():
    """A local OpenAI-compatible server (real SSE) serving the model `test-model`."""
    from tests.fakes.openai_server import FakeOpenAI

    async with FakeOpenAI(api_key="sk-test", models=["test-model"]) as fake:
        yield fake


@pytest.fixture
def config(tmp_path: Path, fake_llm) -> AppConfig:
    return make_config(tmp_path, fake_llm.base_url)


@pytest.fixture
async def services(config: AppConfig):
    """The engine's services on SQLite, talking to fake_llm; no background sweepers."""
    from bot.wiring import open_services

    async with open_services(config, background=False) as s:
        yield s


class RunningApp:
    """The real app factory served on 127.0.0.1 over real HTTP."""

    def __init__(self, app, runner, base_url: str):
        self.app = app
        self.runner = runner
        self.base_url = base_url

    @property
    def services(self):
        from bot.app import SERVICES

        return self.app[SERVICES]


@pytest.fixture
async def start_app():
    """Start create_app(config) on a free port: `running = await start_app(config)`; stopped after the test."""
    from aiohttp import web

    from bot.app import create_app

    started: list[web.AppRunner] = []

    async def start(cfg: AppConfig, extra_installers=None) -> RunningApp:
        app = create_app(cfg, extra_installers)
        runner = web.AppRunner(app, shutdown_timeout=5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        started.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return RunningApp(app, runner, f"http://127.0.0.1:{port}")

    yield start
    for runner in reversed(started):
        await runner.cleanup()


_VOICE_WORDS = ("voice", "audio", "amr", "speech")


def pytest_collection_modifyitems(config, items) -> None:
    """Voice tests need Debian's ffmpeg and ffprobe (the app converts and measures audio with them, the fakes
    make test audio with them). Without them those tests are skipped with a line saying so; under CI
    (BOT_TEST_REQUIRE_SERVICES=1, and .ci/run installs ffmpeg) a missing ffmpeg is a failure instead."""
    import shutil

    if REQUIRE_SERVICES or (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        return      # under CI they run, and fail when ffmpeg is missing
    reason = "voice tests SKIPPED: ffmpeg/ffprobe not found (apt-get install -y ffmpeg)"
    for item in items:
        if "test_media_" in item.nodeid and any(w in item.name.lower() for w in _VOICE_WORDS):
            item.add_marker(pytest.mark.skip(reason=reason))
