"""Issue 21's measurements: CPU per streamed Telegram answer at the default edit pace and idle CPU, each for the
working tree and a git ref side by side; acknowledgements at saturation (256 users, SQLite, no Redis)."""
from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import replace

from bench.channels import WECHAT_APP_ID, WECHAT_SECRET, _measure, channel_servers
from bench.harness import ZERO_MODEL, Settings, model_server
from bench.model_server import script_of
from bench.platform import database, platform, telegram_channel, wechat_channel
from bench.procs import cpu_ns
from bench.ref import trees

# Short streamed answers: 12 chunks 0.1 s apart (~1.2 s), so at the default pace (one edit a second) an answer is
# a placeholder, an edit or two while it streams, and the final edit.
PACE_MODEL = {"first_delay": 0.05, "chunk_delay": 0.1, "chunks": 12, "chunk_chars": 6}
PACE_METHOD = ("Each of the users is one Telegram private chat (webhook mode, the default edit pace of "
               "channels.telegram.edit_interval_private) that sends a message, waits until the fake Bot API holds "
               "the whole answer, and sends the next. CPU is the platform process's (all threads) over the run, "
               "divided by the answers delivered. The same run is made with the code of the git ref (a worktree "
               "under /tmp, same interpreter and packages), alternating, against the same model and Bot API "
               "servers.")


async def pace(s: Settings) -> dict:
    out: dict = {"method": PACE_METHOD, "model": PACE_MODEL, "users": s.users, "duration_s": s.channel_duration,
                 "rounds": s.rounds, "by_tree": {}}
    reply = script_of(**PACE_MODEL).reply.strip()
    async with trees(s) as checkouts, model_server(s, "model-pace", PACE_MODEL) as model, \
            channel_servers(s, reply) as servers:
        control, tg_api, _ = servers.url.split()
        variants = [(name, tree, {}) for name, tree in checkouts.items()]
        if importlib.util.find_spec("uvloop") is not None:   # what uvloop saves: the working tree on asyncio's loop
            variants.insert(1, ("working tree, asyncio loop", None, {"BOT_EVENT_LOOP": "asyncio"}))
        totals: dict[str, dict] = {name: {"cpu_s": 0.0, "answers": 0, "runs": []} for name, _, _ in variants}
        offset = 0
        for _round in range(s.rounds):
            for index, (name, tree, env) in enumerate(variants):
                label = f"pace-{index}-{len(totals[name]['runs'])}"
                async with database("sqlite", s.workdir) as url, \
                        platform(url, model.url, s.workdir, s.logs, label=label, tree=tree, env=env,
                                 channels=telegram_channel(tg_api, default_pace=True)) as plat:
                    # One-time work (first users, the tokenizer's tables) is not what an answer costs.
                    await _measure(replace(s, channel_duration=3.0), "telegram", plat, model, servers, control,
                                   user_offset=offset)
                    before = cpu_ns(plat.pid)     # nanoseconds: /proc/stat's 10 ms ticks are too coarse here
                    run = await _measure(s, "telegram", plat, model, servers, control, user_offset=offset + s.users)
                    used = cpu_ns(plat.pid) - before
                offset += 2 * s.users
                result = run["run"]
                totals[name]["cpu_s"] = round(totals[name]["cpu_s"] + used / 1e9, 4)
                totals[name]["answers"] += result.get("total_sent") or 0
                totals[name]["runs"].append({k: run.get(k) for k in ("completed", "completed_per_s", "ack_ms",
                                                                       "end_to_end_ms")})
        for name, t in totals.items():
            t["cpu_ms_per_answer"] = round(1000 * t["cpu_s"] / t["answers"], 2) if t["answers"] else None
            out["by_tree"][name] = t
    return out


async def idle(s: Settings) -> dict:
    """CPU of a started, untouched platform (Telegram webhook and WeChat channels on, SQLite), in ms per second."""
    # 20 s to settle: past start-up and the first run of each periodic job (the last, WeChat's gauge, at 15 s).
    out: dict = {"settle_s": 20.0, "seconds": s.idle_seconds, "by_tree": {}}
    async with trees(s) as checkouts, model_server(s, "model-idle", ZERO_MODEL) as model, \
            channel_servers(s, "-") as servers:
        _, tg_api, wx_api = servers.url.split()
        channels = {**telegram_channel(tg_api, default_pace=True), **wechat_channel(wx_api)}
        channels["wechat"]["app_id"], channels["wechat"]["app_secret"] = WECHAT_APP_ID, WECHAT_SECRET
        for name, tree in checkouts.items():
            async with database("sqlite", s.workdir) as url, \
                    platform(url, model.url, s.workdir, s.logs, label=f"idle-{len(out['by_tree'])}",
                             channels=channels, tree=tree) as plat:
                await asyncio.sleep(out["settle_s"])
                before = cpu_ns(plat.pid)
                await asyncio.sleep(s.idle_seconds)
                used = cpu_ns(plat.pid) - before
            out["by_tree"][name] = {"cpu_ms": round(used / 1e6, 3),
                                    "cpu_ms_per_s": round(used / 1e6 / s.idle_seconds, 4)}
    return out


async def acks(s: Settings) -> dict:
    """Webhook acknowledgements while `ack_users` chats keep the platform saturated (zero-latency model)."""
    out: dict = {"users": s.ack_users, "model": ZERO_MODEL, "database": "sqlite", "redis": None}
    reply = script_of(**ZERO_MODEL).reply.strip()
    async with model_server(s, "model-acks", ZERO_MODEL) as model, channel_servers(s, reply) as servers:
        control, tg_api, wx_api = servers.url.split()
        channels = {**telegram_channel(tg_api), **wechat_channel(wx_api)}
        channels["wechat"]["app_id"], channels["wechat"]["app_secret"] = WECHAT_APP_ID, WECHAT_SECRET
        wide = replace(s, users=s.ack_users)
        async with database("sqlite", s.workdir) as url, \
                platform(url, model.url, s.workdir, s.logs, label="acks", channels=channels) as plat:
            for channel in ("wechat", "telegram"):
                out[channel] = await _measure(wide, channel, plat, model, servers, control)
    return out
