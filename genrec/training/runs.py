"""Run folders: claimed by exactly one training, holding config, checkpoints, metrics.

Layout of a run folder:
    config.gin         the resolved gin config (what ranks parsed)
    operative_config.gin  every parameter of the built objects, defaults included
    checkpoints/       last.pt (latest) and best.pt (selected on validation)
    metrics.jsonl      one JSON object per line: {"step": .., "epoch": .., key: value}
    results.json       the final metrics (written once training finishes)
    .lock              pid and host of the training that owns the folder
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CONFIG_FILE = "config.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class RunPaths:
    """Where one rank reads and writes (the run folder and the data folder)."""

    run_dir: Path
    data_dir: Path
    config: str
    resume: bool
    mlflow_tracking_uri: str | None = None
    mlflow_run_id: str | None = None
    # On resume, the operative config the run recorded (see `parse_resolved`).
    operative_config: str | None = None


def new_run_dir(root: str | Path) -> Path:
    """A fresh, unique run folder name under `root` (time stamp + random suffix)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{stamp}-{uuid.uuid4().hex[:8]}"


class RunDirInUseError(RuntimeError):
    """Another live training owns the run folder, or it already holds a run."""


def claim_run_dir(run_dir: str | Path, *, resume: bool) -> Path:
    """Create or reopen `run_dir` for this process, refusing to share it.

    A new run needs a missing or empty folder; `resume` needs one that holds a
    previous run. The lock file is created atomically (O_EXCL), so of two
    trainings started at once on one folder exactly one wins. A lock left by a
    process that no longer runs on this host is taken over.

    Raises:
        RunDirInUseError: when the folder is in use or its contents do not fit.
    """
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _take_lock(run_dir / LOCK_FILE)
    holds_run = (run_dir / CONFIG_FILE).exists()
    if holds_run and not resume:
        release_run_dir(run_dir)
        raise RunDirInUseError(
            f"{run_dir}: already holds a run; pass --resume to continue it or choose "
            "another --run_dir"
        )
    if resume and not holds_run:
        release_run_dir(run_dir)
        raise RunDirInUseError(f"{run_dir}: --resume given but it holds no run")
    return run_dir


def release_run_dir(run_dir: Path) -> None:
    """Remove this process's lock from `run_dir`."""
    (run_dir / LOCK_FILE).unlink(missing_ok=True)


def _take_lock(lock: Path) -> None:
    owner = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if _lock_is_live(lock):
                raise RunDirInUseError(
                    f"{lock.parent}: in use by process {lock.read_text().strip()}"
                ) from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w") as handle:
            handle.write(owner)
        return
    raise RunDirInUseError(f"{lock.parent}: could not take {lock}")


def _lock_is_live(lock: Path) -> bool:
    try:
        pid_text, host = lock.read_text().split()
    except (OSError, ValueError):
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MetricsLog:
    """Append-only `metrics.jsonl` writer (one record per line, flushed at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, float | int]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(dict(record)) + "\n")

    def drop_after(self, step: int) -> None:
        """Forget records after `step` (logged by a killed run past its checkpoint)."""
        if not self.path.exists():
            return
        kept = [
            line
            for line in self.path.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= step
        ]
        self.path.write_text("".join(line + "\n" for line in kept))


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """All records of a `metrics.jsonl` file."""
    lines = Path(path).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
