"""Hot spots of the platform under load: py-spy samples the running process, we rank the functions."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

# Where a sample's time goes, by the first matching frame file from the top of the stack.
CATEGORIES = [
    ("database (tortoise, pypika, aiosqlite, asyncpg)", ("tortoise/", "pypika", "aiosqlite/", "asyncpg/", "sqlite3",
                                                         "adapters/storage/sqlite_inline.py")),
    ("model client (openai SDK, httpx2)", ("openai/", "httpx2/", "httpx/", "httpcore/", "anyio/", "h11/")),
    ("validation and JSON (pydantic, json)", ("pydantic/", "pydantic_core", "json/")),
    ("tokenizer (tiktoken)", ("tiktoken",)),
    ("logging and metrics", ("logging/", "prometheus_client/")),
    ("aiohttp (the HTTP server, and the model client's transport)", ("aiohttp/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
]
OURS = ("core/", "adapters/", "bot/")
ENTRY = ("bot/cli.py", "bot/__main__.py")   # every sample passes through these: not worth ranking
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1].lstrip("/").removeprefix(".11/").removeprefix(".12/")
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    return path.removeprefix(root)


def _frames(stack: str) -> tuple[str, list[tuple[str, str]]]:
    """(thread name, [(function, short file)] from the outermost frame in)."""
    parts = stack.split(";")
    thread = ""
    if parts and parts[0].startswith(("thread (", "process (")):
        thread = parts.pop(0).split(": ", 1)[-1]   # "thread (1234): MainThread" -> "MainThread"
    frames = []
    for part in parts:
        m = _FRAME.match(part.strip())
        if m:
            frames.append((m["func"], _short(m["file"])))
    return thread, frames


# Innermost frames that mean "waiting, not working": the event loop in select(), a worker thread on its queue.
IDLE = {("select", "selectors.py"), ("EpollSelector.select", "selectors.py"),
        ("_connection_worker_thread", "aiosqlite/core.py"), ("_worker", "concurrent/futures/thread.py")}


def analyse(raw: str, seconds: float, rate: int, top: int = 15) -> dict:
    """Rank the event loop's (MainThread's) busy stacks: the busiest functions, self and inclusive, and a
    breakdown by library. Every thread's busy share of the wall clock (py-spy's own idle detection does not
    work here, so waiting frames are recognised by name)."""
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    categories: Counter = Counter()
    busy: Counter = Counter()
    total = main = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        thread, frames = _frames(stack)
        if not frames or frames[-1] in IDLE:
            continue
        busy[thread or "?"] += n
        if thread not in ("MainThread", ""):
            continue
        main += n
        func, file = frames[-1]
        self_time[f"{func} ({file})"] += n
        for name in {f"{f} ({p})" for f, p in frames if p.startswith(OURS) and p not in ENTRY}:
            inclusive[name] += n
        categories[_category(frames)] += n

    def share(counter: Counter) -> list[dict]:
        return [{"name": k, "pct": round(100 * v / max(1, main), 1)} for k, v in counter.most_common(top)]

    wall = max(1.0, seconds * rate)
    return {"samples": total, "main_thread_busy_samples": main, "self": share(self_time),
            "inclusive_ours": share(inclusive), "categories": share(categories),
            "threads_busy_pct_of_wall": {k: round(100 * v / wall, 1) for k, v in busy.most_common()}}


def _category(frames: list[tuple[str, str]]) -> str:
    for _, file in reversed(frames):
        for name, markers in CATEGORIES:
            if any(m in file for m in markers):
                return name
        if file.startswith(OURS):
            return "platform code (core, adapters, bot)"
    return "other"


async def record(pid: int, seconds: float, out: Path, rate: int = 200) -> tuple[str | None, str]:
    """Sample `pid` for `seconds`; (collapsed stacks or None, a note on what happened)."""
    binary = py_spy()
    if binary is None:
        return None, "py-spy is not installed (`make bench` installs it: pip install -e '.[bench]')"
    proc = await asyncio.create_subprocess_exec(
        binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
        "--format", "raw", "--function", "--threads", "--nonblocking", "--output", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await proc.communicate()
    if proc.returncode != 0 or not out.exists():
        return None, f"py-spy failed ({proc.returncode}): {output.decode(errors='replace')[-300:]}"
    return out.read_text(), f"py-spy record, {rate} Hz, {int(seconds)} s, non-blocking"

