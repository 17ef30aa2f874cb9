"""Two real `bot run` processes on one config file (PostgreSQL, Redis, the test's fake servers), as an operator
runs them behind a load balancer."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
BOT = [sys.executable, "-m", "bot"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Backends:
    database_url: str
    redis_prefix: str
    redis: Any   # a redis.asyncio client (decode_responses=True)


@contextlib.asynccontextmanager
async def shared_backends() -> AsyncIterator[Backends]:
    """A fresh PostgreSQL database and a Redis key prefix for one group of workers; both removed afterwards.
    Skips (or fails, with BOT_TEST_REQUIRE_SERVICES=1) when either service is down."""
    import redis.asyncio as redis

    from tests.conftest import PG_ADMIN_URL, REDIS_URL, _pg_admin, _unavailable

    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as e:  # noqa: BLE001
        _unavailable("PostgreSQL at " + PG_ADMIN_URL, e)
    prefix = f"bot-test-{uuid.uuid4().hex[:8]}:"
    client = redis.from_url(REDIS_URL, decode_responses=True)
    try:
        try:
            await asyncio.wait_for(client.ping(), 3)
        except Exception as e:  # noqa: BLE001
            _unavailable("Redis at " + REDIS_URL, e)
        yield Backends(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, prefix, client)
    finally:
        keys_left = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys_left:
            await client.delete(*keys_left)
        await client.aclose()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_config(path: Path, config) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    return path


class Worker:
    """One `bot run --config FILE --port P` subprocess; its output goes to a log file read on failure."""

    def __init__(self, name: str, config_path: Path, log_dir: Path):
        self.name = name
        self.config_path = config_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> "Worker":
        log = open(self.log_path, "ab")
        env = {**os.environ, "BOT_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
        self.proc = await asyncio.create_subprocess_exec(
            *BOT, "run", "--config", str(self.config_path), "--port", str(self.port),
            stdout=log, stderr=asyncio.subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True)
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    async def ready(self, timeout: float = 60) -> "Worker":
        """Wait until /api/v1/status answers 200; fail with the worker's log if it exits or never answers."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    async with http.get(self.url + "/api/v1/status") as resp:
                        if resp.status == 200:
                            return self
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} never became ready:\n{self.log()}")

    async def kill(self) -> None:
        """SIGKILL: no drain, no cleanup, as when a machine dies."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except asyncio.TimeoutError:
                await self.kill()
        return self.proc.returncode or 0


async def start_workers(config_path: Path, log_dir: Path, count: int = 2) -> list[Worker]:
    """Start `count` workers at once (they race to migrate the fresh database) and wait until all serve."""
    workers = [Worker(f"worker{n + 1}", config_path, log_dir) for n in range(count)]
    await asyncio.gather(*(w.start() for w in workers))
    try:
        await asyncio.gather(*(w.ready() for w in workers))
    except BaseException:
        await asyncio.gather(*(w.kill() for w in workers), return_exceptions=True)
        raise
    return workers


async def until(check, timeout: float = 20.0, every: float = 0.05):
    """Poll an async condition until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(every)
