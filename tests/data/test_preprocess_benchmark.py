"""benchmarks/preprocess.py at a tiny size: it runs and its JSON says what it did."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from genrec.data.preprocess import run_preprocess

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_writes_timings_and_the_output_counts(tmp_path):
    result_path = tmp_path / "result.json"
    run = subprocess.run(
        [
            sys.executable,
            "benchmarks/preprocess.py",
            "--rows=20000",
            "--threads=1",
            "--repeats=2",
            f"--work_dir={tmp_path / 'bench'}",
            f"--result={result_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(result_path.read_text())

    # The same counts as preprocessing the generated file directly.
    stats = run_preprocess("amazon-2018", tmp_path / "direct", result["input"])
    assert result["output"] == {
        "interactions": stats["num_interactions"],
        "users": stats["num_users"],
        "items": stats["num_items"],
        "first_pass_items": stats["counts"]["filter_passes"][0]["items"],
    }
    assert result["rows"] == stats["counts"]["loaded"]["interactions"]
    assert 15_000 < result["rows"] < 25_000
    assert f"interactions={stats['num_interactions']:,}" in run.stdout
    for phase in ("bare_scan", "preprocess"):
        assert result[phase]["seconds"] > 0 and result[phase]["peak_gib"] > 0
        # The fastest of the alternating runs counts.
        assert len(result[phase]["all_seconds"]) == result["repeats"] == 2
        assert result[phase]["seconds"] == min(result[phase]["all_seconds"])
    assert result["ratio_to_scan"] == (
        result["preprocess"]["seconds"] / result["bare_scan"]["seconds"]
    )
    assert "11_order_events" in result["preprocess"]["step_seconds"]
    assert isinstance(result["meets_target"], bool)
