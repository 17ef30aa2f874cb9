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


def test_bench_measures_the_working_tree_beside_a_git_ref(tmp_path: Path) -> None:
    """pace and idle run the same measurement on the code of a ref checked out under /tmp (here HEAD), and the
    worktree is gone afterwards."""
    out = tmp_path / "results"
    before = _worktrees()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--sections", "pace,idle", "--duration", "2", "--users", "2",
         "--rounds", "1", "--ref", "HEAD", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sections = json.loads((out / "results.json").read_text())["sections"]
    pace, idle = sections["pace"]["by_tree"], sections["idle"]["by_tree"]
    refs = [name for name in pace if name.startswith("ref ")]
    assert len(refs) == 1 and {"working tree", *refs} == set(idle) <= set(pace)
    for tree in pace.values():
        assert tree["answers"] > 0 and tree["cpu_ms_per_answer"] > 0
        assert all(run["completed"] > 0 for run in tree["runs"])
    assert all(tree["cpu_ms_per_s"] >= 0 for tree in idle.values())
    assert _worktrees() == before
    report = (out / "report.md").read_text()
    assert "CPU per streamed Telegram answer, default pace" in report and "## 7. Idle CPU" in report


def _worktrees() -> set[str]:
    listing = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return {line.split(" ", 1)[1] for line in listing.stdout.splitlines() if line.startswith("worktree ")}
