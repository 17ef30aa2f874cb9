"""The measurements: overhead per message, time to first token, throughput, hot spots."""
from __future__ import annotations

import asyncio
import os

from bench import profile as spy
from bench.harness import (
    LATENCY_MODEL, ZERO_MODEL, LoopProbe, Settings, baseline_server, loadgen, model_server, until_quiet,
)
from bench.memory import first_message
from bench.platform import ADMIN_KEY, database, platform
from bench.procs import CpuWindow


# Seconds `measured` may wait for a quiet machine before each run (`--wait-quiet`); 0: never wait.
QUIET_WAIT = [0.0]


def compare(platform_run: dict, baseline_run: dict, key: str) -> dict:
    """Platform against baseline on one latency measure: overheads and ratios at p50 and p99."""
    p, b = platform_run.get(key), baseline_run.get(key)
    if not p or not b:
        return {"platform": p, "baseline": b}
    return {"platform": p, "baseline": b,
            "overhead_p50_ms": round(p["p50"] - b["p50"], 2), "overhead_p99_ms": round(p["p99"] - b["p99"], 2),
            "ratio_p50": round(p["p50"] / b["p50"], 3) if b["p50"] else None,
            "ratio_p99": round(p["p99"] / b["p99"], 3) if b["p99"] else None}


def cpu_per_message(cpu: dict, run: dict, name: str) -> float | None:
    sent = run.get("total_sent") or 0
    seconds = cpu.get("cpu_seconds", {}).get(name)
    return round(1000 * seconds / sent, 3) if sent and seconds is not None else None


async def measured(spec: dict, pids: dict[str, int], with_postgres: bool = False, probe_url: str | None = None) -> dict:
    """One load generator run with the CPU of `pids` (and the loop probe) measured around it; first, with
    `--wait-quiet`, until the machine is quiet."""
    quiet = await until_quiet(QUIET_WAIT[0]) if QUIET_WAIT[0] > 0 else None
    window = CpuWindow(pids, with_postgres)
    window.start()
    if probe_url:
        with LoopProbe(probe_url) as probe:
            result = await loadgen(spec)
        result["loop_probe_ms"] = probe.result(skip=float(spec.get("warmup", 0)))
    else:
        result = await loadgen(spec)
    result["cpu"] = window.stop()
    result["quiet_before"] = quiet
    for name in pids:
        result[f"{name}_cpu_ms_per_request"] = cpu_per_message(result["cpu"], result, name)
    return result


async def overhead(s: Settings) -> dict:
    """(1) blocking latency and (2) SSE time to first token, platform beside baseline, at `s.users` users."""
    out: dict = {"model": LATENCY_MODEL, "users": s.users, "duration_s": s.duration, "warmup_s": s.warmup,
                 "by_database": {}}
    async with model_server(s, "model-latency", LATENCY_MODEL) as model, baseline_server(s, model.url) as base:
        for db in s.databases:
            async with database(db, s.workdir) as url, \
                    platform(url, model.url, s.workdir, s.logs, label=f"overhead-{db}") as plat:
                rows: dict = {}
                for mode in ("blocking", "stream"):
                    common = {"concurrency": s.users, "duration": s.duration, "warmup": s.warmup,
                              "stream": mode == "stream"}
                    b = await measured({"target": "baseline", "base_url": base.url, **common},
                                       {"baseline": base.pid, "model": model.pid})
                    p = await measured({"target": "api", "base_url": plat.url, "admin_key": ADMIN_KEY, **common},
                                       {"platform": plat.pid, "model": model.pid}, db == "postgres")
                    rows[mode] = {"baseline_run": b, "platform_run": p,
                                  "latency": compare(p, b, "latency_ms"),
                                  "ttft": compare(p, b, "ttft_ms") if mode == "stream" else None,
                                  "platform_cpu_ms_per_msg": p.get("platform_cpu_ms_per_request"),
                                  "baseline_cpu_ms_per_msg": b.get("baseline_cpu_ms_per_request")}
                out["by_database"][db] = rows
    return out


def saturation(levels: list[dict]) -> dict:
    """Where throughput stops growing, and what ran out there."""
    good = [r for r in levels if r.get("throughput_rps")]
    if not good:
        return {"verdict": "no successful level"}
    best = max(good, key=lambda r: r["throughput_rps"])
    first = next(r for r in good if r["throughput_rps"] >= 0.9 * best["throughput_rps"])
    cpu = best.get("cpu", {})
    threads = cpu.get("platform_threads_cpu_pct", {})
    main = threads.get("main", cpu.get("platform_cpu_pct", 0))
    db_cpu = max([v for k, v in threads.items() if k != "main"] + [cpu.get("postgres_cpu_pct", 0)])
    ours = sum(v for k, v in cpu.items() if k.endswith("_cpu_pct") and isinstance(v, (int, float)))
    ours += best.get("loadgen_cpu_pct", 0)
    machine = cpu.get("machine_busy_pct", ours)
    cores = 100 * (os.cpu_count() or 1)
    if main >= 85:
        cause = f"the platform's event loop: its main thread used {main:.0f}% of a core (Python runs it on one)"
    elif db_cpu >= 80:
        cause = f"the database: {db_cpu:.0f}% of a core"
    elif machine >= 0.85 * cores:
        cause = (f"the machine: {machine:.0f}% of {cores}% CPU was busy ({machine - ours:.0f}% of it outside "
                 f"this benchmark's processes), so the platform got only {main:.0f}% of a core")
    else:
        cause = f"not CPU-bound in the platform (main thread {main:.0f}%); waiting (locks, I/O)"
    return {"max_rps": best["throughput_rps"], "at_users": best["concurrency"],
            "saturates_from_users": first["concurrency"], "cause": cause,
            "machine_busy_pct": round(machine, 1), "benchmark_processes_cpu_pct": round(ours, 1)}


async def throughput(s: Settings) -> dict:
    """(3) messages per second with a zero-latency model at each concurrency level, per database."""
    out: dict = {"model": ZERO_MODEL, "level_duration_s": s.level_duration, "levels": list(s.levels),
                 "baseline": [], "by_database": {}}
    warmup = min(1.5, s.level_duration / 4)
    async with model_server(s, "model-zero", ZERO_MODEL) as model:
        async with baseline_server(s, model.url) as base:
            for level in s.levels:
                out["baseline"].append(await measured(
                    {"target": "baseline", "base_url": base.url, "concurrency": level,
                     "duration": s.level_duration, "warmup": warmup}, {"baseline": base.pid, "model": model.pid}))
        for db in s.databases:
            rows = []
            async with database(db, s.workdir) as url, \
                    platform(url, model.url, s.workdir, s.logs, label=f"throughput-{db}") as plat:
                for level in s.levels:
                    rows.append(await measured(
                        {"target": "api", "base_url": plat.url, "admin_key": ADMIN_KEY, "concurrency": level,
                         "duration": s.level_duration, "warmup": warmup},
                        {"platform": plat.pid, "model": model.pid}, db == "postgres", probe_url=plat.url))
            out["by_database"][db] = {"levels": rows, "saturation": saturation(rows)}
        out["baseline_saturation"] = saturation(out["baseline"])
    return out


async def hot_spots(s: Settings, users: int = 16) -> dict:
    """Profile the platform (SQLite) at `users` users with py-spy while the zero-latency model answers."""
    out: dict = {"users": users, "database": "sqlite"}
    async with model_server(s, "model-profile", ZERO_MODEL) as model, database("sqlite", s.workdir) as url, \
            platform(url, model.url, s.workdir, s.logs, label="profile") as plat:
        await first_message(plat.url)   # one-time work (the tokenizer's tables) is not a hot spot
        spec = {"target": "api", "base_url": plat.url, "admin_key": ADMIN_KEY, "concurrency": users,
                "duration": s.profile_seconds + 3, "warmup": 1.5}
        load = asyncio.get_running_loop().create_task(loadgen(spec))
        await asyncio.sleep(1.5)
        raw, note = await spy.record(plat.pid, s.profile_seconds, s.out / "profile.txt")
        run = await load
    out["note"] = note
    out["throughput_rps_while_sampled"] = run.get("throughput_rps")
    if raw is not None:
        out.update(spy.analyse(raw, int(s.profile_seconds), 200))
    return out
