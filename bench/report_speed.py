"""The report's parts for issue 21: its targets, and the pace, idle and acks tables (bench/speed.py)."""
from __future__ import annotations

from typing import Any

from bench.report import NA, _errors, _get, _ms, _table


def _level(levels: list[dict] | None, users: int) -> dict:
    return next((lv for lv in levels or [] if lv.get("concurrency") == users), {})


def _trees(sec: dict) -> tuple[dict, dict, str]:
    """(working tree's numbers, the ref's, the ref's name)."""
    by = sec.get("by_tree") or {}
    ref = next((k for k in by if k.startswith("ref ")), "")
    return by.get("working tree") or {}, by.get(ref) or {}, ref


def targets(r: dict) -> list[list[str]]:
    sections = r.get("sections", {})
    rows: list[list[str]] = []

    def row(name: str, measured: Any, ok: bool, shown: str) -> None:
        rows.append([name, shown if measured is not None else NA,
                     "NOT RUN" if measured is None else ("PASS" if ok else "FAIL")])

    here, ref, ref_name = _trees(sections.get("pace") or {})
    a, b = here.get("cpu_ms_per_answer"), ref.get("cpu_ms_per_answer")
    row(f"CPU per streamed Telegram answer, default pace ≤ ½ × {ref_name or 'the ref'}'s",
        a if b else None, bool(a and b and a <= b / 2),
        f"{_ms(a)} vs {_ms(b)} ms ({round(a / b, 2) if a and b else NA}×)")
    for db, goal in (("sqlite", 450), ("postgres", 350)):
        rps = _get(sections, "throughput", "by_database", db, "saturation", "max_rps")
        row(f"≥ {goal} msg/s on {db}, one process, zero-latency model", rps, rps is not None and rps >= goal,
            f"{rps} msg/s")
    idle_here, idle_ref, _ = _trees(sections.get("idle") or {})
    idle = idle_here.get("cpu_ms_per_s")
    row("Idle CPU < 0.2 ms/s (Telegram webhook and WeChat on, SQLite)", idle, idle is not None and idle < 0.2,
        f"{idle} ms/s (ref: {idle_ref.get('cpu_ms_per_s', NA)})")
    mem = sections.get("memory") or {}
    rss, rss_ref = mem.get("rss_after_conversations_mb"), _get(mem, "ref", "rss_after_conversations_mb")
    row(f"RSS after {mem.get('conversations', NA)} conversations within 10% of the ref's", rss if rss_ref else None,
        bool(rss and rss_ref and rss <= 1.1 * rss_ref), f"{rss} vs {rss_ref} MB")
    tp = sections.get("throughput") or {}
    p = _get(_level(_get(tp, "by_database", "sqlite", "levels"), 16), "latency_ms", "p50")
    base = _get(_level(tp.get("baseline"), 16), "latency_ms", "p50")
    ratio = round(p / base, 2) if p and base else None
    row("p50 at 16 users, zero-latency model ≤ 1.3 × bare baseline (SQLite)", ratio, ratio is not None and ratio <= 1.3,
        f"{ratio}× ({_ms(p)} vs {_ms(base)} ms)")
    acks = sections.get("acks") or {}
    for channel in ("wechat", "telegram"):
        p99 = _get(acks, channel, "ack_ms", "p99")
        row(f"{channel} ack p99 < 50 ms, {acks.get('users', 256)} users, SQLite, no Redis", p99,
            p99 is not None and p99 < 50, f"{_ms(p99)} ms at {_get(acks, channel, 'completed_per_s')} answers/s")
    return rows


def tables(r: dict, out: list[str]) -> None:
    sections = r.get("sections", {})
    pace = sections.get("pace") or {}
    out += ["## 6. CPU per streamed Telegram answer at the default edit pace, working tree beside a git ref", ""]
    if not pace or "failed" in pace:
        out += [f"Not run: {pace.get('failed', 'section not selected')}", ""]
    else:
        rows = []
        for name, t in (pace.get("by_tree") or {}).items():
            runs = t.get("runs") or []
            rows.append([name, t.get("answers"), t.get("cpu_s"), t.get("cpu_ms_per_answer"),
                         " / ".join(_ms(_get(x, "end_to_end_ms", "p50")) for x in runs),
                         " / ".join(_ms(_get(x, "ack_ms", "p99")) for x in runs)])
        out += _table(["code", "answers", "platform CPU s", "CPU ms per answer", "answer p50 ms (per run)",
                       "ack p99 ms (per run)"], rows)
        out += [str(pace.get("method", "")), ""]
    idle = sections.get("idle") or {}
    out += ["## 7. Idle CPU", ""]
    if not idle or "failed" in idle:
        out += [f"Not run: {idle.get('failed', 'section not selected')}", ""]
    else:
        out += [f"A started platform (Telegram webhook and WeChat channels on, SQLite) left alone: "
                f"{idle.get('settle_s')} s to settle, then its CPU (all threads, schedstat) over "
                f"{idle.get('seconds')} s.", ""]
        out += _table(["code", "CPU ms", "CPU ms per s"],
                      [[n, t.get("cpu_ms"), t.get("cpu_ms_per_s")] for n, t in (idle.get("by_tree") or {}).items()])
    acks = sections.get("acks") or {}
    out += [f"## 8. Acknowledgements at saturation ({acks.get('users', 256)} users, SQLite, no Redis)", ""]
    if not acks or "failed" in acks:
        out += [f"Not run: {acks.get('failed', 'section not selected')}", ""]
        return
    rows = [[c, _get(acks, c, "completed_per_s"), _ms(_get(acks, c, "ack_ms", "p50")),
             _ms(_get(acks, c, "ack_ms", "p99")), _get(acks, c, "run", "cpu", "platform_cpu_pct"),
             _get(acks, c, "run", "cpu", "machine_busy_pct"), _errors(_get(acks, c, "run"))]
            for c in ("wechat", "telegram")]
    out += _table(["channel", "answers/s", "ack p50 ms", "ack p99 ms", "platform CPU %", "machine CPU % (of 200)",
                   "errors"], rows)
    out += ["Each user is a chat that posts an update and waits for its whole answer before the next (zero-latency "
            "model, Telegram without edit pauses); an ack is counted when it was sent after the warm-up.", ""]
