"""The benchmark harness still runs end to end: model server, baseline, `bot run`, load generator, report."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_overhead_section_runs_at_minimal_size(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--sections", "overhead", "--databases", "sqlite", "--duration", "0.5",
         "--warmup", "0", "--users", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    sqlite = results["sections"]["overhead"]["by_database"]["sqlite"]
    for mode in ("blocking", "stream"):
        for run in ("platform_run", "baseline_run"):
            measured = sqlite[mode][run]
            assert measured["ok"] > 0 and not measured["errors"], (mode, run, measured)
        latency = sqlite[mode]["latency"]     # the overhead is the platform's p50 less the baseline's
        assert latency["overhead_p50_ms"] == round(latency["platform"]["p50"] - latency["baseline"]["p50"], 2)
        assert sqlite[mode]["platform_cpu_ms_per_msg"] > 0
    assert sqlite["stream"]["ttft"]["platform"]["n"] > 0

    report = (out / "report.md").read_text()
    assert "## Targets" in report and "| sqlite |" in report
    assert "Platform p50 ≤ 1.5 × baseline p50" in report
