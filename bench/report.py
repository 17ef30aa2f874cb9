"""results.json -> report.md: the targets with PASS/FAIL, then one table per measurement."""
from __future__ import annotations

from typing import Any

NA = "–"


def _get(d: Any, *path: Any) -> Any:
    for key in path:
        if isinstance(d, dict):
            d = d.get(key)
        elif isinstance(d, list) and isinstance(key, int) and -len(d) <= key < len(d):
            d = d[key]
        else:
            return None
    return d


def _ms(v: Any) -> str:
    return NA if v is None else f"{v:.1f}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(NA if c is None else str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _errors(run: dict | None) -> str:
    if not run:
        return NA
    if run.get("failed"):
        return "FAILED: " + str(run["failed"])[:120]
    errs = sum((run.get("errors") or {}).values())
    return f"{errs}/{run.get('requests', 0)}" if errs else "0"


def targets(r: dict) -> list[list[str]]:
    sections = r.get("sections", {})
    blocking = _get(sections, "overhead", "by_database", "sqlite", "blocking", "latency") or {}
    sqlite_tp = _get(sections, "throughput", "by_database", "sqlite", "saturation", "max_rps")
    ack = _get(sections, "channels", "wechat", "ack_ms", "p99")
    rows = []

    def row(name: str, measured: Any, ok: bool | None, shown: str) -> None:
        verdict = "NOT RUN" if measured is None else ("PASS" if ok else "FAIL")
        rows.append([name, shown if measured is not None else NA, verdict])

    ratio = blocking.get("ratio_p50")
    row("Platform p50 ≤ 1.5 × baseline p50, blocking, 16 users, SQLite", ratio, ratio is not None and ratio <= 1.5,
        f"{ratio}× ({_ms(_get(blocking, 'platform', 'p50'))} vs {_ms(_get(blocking, 'baseline', 'p50'))} ms)")
    p99 = blocking.get("overhead_p99_ms")
    row("p99 overhead < 25 ms, blocking, 16 users, SQLite", p99, p99 is not None and p99 < 25, f"{_ms(p99)} ms")
    row("≥ 300 msg/s on SQLite, one process, zero-latency model", sqlite_tp,
        sqlite_tp is not None and sqlite_tp >= 300, f"{sqlite_tp} msg/s")
    redis_ack = _get(sections, "channels", "wechat_redis", "ack_ms", "p99")
    row("WeChat ack p99 < 50 ms, customer_service mode (SQLite only)", ack, ack is not None and ack < 50,
        f"{_ms(ack)} ms" + (f" (with redis.url: {_ms(redis_ack)} ms)" if redis_ack is not None else ""))
    return rows


def _overhead(r: dict, out: list[str]) -> None:
    sec = _get(r, "sections", "overhead") or {}
    if "failed" in sec or not sec:
        out += [f"Not run: {sec.get('failed', 'section not selected')}", ""]
        return
    model = sec["model"]
    model_s = (f"model: headers after {model['first_delay'] * 1000:.0f} ms, {model['chunks']} chunks "
               f"{model['chunk_delay'] * 1000:.0f} ms apart; {sec['users']} users, {sec['duration_s']} s per run")
    for mode, key, title in (("blocking", "latency", "## 1. Overhead per blocking message"),
                             ("stream", "ttft", "## 2. Time-to-first-token overhead, SSE streaming")):
        out += [title, "", model_s + ".", ""]
        rows = []
        for db, by in sec["by_database"].items():
            c = _get(by, mode, key) or {}
            rows.append([db, _ms(_get(c, "platform", "p50")), _ms(_get(c, "platform", "p99")),
                         _ms(_get(c, "baseline", "p50")), _ms(_get(c, "baseline", "p99")),
                         _ms(c.get("overhead_p50_ms")), _ms(c.get("overhead_p99_ms")), c.get("ratio_p50"),
                         _get(by, mode, "platform_cpu_ms_per_msg"), _get(by, mode, "baseline_cpu_ms_per_msg"),
                         _get(by, mode, "platform_run", "throughput_rps"),
                         _get(by, mode, "platform_run", "cpu", "machine_busy_pct"),
                         _errors(_get(by, mode, "platform_run")) + " / " + _errors(_get(by, mode, "baseline_run"))])
        out += _table(["database", "platform p50 ms", "platform p99 ms", "baseline p50 ms", "baseline p99 ms",
                       "overhead p50 ms", "overhead p99 ms", "ratio p50", "platform CPU ms/msg",
                       "baseline CPU ms/msg", "platform msg/s", "machine CPU % (of 200)",
                       "errors platform / baseline"], rows)


def _throughput(r: dict, out: list[str]) -> None:
    sec = _get(r, "sections", "throughput") or {}
    out += ["## 3. Throughput with a zero-latency model", ""]
    if "failed" in sec or not sec:
        out += [f"Not run: {sec.get('failed', 'section not selected')}", ""]
        return
    out += [f"Closed loop, {sec['level_duration_s']} s per level; the model answers {sec['model']['chunks']} chunks "
            "at once. CPU is % of one core over the run; 'loop probe' is the latency of an unrouted GET sent "
            "every 50 ms during the run (no database or model work: the wait for the event loop).", ""]
    for db, by in sec["by_database"].items():
        rows = []
        for lv in by["levels"]:
            cpu = lv.get("cpu") or {}
            threads = cpu.get("platform_threads_cpu_pct") or {}
            others = ", ".join(f"{k} {v}" for k, v in threads.items() if k != "main") or NA
            rows.append([lv.get("concurrency"), lv.get("throughput_rps"), _ms(_get(lv, "latency_ms", "p50")),
                         _ms(_get(lv, "latency_ms", "p99")), threads.get("main", cpu.get("platform_cpu_pct")),
                         others, cpu.get("postgres_cpu_pct"), cpu.get("model_cpu_pct"), lv.get("loadgen_cpu_pct"),
                         lv.get("platform_cpu_ms_per_request"), cpu.get("machine_busy_pct"),
                         f"{_ms(_get(lv, 'loop_probe_ms', 'p50'))} / {_ms(_get(lv, 'loop_probe_ms', 'p99'))}",
                         _errors(lv)])
        sat = by.get("saturation") or {}
        out += [f"### {db}", ""]
        out += _table(["users", "msg/s", "p50 ms", "p99 ms", "platform main thread CPU %", "platform other threads %",
                       "postgres CPU %", "model server CPU %", "loadgen CPU %", "platform CPU ms/msg",
                       "machine CPU % (of 200)", "loop probe p50 / p99 ms", "errors"], rows)
        out += [f"Saturation: {sat.get('max_rps')} msg/s at {sat.get('at_users')} users (90% of that from "
                f"{sat.get('saturates_from_users')} users); limited by {sat.get('cause')}.", ""]
    rows = [[b.get("concurrency"), b.get("throughput_rps"), _ms(_get(b, "latency_ms", "p50")),
             _ms(_get(b, "latency_ms", "p99")), _get(b, "cpu", "baseline_cpu_pct"), _get(b, "cpu", "model_cpu_pct"),
             b.get("baseline_cpu_ms_per_request"), _errors(b)] for b in sec.get("baseline", [])]
    out += ["### bare baseline (same model server, the platform's own model client)", ""]
    out += _table(["users", "req/s", "p50 ms", "p99 ms", "baseline CPU %", "model server CPU %", "baseline CPU ms/req",
                   "errors"], rows)


def _channels(r: dict, out: list[str]) -> None:
    sec = _get(r, "sections", "channels") or {}
    out += ["## 4. Channels (webhook modes, real adapters, fake platform servers)", ""]
    if "failed" in sec or not sec:
        out += [f"Not run: {sec.get('failed', 'section not selected')}", ""]
        return
    rows = []
    for name in ("telegram", "wechat", "wechat_redis"):
        c = sec.get(name) or {}
        if name == "wechat_redis" and not c:
            continue
        label = "wechat + redis.url" if name == "wechat_redis" else name
        if "skipped" in c:
            rows.append([label, "NOT RUN: " + c["skipped"], None, None, None, None, None])
            continue
        rows.append([label, c.get("users"), c.get("sent"), c.get("completed"), c.get("completed_per_s"),
                     f"{_ms(_get(c, 'ack_ms', 'p50'))} / {_ms(_get(c, 'ack_ms', 'p99'))}", _errors(c.get("run"))])
    out += _table(["channel", "users", "updates sent", "replies delivered", "updates/s (end to end)",
                   "ack p50 / p99 ms", "errors"], rows)
    out += [str(sec.get("method", "")), ""]


def _memory(r: dict, out: list[str]) -> None:
    sec = _get(r, "sections", "memory") or {}
    out += ["## 5. Memory (RSS of the platform process, SQLite)", ""]
    if not sec or ("failed" in sec and "rss_start_mb" not in sec):
        out += [f"Not run: {sec.get('failed', 'section not selected')}", ""]
        return
    emb = sec.get("embedding") or {}
    rows = [["at start (idle, after start-up)", sec.get("rss_start_mb")],
            ["after the first message", sec.get("rss_after_first_message_mb")],
            [f"after {sec.get('conversations')} conversations (1 message each)", sec.get("rss_after_conversations_mb")],
            ["… 2 s later, idle", sec.get("rss_after_conversations_idle_mb")],
            [f"with the embedding model loaded (a second platform process: {sec.get('rss_kb_start_mb')} MB at start, "
             f"then one text resource indexed in {emb.get('index_seconds')} s)",
             sec.get("rss_with_embedding_model_mb") if "skipped" not in emb else "NOT RUN: " + emb["skipped"]]]
    ref = sec.get("ref") or {}
    if ref:
        rows.append([f"{ref.get('name')}: after {sec.get('conversations')} conversations (same run, its code)",
                     ref.get("rss_after_conversations_mb")])
    out += _table(["when", "RSS MB"], rows)
    conv = sec.get("conversations_run") or {}
    out += [f"The conversations ran at {conv.get('throughput_rps')} messages/s (each with its own "
            f"POST /conversations); errors: {_errors(conv)}.", ""]


def _hot_spots(r: dict, out: list[str]) -> None:
    sec = _get(r, "sections", "profile") or {}
    out += ["## Hot spots (py-spy, SQLite, zero-latency model)", ""]
    if not sec or "failed" in sec or not sec.get("samples"):
        out += [f"Not run: {sec.get('failed') or sec.get('note') or 'section not selected'}", ""]
        return
    threads = ", ".join(f"{k} {v}%" for k, v in (sec.get("threads_busy_pct_of_wall") or {}).items())
    out += [f"{sec['note']}; {sec['users']} users; {sec['samples']} samples; "
            f"{sec.get('throughput_rps_while_sampled')} msg/s while sampled. Threads busy (share of wall time, "
            f"waiting frames excluded): {threads}.", "",
            "Where the event loop's busy time goes (innermost recognised library of each sample):", ""]
    out += _table(["category", "% of samples"], [[c["name"], c["pct"]] for c in sec["categories"]])
    out += _table(["platform function (inclusive)", "% of samples"],
                  [[c["name"], c["pct"]] for c in sec["inclusive_ours"]
                   if not c["name"].endswith(("(bot/cli.py)", "(bot/__main__.py)"))][:12])
    out += _table(["function (self time)", "% of samples"], [[c["name"], c["pct"]] for c in sec["self"][:12]])


def render(r: dict) -> str:
    from bench import report_speed   # it uses this module's helpers

    c = r.get("conditions", {})
    s = r.get("settings", {})
    out = ["# Benchmark report", "",
           f"Run {c.get('date')} at commit {c.get('commit')}{' (with uncommitted changes)' if c.get('dirty') else ''}; "
           f"{'quick' if s.get('quick') else 'full'} run, {c.get('elapsed_s')} s. Machine: {c.get('cpus')} × "
           f"{c.get('cpu_model')}, Linux {c.get('kernel')}, Python {c.get('python')}. Load average before "
           f"{c.get('load_average_before')}, after {c.get('load_average_after')}. The platform, the baseline, "
           "the model server and the load generator are separate processes sharing these cores.", "",
           "1-minute load average at the start and end of each section: " + "; ".join(
               f"{n} {v.get('load_average_1min')}" for n, v in r.get("sections", {}).items()
               if isinstance(v, dict)) + ".", "", "## Targets", ""]
    out += _table(["target", "measured", "verdict"], targets(r))
    out += ["### Targets of issue 21 (speed)", ""]
    out += _table(["target", "measured", "verdict"], report_speed.targets(r))
    _overhead(r, out)
    _throughput(r, out)
    _channels(r, out)
    _memory(r, out)
    report_speed.tables(r, out)
    _hot_spots(r, out)
    notes = r.get("notes") or []
    failed = {n: v["failed"] for n, v in r.get("sections", {}).items() if isinstance(v, dict) and "failed" in v}
    if notes or failed:
        out += ["## Notes", ""] + [f"- {n}" for n in notes] + [f"- section {n} failed: {f}" for n, f in failed.items()]
    return "\n".join(out) + "\n"
