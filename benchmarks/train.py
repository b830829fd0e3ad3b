"""Training and evaluation speed of HSTU and SASRec (ML-1M configs) on ML-100K.

    python benchmarks/train.py [--models hstu sasrec] [--epochs 3] [--threads 2]

Preprocesses ../shared/data/ml-100k (no filter) once, then for each model runs, in
a fresh subprocess so peak memory is its own: training for a few epochs with the
`configs/ml-100k/<model>.gin` config (reference protocol, one rank in this
process), then one full-catalogue evaluation of the test split. Prints a table
and writes benchmarks/results/train.json.

Targets (issue 4, 2 CPU cores): HSTU under 6 s per ML-100K training epoch and
under 1.5 GB peak resident memory. The reference implementation needs ~33 s and
3.4 GB there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "train.json"
TARGET_EPOCH_S = 6.0
TARGET_PEAK_GB = 1.5


def shared_data() -> Path:
    override = os.environ.get("GENREC_SHARED_DATA")
    return Path(override) if override else REPO.parent / "shared" / "data"


def measure(model: str, data_dir: Path, epochs: int, threads: int) -> dict:
    """Train `model` for `epochs` epochs and evaluate once; this process only."""
    import torch

    torch.set_num_threads(threads)
    from genrec.distributed import DistContext
    from genrec.training.evaluate import evaluate_split
    from genrec.training.gin_config import parse_resolved, resolve_config
    from genrec.training.runs import RunPaths
    from genrec.training.sequences import read_num_items
    from genrec.training.trainer import Trainer, TrainingRun

    ctx = DistContext.single_process()
    with tempfile.TemporaryDirectory() as run_dir:
        config = resolve_config(
            [REPO / "configs" / "ml-100k" / f"{model}.gin"],
            # One epoch more than measured, so no final evaluation interrupts.
            [f"Trainer.num_epochs = {epochs + 1}", "Trainer.eval_every_steps = 0"],
            num_items=read_num_items(data_dir),
        )
        parse_resolved(config)
        paths = RunPaths(Path(run_dir), data_dir, config, resume=False)
        run = TrainingRun(Trainer(), ctx, paths)
        steps_per_epoch = run.batches.steps_per_epoch
        sequences_per_epoch = len(run.dataset.training_rows())

        epoch_seconds = []
        for epoch in range(epochs):
            started = time.perf_counter()
            run.train_steps(until_step=steps_per_epoch * (epoch + 1))
            epoch_seconds.append(time.perf_counter() - started)

        started = time.perf_counter()
        metrics = evaluate_split(run.model, run.dataset, "test", ctx)
        eval_seconds = time.perf_counter() - started

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    steady = epoch_seconds[1:] or epoch_seconds
    return {
        "model": model,
        "threads": threads,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "epoch_seconds": epoch_seconds,
        "steady_epoch_s": sum(steady) / len(steady),
        "train_seq_per_s": sequences_per_epoch / (sum(steady) / len(steady)),
        "eval_users": metrics["users"],
        "eval_users_per_s": metrics["users"] / eval_seconds,
        "peak_rss_gb": peak_kb / 1024**2,
        "test_hr@10_after_benchmark_epochs": metrics["hr@10"],
    }


def prepare_data(cache: Path) -> Path:
    from genrec.data.preprocess import run_preprocess

    raw = shared_data() / "ml-100k"
    if not raw.is_dir():
        raise SystemExit(f"{raw}: not found (set GENREC_SHARED_DATA)")
    out_dir = cache / "ml-100k"
    if not (out_dir / "sequences.parquet").exists():
        run_preprocess("ml-100k", out_dir, raw, filter_mode="none")
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["hstu", "sasrec"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data_dir", type=Path, default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # child: measure one model, print JSON
        print(json.dumps(measure(args.one, args.data_dir, args.epochs, args.threads)))
        return

    with tempfile.TemporaryDirectory() as cache:
        data_dir = args.data_dir or prepare_data(Path(cache))
        results = [run_child(model, data_dir, args) for model in args.models]
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"results": results}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


def run_child(model: str, data_dir: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        f"--one={model}",
        f"--data_dir={data_dir}",
        f"--epochs={args.epochs}",
        f"--threads={args.threads}",
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark of {model} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results: list[dict]) -> None:
    header = (
        f"{'model':<8}{'epoch s':>9}{'first s':>9}{'train seq/s':>13}"
        f"{'eval users/s':>14}{'peak GB':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['model']:<8}{r['steady_epoch_s']:>9.2f}{r['epoch_seconds'][0]:>9.2f}"
            f"{r['train_seq_per_s']:>13.1f}{r['eval_users_per_s']:>14.1f}"
            f"{r['peak_rss_gb']:>9.2f}"
        )
    print(
        f"targets (HSTU, 2 cores): epoch < {TARGET_EPOCH_S} s, "
        f"peak < {TARGET_PEAK_GB} GB"
    )


if __name__ == "__main__":
    main()
