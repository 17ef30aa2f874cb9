"""What every section shares: settings, the model servers, running the load generator, the loop probe."""
from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import aiohttp

from bench.loadgen import percentiles
from bench.procs import ROOT, Child, start_child

# The model for latency measurements: headers after 100 ms, then 20 chunks 10 ms apart (~0.29 s a reply).
LATENCY_MODEL = {"first_delay": 0.1, "chunk_delay": 0.01, "chunks": 20, "chunk_chars": 4}
# The model for throughput: answers at once (8 chunks, no delays).
ZERO_MODEL = {"first_delay": 0.0, "chunk_delay": 0.0, "chunks": 8, "chunk_chars": 4}


@dataclass
class Settings:
    out: Path
    workdir: Path
    quick: bool = False
    sections: tuple[str, ...] = ("overhead", "throughput", "channels", "pace", "idle", "acks", "memory", "profile")
    databases: tuple[str, ...] = ("sqlite", "postgres")
    duration: float = 15.0          # seconds per latency measurement
    warmup: float = 2.0
    users: int = 16                 # concurrent users for the latency measurements
    levels: tuple[int, ...] = (1, 16, 64, 256)
    level_duration: float = 8.0
    channel_duration: float = 10.0
    conversations: int = 10_000
    profile_seconds: float = 10.0
    ref: str = "a19727f"            # the git ref measured beside the working tree (pace, idle, memory)
    rounds: int = 2                 # pace: runs per tree, alternating
    idle_seconds: float = 30.0
    ack_users: int = 256
    notes: list[str] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.out / "logs"


@contextlib.asynccontextmanager
async def model_server(s: Settings, name: str, profile: dict) -> AsyncIterator[Child]:
    args = ["-m", "bench.model_server", "--first-delay", str(profile["first_delay"]),
            "--chunk-delay", str(profile["chunk_delay"]), "--chunks", str(profile["chunks"]),
            "--chunk-chars", str(profile["chunk_chars"])]
    child = await start_child(name, args, s.logs)
    try:
        yield child
    finally:
        await child.stop()


@contextlib.asynccontextmanager
async def baseline_server(s: Settings, model_url: str) -> AsyncIterator[Child]:
    from bench.procs import free_port

    port = free_port()
    child = await start_child("baseline", ["-m", "bench.baseline", "--model-url", model_url, "--port", str(port)],
                              s.logs)
    try:
        yield child
    finally:
        await child.stop()


async def until_quiet(max_wait: float, busy_below: float = 30.0, window: float = 2.0) -> dict:
    """Wait (at most `max_wait` s) until the machine's CPU, all cores, is under `busy_below`% of one core over
    `window` s: other work on the machine (a test suite) makes every number worse. Returns what was seen."""
    from bench.procs import machine_cpu

    started = time.monotonic()
    while True:
        b0, t0 = machine_cpu(), time.monotonic()
        await asyncio.sleep(window)
        busy = 100 * (machine_cpu()[0] - b0[0]) / (time.monotonic() - t0)
        waited = time.monotonic() - started
        if busy < busy_below or waited >= max_wait:
            return {"waited_s": round(waited, 1), "machine_busy_pct_before": round(busy, 1)}


async def loadgen(spec: dict) -> dict:
    """Run the load generator in its own process; its JSON result (or {"failed": why})."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen", json.dumps(spec), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), float(spec.get("duration", 10)) + 180)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return {"failed": "the load generator did not finish in time"}
    if proc.returncode != 0:
        return {"failed": f"loadgen exited {proc.returncode}: {err.decode(errors='replace')[-600:]}"}
    return json.loads(out.decode().strip().splitlines()[-1])


class LoopProbe:
    """Asks the platform for an unrouted path every 50 ms while it is under load: that request does no
    database or model work, so its latency is the time a new request waits for the event loop."""

    def __init__(self, base_url: str, interval: float = 0.05):
        self.url = base_url + "/api/v1/bench-loop-probe"
        self.interval = interval
        self.latencies: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                t0 = time.perf_counter()
                try:
                    async with session.get(self.url) as r:
                        await r.read()
                    self.latencies.append(time.perf_counter() - t0)
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(self.interval)

    def __enter__(self) -> "LoopProbe":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def result(self, skip: float = 0.0) -> dict | None:
        n = int(skip / self.interval)
        return percentiles(self.latencies[n:])
