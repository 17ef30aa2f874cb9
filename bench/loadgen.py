"""The load generator: a separate process with an aiohttp client pool, closed loop, bounded in count and time.

    python -m bench.loadgen '{"target": "api", "base_url": "http://127.0.0.1:8080", "concurrency": 16, ...}'

Each of `concurrency` virtual users sends one request, waits for the whole answer, and sends the next,
until `duration` seconds or `max_requests` requests. Requests finished in the first `warmup` seconds
are not counted. Prints one JSON object: throughput, latency and time-to-first-token percentiles, errors.
Targets: `api` (native HTTP API, one conversation per `turns` messages), `baseline`, and `telegram` /
`wechat` (webhooks; each user waits until its answer is delivered, see bench/channel_load.py).
Only loopback addresses are accepted.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench import channel_load

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Sample:
    done_at: float
    latency: float
    ttft: float | None
    ok: bool
    error: str = ""
    ack: float | None = None   # channels: the webhook's answer; `latency` is then until the reply arrived
    sent_at: float | None = None   # channels: when the update was posted (acks are counted from the warm-up on)


@dataclass
class Run:
    spec: dict
    session: aiohttp.ClientSession
    started: float = 0.0
    deadline: float = 0.0
    sent: int = 0
    samples: list[Sample] = field(default_factory=list)
    setup_requests: int = 0

    def more(self) -> bool:
        if time.perf_counter() >= self.deadline or self.sent >= self.spec.get("max_requests", 10**9):
            return False
        self.sent += 1
        return True


def percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    v = sorted(values)

    def at(q: float) -> float:
        return round(1000 * v[min(len(v) - 1, int(q * len(v)))], 2)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(1000 * v[-1], 2),
            "mean": round(1000 * sum(v) / len(v), 2), "n": len(v)}


async def timed_post(run: Run, url: str, *, stream: bool = False, **kwargs: Any) -> tuple[Sample, Any]:
    """POST and read the whole answer; with stream, parse SSE and note the first `delta` event."""
    t0 = time.perf_counter()
    ttft = None
    body: Any = None
    try:
        async with run.session.post(url, **kwargs) as r:
            if stream and r.status == 200:
                event = ""
                async for raw in r.content:
                    line = raw.decode().rstrip("\r\n")
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "delta" and ttft is None:
                        ttft = time.perf_counter() - t0
                    elif line.startswith("data:") and event in ("done", "error"):
                        body = {"event": event, "data": line[5:].strip()}
                ok = body is not None and body["event"] == "done"
                error = "" if ok else f"sse {body['event'] if body else 'ended without done'}"
            else:
                text = await r.text()
                ok = 200 <= r.status < 300
                error = "" if ok else f"http {r.status}: {text[:200]}"
                body = text
    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
        ok, error = False, f"{e.__class__.__name__}: {e}"
    now = time.perf_counter()
    return Sample(now, now - t0, ttft, ok, error), body


# --- targets ---------------------------------------------------------------------------------

async def baseline_user(run: Run, n: int) -> None:
    spec = run.spec
    while run.more():
        sample, _ = await timed_post(run, spec["base_url"] + "/chat", stream=spec.get("stream", False),
                                     json={"content": f"Hello from user {n}", "stream": spec.get("stream", False)})
        run.samples.append(sample)


async def _new_user(run: Run, n: int) -> str:
    spec = run.spec
    async with run.session.post(spec["base_url"] + "/api/v1/users", json={"name": f"bench-{n}"},
                                headers={"X-API-Key": spec["admin_key"]}) as r:
        data = await r.json(content_type=None)
        if r.status >= 300:
            raise RuntimeError(f"POST /api/v1/users answered {r.status}: {data}")
    run.setup_requests += 1
    return data["api_key"]


async def _new_conversation(run: Run, key: str) -> str:
    async with run.session.post(run.spec["base_url"] + "/api/v1/conversations", json={},
                                headers={"X-API-Key": key}) as r:
        data = await r.json(content_type=None)
        if r.status >= 300:
            raise RuntimeError(f"POST /api/v1/conversations answered {r.status}: {data}")
    run.setup_requests += 1
    return data["id"]


async def api_user(run: Run, n: int, key: str) -> None:
    spec = run.spec
    stream, turns = spec.get("stream", False), spec.get("turns", 10)
    conversation, used = "", turns
    while run.more():
        if used >= turns:
            conversation, used = await _new_conversation(run, key), 0
        used += 1
        url = f"{spec['base_url']}/api/v1/conversations/{conversation}/messages"
        sample, _ = await timed_post(run, url, stream=stream, headers={"X-API-Key": key},
                                     json={"content": f"Question {used} from user {n}: how are you?", "stream": stream})
        run.samples.append(sample)


async def drive(spec: dict) -> dict:
    host = urlsplit(spec["base_url"]).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to load {host}: only loopback addresses are benchmark targets")
    concurrency = int(spec["concurrency"])
    timeout = aiohttp.ClientTimeout(total=spec.get("request_timeout", 60))
    connector = aiohttp.TCPConnector(limit=concurrency + 4, force_close=False)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        run = Run(spec, session)
        target = spec["target"]
        if target == "api":
            sem = asyncio.Semaphore(16)

            async def one(n: int) -> str:
                async with sem:
                    return await _new_user(run, n)

            keys = await asyncio.gather(*(one(n) for n in range(concurrency)))
            users = [api_user(run, n, keys[n]) for n in range(concurrency)]
        elif target == "baseline":
            users = [baseline_user(run, n) for n in range(concurrency)]
        elif target in ("telegram", "wechat"):
            users = [channel_load.user(run, n, timed_post) for n in range(concurrency)]
        else:
            raise SystemExit(f"unknown target {target!r}")
        run.started = time.perf_counter()
        run.deadline = run.started + float(spec.get("duration", 10))
        results = await asyncio.gather(*users, return_exceptions=True)
        finished = time.perf_counter()
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    measured_from = run.started + float(spec.get("warmup", 0))
    counted = [s for s in run.samples if s.done_at >= measured_from]
    window = max(1e-6, finished - measured_from)
    ok = [s for s in counted if s.ok]
    errors: dict[str, int] = {}
    for s in counted:
        if not s.ok:
            errors[s.error[:120]] = errors.get(s.error[:120], 0) + 1
    return {
        "target": target, "concurrency": concurrency, "requests": len(counted), "ok": len(ok),
        "errors": errors, "user_failures": failures[:5], "window_s": round(window, 3),
        "throughput_rps": round(len(ok) / window, 1), "latency_ms": percentiles([s.latency for s in ok]),
        "ttft_ms": percentiles([s.ttft for s in ok if s.ttft is not None]),
        # An ack is counted by when it was sent: the first wave's answers end after the warm-up, their acks before.
        "ack_ms": percentiles([s.ack for s in run.samples if s.ack is not None and not s.error.startswith("http")
                               and (s.sent_at if s.sent_at is not None else s.done_at) >= measured_from]),
        "setup_requests": run.setup_requests, "total_sent": run.sent,
        "loadgen_cpu_pct": round(100 * time.process_time() / max(1e-6, finished - run.started), 1),
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    print(json.dumps(asyncio.run(asyncio.wait_for(drive(spec), spec.get("duration", 10) + 120))), flush=True)


if __name__ == "__main__":
    main()
