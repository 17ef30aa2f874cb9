"""(4) Channels: Telegram updates/s and WeChat webhooks/s through the real adapters, webhook modes."""
from __future__ import annotations

import contextlib
import importlib.util
from typing import AsyncIterator

from bench.harness import ZERO_MODEL, Settings, model_server
from bench.model_server import script_of
from bench.platform import (
    REDIS_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN, WECHAT_TOKEN, database, platform, redis_section, telegram_channel,
    wechat_channel,
)
from bench.procs import Child, start_child
from bench.sections import measured

WECHAT_APP_ID, WECHAT_SECRET = "wxbench0000000001", "bench-app-secret"
NEEDED = {"telegram": ("adapters.telegram.install", "tests.fakes.telegram_server"),
          "wechat": ("adapters.wechat.webhook", "tests.fakes.wechat_server", "tests.fakes.wechat_client")}
METHOD = ("Each of the users is one chat that sends a text message to the webhook, then waits until the fake "
          "platform server has received the whole answer, then sends the next: 'updates/s' is answered "
          "messages per second end to end, 'ack' is the webhook's own answer time. Zero-latency model, SQLite; "
          "Telegram in webhook mode (no pause between edits), WeChat in customer_service mode, plaintext "
          "callbacks; 'wechat + redis.url' is the same with Redis configured (WeChat's once-only marks and "
          "locks then live in Redis instead of the database).")


def missing(channel: str) -> list[str]:
    return [m for m in NEEDED[channel] if importlib.util.find_spec(m) is None]


@contextlib.asynccontextmanager
async def channel_servers(s: Settings, reply: str) -> AsyncIterator[Child]:
    child = await start_child("channel-servers", [
        "-m", "bench.channel_servers", "--telegram-token", TELEGRAM_TOKEN, "--wechat-app-id", WECHAT_APP_ID,
        "--wechat-secret", WECHAT_SECRET, "--reply", reply], s.logs)
    try:
        yield child
    finally:
        await child.stop()


async def run(s: Settings) -> dict:
    out: dict = {"method": METHOD}
    present = [c for c in ("telegram", "wechat") if not missing(c)]
    for c in ("telegram", "wechat"):
        if c not in present:
            out[c] = {"skipped": f"not landed yet ({', '.join(missing(c))} missing)"}
    if not present:
        return out
    reply = script_of(**ZERO_MODEL).reply.strip()
    async with model_server(s, "model-channels", ZERO_MODEL) as model, channel_servers(s, reply) as servers:
        control, tg_api, wx_api = servers.url.split()
        channels: dict = {}
        if "telegram" in present:
            channels.update(telegram_channel(tg_api))
        if "wechat" in present:
            channels.update(wechat_channel(wx_api, "customer_service"))
            channels["wechat"]["app_id"], channels["wechat"]["app_secret"] = WECHAT_APP_ID, WECHAT_SECRET
        async with database("sqlite", s.workdir) as url, \
                platform(url, model.url, s.workdir, s.logs, label="channels", channels=channels) as plat:
            for c in present:
                out[c] = await _measure(s, c, plat, model, servers, control)
        if "wechat" in present:
            async with redis_section() as redis, database("sqlite", s.workdir) as url:
                if redis is None:
                    out["wechat_redis"] = {"skipped": f"Redis at {REDIS_URL} does not answer"}
                else:
                    async with platform(url, model.url, s.workdir, s.logs, label="channels-redis",
                                        channels={"wechat": channels["wechat"]}, redis=redis) as plat:
                        out["wechat_redis"] = await _measure(s, "wechat", plat, model, servers, control,
                                                             user_offset=512)
    return out


async def _measure(s: Settings, channel: str, plat: Child, model: Child, servers: Child, control: str,
                   user_offset: int = 0) -> dict:
    result = await measured(
        {"target": channel, "base_url": plat.url, "concurrency": s.users, "duration": s.channel_duration,
         "user_offset": user_offset,
         "warmup": min(s.warmup, s.channel_duration / 4), "waiter_url": control,
         "secret": TELEGRAM_SECRET, "token": WECHAT_TOKEN, "app_id": WECHAT_APP_ID},
        {"platform": plat.pid, "model": model.pid, "channel_servers": servers.pid})
    return {"users": s.users, "sent": result.get("total_sent"), "completed": result.get("ok"),
            "completed_per_s": result.get("throughput_rps"), "ack_ms": result.get("ack_ms"),
            "end_to_end_ms": result.get("latency_ms"), "run": result}
