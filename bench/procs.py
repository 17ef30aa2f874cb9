"""Child processes of a benchmark run, and what /proc says about their CPU time and memory."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Child:
    """A process this run started; stopped by its own pid, never by name."""

    name: str
    proc: asyncio.subprocess.Process
    log_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self, grace: float = 10.0) -> int | None:
        if self.proc.returncode is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(self.proc.wait(), grace)
            except ProcessLookupError:
                pass
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


async def start_child(name: str, args: list[str], log_dir: Path, *, ready_prefix: str = "READY ",
                      ready_url: str | None = None, timeout: float = 60.0, env: dict | None = None,
                      tree: Path | None = None) -> Child:
    """Start `python args...` from the repo root (or from `tree`, another checkout, whose code then runs with the
    same interpreter); ready when it prints `READY <url>` or `ready_url` answers."""
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    if tree is not None:
        env = {**(env or {}), "PYTHONPATH": str(tree)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=tree or ROOT, stdout=asyncio.subprocess.PIPE if ready_url is None else log,
        stderr=log, env={**os.environ, **(env or {})}, start_new_session=True)
    child = Child(name, proc, log_path)
    deadline = time.monotonic() + timeout
    try:
        if ready_url is None:
            assert proc.stdout is not None
            while True:
                line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
                if not line:
                    raise RuntimeError(f"{name} exited before it was ready:\n{child.log_tail()}")
                text = line.decode(errors="replace").strip()
                if text.startswith(ready_prefix):
                    child.url = text.removeprefix(ready_prefix).strip()
                    break
            asyncio.get_running_loop().create_task(_drain(proc.stdout, log))
        else:
            await _wait_http(ready_url, proc, deadline)
            child.url = ready_url
    except BaseException:
        await child.stop(2)
        raise
    return child


async def _drain(stream: asyncio.StreamReader, log) -> None:
    while line := await stream.readline():
        log.write(line)
        log.flush()


async def _wait_http(url: str, proc: asyncio.subprocess.Process, deadline: float) -> None:
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"the process exited with {proc.returncode} before {url} answered")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 in time")


# --- /proc -----------------------------------------------------------------------------------

def _cpu_of_stat(path: str) -> float:
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime


def cpu_seconds(pid: int) -> float:
    return _cpu_of_stat(f"/proc/{pid}/stat")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread: 'main' is the event loop; the rest (aiosqlite, executors) by thread name."""
    out: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            cpu = _cpu_of_stat(f"/proc/{pid}/task/{tid}/stat")
            name = "main" if int(tid) == pid else Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + cpu
    return out


def cpu_ns(pid: int) -> int:
    """CPU time of a process's live threads in nanoseconds (schedstat: finer than /proc/stat's 10 ms ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def postgres_cpu() -> float:
    """CPU seconds of every process named postgres on this machine (the database server's work)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


@dataclass
class CpuWindow:
    """CPU used by some processes between start() and stop(), as a share of one core."""

    pids: dict[str, int]
    with_postgres: bool = False
    _t0: float = 0.0
    _cpu0: dict[str, float] = field(default_factory=dict)
    _threads0: dict[str, float] = field(default_factory=dict)

    def _snapshot(self) -> tuple[dict[str, float], dict[str, float]]:
        cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        cpu["machine_busy"], cpu["machine_total"] = machine_cpu()
        if self.with_postgres:
            cpu["postgres"] = postgres_cpu()
        threads = thread_cpu(self.pids["platform"]) if "platform" in self.pids else {}
        return cpu, threads

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0, self._threads0 = self._snapshot()

    def stop(self) -> dict:
        elapsed = max(1e-6, time.monotonic() - self._t0)
        cpu, threads = self._snapshot()
        out = {f"{name}_cpu_pct": round(100 * (cpu[name] - self._cpu0.get(name, 0.0)) / elapsed, 1) for name in cpu
               if not name.startswith("machine_")}
        # Everything that ran on the machine meanwhile, in % of one core (200% = both cores busy).
        out["machine_busy_pct"] = round(100 * (cpu["machine_busy"] - self._cpu0["machine_busy"]) / elapsed, 1)
        if threads:
            out["platform_threads_cpu_pct"] = {
                name: round(100 * (v - self._threads0.get(name, 0.0)) / elapsed, 1)
                for name, v in sorted(threads.items()) if v - self._threads0.get(name, 0.0) > 0.005 * elapsed}
        out["cpu_seconds"] = {name: round(cpu[name] - self._cpu0.get(name, 0.0), 3) for name in cpu
                              if not name.startswith("machine_")}
        return out
