"""Benchmark: preprocess a 20M-row synthetic Amazon-format CSV vs a bare DuckDB scan.

    python benchmarks/preprocess.py [--rows=20000000] [--threads=2] [--repeats=3]
        [--result=PATH]

Each phase runs in its own child process so that its peak memory (the child's
maximum resident set, DuckDB's native memory included) is measured alone. The
phases alternate --repeats times; each one's fastest run counts (peak: the
largest), and the JSON keeps every time. The target (issue 2): the whole
preprocessing within 6x the bare scan and under 2 GiB peak memory on 2 cores.
Prints a table and the output counts, and writes both to
benchmarks/results/preprocess.json (or --result). The reference implementation
keeps the first pass's items of the single-pass filter: its item count on such
a file is `first_pass_items`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from absl import app, flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout
RESULTS = ROOT / "benchmarks" / "results"
MEAN_LENGTH = 5
TARGET_RATIO = 6.0
TARGET_PEAK_GIB = 2.0

flags.DEFINE_integer("rows", 20_000_000, "Approximate rows in the synthetic file.")
flags.DEFINE_integer("threads", 2, "DuckDB threads for both phases.")
flags.DEFINE_integer(
    "repeats", 3, "Runs of each phase, alternating; the fastest of each counts."
)
flags.DEFINE_string(
    "memory_limit", None, "DuckDB memory_limit for preprocessing (default: genrec's)."
)
flags.DEFINE_string("work_dir", str(ROOT / ".genrec" / "bench"), "Input and output.")
flags.DEFINE_string(
    "result", str(RESULTS / "preprocess.json"), "Where to write the JSON result."
)
FLAGS = flags.FLAGS

SCAN_CHILD = """
import sys, duckdb
path, threads = sys.argv[1], int(sys.argv[2])
connection = duckdb.connect(config={"threads": threads})
connection.execute("set enable_progress_bar = false")
columns = {"item": "VARCHAR", "user": "VARCHAR", "rating": "FLOAT", "ts": "BIGINT"}
row = connection.execute(
    "select count(*), max(item), max(user), sum(rating), max(ts) "
    "from read_csv($path, columns = $columns, delim = ',', header = false, "
    "auto_detect = false)",
    {"path": path, "columns": columns},
).fetchone()
print(row[0])
"""

PREPROCESS_CHILD = """
import json, sys
from genrec.data.preprocess import DEFAULT_MEMORY_LIMIT, run_preprocess
path, out, threads, memory_limit = sys.argv[1:5]
memory_limit = memory_limit or DEFAULT_MEMORY_LIMIT
stats = run_preprocess("amazon-2018", out, path, threads=int(threads),
                       options={"memory_limit": memory_limit})
print(json.dumps({**stats, "memory_limit": memory_limit}))
"""


def measure(code: str, *args: str) -> tuple[float, float, str]:
    """Run `code` in a fresh Python; return (seconds, peak RSS GiB, stdout)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    stdout = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"benchmark child failed with exit code {child.returncode}")
    return seconds, usage.ru_maxrss / 2**20, stdout  # ru_maxrss is KiB on Linux


GENERATE_CHILD = """
import sys
from genrec.data.synthetic import write_synthetic_ratings
path, num_users, num_items, mean_length = sys.argv[1:5]
write_synthetic_ratings(path, num_users=int(num_users), num_items=int(num_items),
                        mean_length=float(mean_length), seed=0)
"""


def synthetic_input(work_dir: Path, rows: int) -> Path:
    """Generate (once) the Amazon-2018-format file of about `rows` rows.

    The generator runs in a child: Linux carries a parent's peak RSS into the
    children it forks, so a large parent would inflate every measurement.
    """
    num_users = rows // MEAN_LENGTH
    path = work_dir / f"synthetic-amazon-{rows}.csv"
    if not path.exists():
        partial = path.with_suffix(".partial")
        num_items = max(num_users * 3 // 8, 4)
        measure(
            GENERATE_CHILD,
            str(partial),
            str(num_users),
            str(num_items),
            str(MEAN_LENGTH),
        )
        partial.replace(path)
    return path


def main(argv: list[str]) -> None:
    del argv
    work_dir = Path(FLAGS.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    path = synthetic_input(work_dir, FLAGS.rows)
    threads = str(FLAGS.threads)

    # One run of a few seconds on a shared 2-core machine varies by a factor
    # of two (a bare scan took 1.3 s and 2.8 s minutes apart): alternate the
    # phases and keep each one's fastest run, the least disturbed one.
    out = work_dir / "out"
    scans, runs = [], []
    for _ in range(max(FLAGS.repeats, 1)):
        scans.append(measure(SCAN_CHILD, str(path), threads))
        runs.append(
            measure(
                PREPROCESS_CHILD, str(path), str(out), threads, FLAGS.memory_limit or ""
            )
        )
    scan_s, _, scan_out = min(scans)
    scan_gib = max(peak for _, peak, _ in scans)
    rows = int(scan_out.strip())
    run_s, _, run_out = min(runs)
    run_gib = max(peak for _, peak, _ in runs)
    stats = json.loads(run_out.strip().splitlines()[-1])
    ratio = run_s / scan_s
    result = {
        "input": str(path),
        "rows": rows,
        "threads": FLAGS.threads,
        "memory_limit": stats["memory_limit"],
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
        "machine": platform.platform(),
        "repeats": len(runs),
        "bare_scan": {
            "seconds": scan_s,
            "all_seconds": [seconds for seconds, _, _ in scans],
            "rows_per_s": rows / scan_s,
            "peak_gib": scan_gib,
        },
        "preprocess": {
            "seconds": run_s,
            "all_seconds": [seconds for seconds, _, _ in runs],
            "rows_per_s": rows / run_s,
            "peak_gib": run_gib,
            "step_seconds": stats["step_seconds"],
        },
        "output": {
            "interactions": stats["num_interactions"],
            "users": stats["num_users"],
            "items": stats["num_items"],
            "first_pass_items": stats["counts"]["filter_passes"][0]["items"],
        },
        "ratio_to_scan": ratio,
        "target": {"ratio": TARGET_RATIO, "peak_gib": TARGET_PEAK_GIB},
        "meets_target": ratio <= TARGET_RATIO and run_gib < TARGET_PEAK_GIB,
    }
    print(f"{'phase':<12}{'seconds':>10}{'rows/s':>14}{'peak GiB':>10}")
    for name in ("bare_scan", "preprocess"):
        phase = result[name]
        print(
            f"{name:<12}{phase['seconds']:>10.2f}{phase['rows_per_s']:>14,.0f}"
            f"{phase['peak_gib']:>10.2f}"
        )
    print(
        f"rows={rows:,} ratio={ratio:.2f}x (target <= {TARGET_RATIO}x) "
        f"peak={run_gib:.2f} GiB (target < {TARGET_PEAK_GIB}) "
        f"meets_target={result['meets_target']} "
        f"load_avg={result['load_average_1m']:.1f}"
    )
    output = result["output"]
    print(
        f"output: interactions={output['interactions']:,} users={output['users']:,} "
        f"items={output['items']:,} (first pass: {output['first_pass_items']:,} items)"
    )
    print("steps:", json.dumps(stats["step_seconds"]))
    result_path = Path(FLAGS.result)
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    app.run(main)
