"""`make bench`: run the benchmark sections and write results.json and report.md.

    python -m bench.run [--quick] [--sections overhead,throughput,channels,pace,idle,acks,memory,profile]
                        [--databases sqlite,postgres] [--ref a19727f] [--wait-quiet 30] [--out bench/results]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from bench import channels, memory, report, sections, speed
from bench.harness import Settings
from bench.platform import postgres_available
from bench.procs import ROOT, load_average

SECTIONS = {"overhead": sections.overhead, "throughput": sections.throughput, "channels": channels.run,
            "pace": speed.pace, "idle": speed.idle, "acks": speed.acks, "memory": memory.run,
            "profile": sections.hot_spots}


def settings_from(args: argparse.Namespace, workdir: Path) -> Settings:
    s = Settings(out=Path(args.out).resolve(), workdir=workdir)
    if args.quick:
        s = replace(s, quick=True, duration=6.0, warmup=1.0, level_duration=4.0, channel_duration=4.0,
                    conversations=1000, profile_seconds=5.0, rounds=1, idle_seconds=10.0)
    if args.sections:
        unknown = set(args.sections.split(",")) - set(SECTIONS)
        if unknown:
            raise SystemExit(f"unknown sections: {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
        s = replace(s, sections=tuple(args.sections.split(",")))
    if args.databases:
        s = replace(s, databases=tuple(args.databases.split(",")))
    if args.duration is not None:
        s = replace(s, duration=args.duration, level_duration=args.duration, channel_duration=args.duration,
                    profile_seconds=max(1.0, args.duration), idle_seconds=args.duration)
    for name in ("warmup", "users", "conversations", "ref", "rounds", "ack_users"):
        if getattr(args, name) is not None:
            s = replace(s, **{name: getattr(args, name)})
    if args.levels:
        s = replace(s, levels=tuple(int(x) for x in args.levels.split(",")))
    return s


def conditions() -> dict:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), host.processor())
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "python": sys.version.split()[0],
            "cpus": os.cpu_count(), "cpu_model": cpu, "kernel": host.release(),
            "commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain")),
            "load_average_before": [round(x, 2) for x in load_average()]}


async def run(s: Settings) -> dict:
    results: dict = {"conditions": conditions(), "settings": {
        "quick": s.quick, "sections": list(s.sections), "databases": list(s.databases), "duration_s": s.duration,
        "warmup_s": s.warmup, "users": s.users, "levels": list(s.levels), "level_duration_s": s.level_duration,
        "channel_duration_s": s.channel_duration, "conversations": s.conversations, "ref": s.ref,
        "rounds": s.rounds, "idle_s": s.idle_seconds, "ack_users": s.ack_users,
        "wait_quiet_s": sections.QUIET_WAIT[0]}, "sections": {}}
    if "postgres" in s.databases:
        why = await postgres_available()
        if why is not None:
            s.databases = tuple(d for d in s.databases if d != "postgres")
            s.notes.append(f"PostgreSQL variants NOT run: PostgreSQL is not reachable ({why}).")
    started = time.monotonic()
    for name in s.sections:
        t0 = time.monotonic()
        load0 = round(load_average()[0], 2)
        print(f"bench: {name} ... (load average {load0})", file=sys.stderr, flush=True)
        try:
            results["sections"][name] = await SECTIONS[name](s)
        except Exception as e:  # one broken section must not lose the others' numbers
            results["sections"][name] = {"failed": f"{e.__class__.__name__}: {e}",
                                         "traceback": traceback.format_exc()[-2000:]}
        results["sections"][name]["elapsed_s"] = round(time.monotonic() - t0, 1)
        results["sections"][name]["load_average_1min"] = [load0, round(load_average()[0], 2)]
        print(f"bench: {name} done in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    results["conditions"]["load_average_after"] = [round(x, 2) for x in load_average()]
    results["conditions"]["elapsed_s"] = round(time.monotonic() - started, 1)
    results["notes"] = s.notes
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 3 minutes)")
    parser.add_argument("--sections", help=f"comma-separated, from: {','.join(SECTIONS)}")
    parser.add_argument("--databases", help="comma-separated: sqlite,postgres (sqlite_full: SQLite with fsyncs)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--duration", type=float, help="seconds per measurement (overrides every section)")
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--users", type=int, help="concurrent users for the latency sections (default 16)")
    parser.add_argument("--levels", help="concurrency levels for throughput (default 1,16,64,256)")
    parser.add_argument("--conversations", type=int, help="conversations for the memory section (default 10000)")
    parser.add_argument("--ref", help="the git ref measured beside the working tree (default a19727f)")
    parser.add_argument("--rounds", type=int, help="pace: runs per tree, alternating (default 2)")
    parser.add_argument("--ack-users", type=int, help="acks: concurrent chats (default 256)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                        help="before each measurement wait up to S seconds for the machine's CPU to be idle")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
        s = settings_from(args, Path(tmp))
        sections.QUIET_WAIT[0] = args.wait_quiet
        s.logs.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(run(s))
    (s.out / "results.json").write_text(json.dumps(results, indent=2))
    (s.out / "report.md").write_text(report.render(results))
    print(f"bench: wrote {s.out / 'report.md'} and {s.out / 'results.json'}", file=sys.stderr)
    failed = [n for n, r in results["sections"].items() if "failed" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
