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
import logging
import os
import shutil
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
CHECKPOINT_DIR = "checkpoints"
# torchrun's rendezvous id, the same in every worker of one job.
TORCHRUN_RUN_ID = "TORCHELASTIC_RUN_ID"

logger = logging.getLogger(__name__)


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


def default_run_dir(root: str | Path, environ: Mapping[str, str] | None = None) -> Path:
    """The run folder of a training started without one, agreed by every rank.

    Under torchrun every worker runs the command itself, so a random name would
    differ between them; the folder is then named after torchrun's rendezvous
    id (`--rdzv_id`, a fresh uuid with `--standalone` or a single node without
    `--master_port`). Otherwise it is `new_run_dir(root)`.

    Raises:
        ValueError: under torchrun with the default rendezvous id "none" (a
            static rendezvous: several nodes, or `--master_port`), which every
            such job shares; pass --run_dir or torchrun --rdzv_id.
    """
    environ = os.environ if environ is None else environ
    run_id = environ.get(TORCHRUN_RUN_ID)
    if run_id is None:
        return new_run_dir(root)
    if run_id == "none":
        raise ValueError(
            "torchrun without --rdzv_id gives every job the rendezvous id 'none', "
            "so the ranks cannot derive a run folder of their own: pass --run_dir "
            "(the same on every node) or torchrun --rdzv_id=<unique job id>"
        )
    return Path(root) / f"torchrun-{run_id}"


class RunDirInUseError(RuntimeError):
    """Another live training owns the run folder, or it already holds a run."""


def claim_run_dir(
    run_dir: str | Path, *, resume: bool, force_unlock: bool = False
) -> Path:
    """Create or reopen `run_dir` for this process, refusing to share it.

    A new run needs a missing or empty folder; `resume` needs one that holds a
    previous run. The lock file is created atomically (O_EXCL), so of two
    trainings started at once on one folder exactly one wins. A lock left by a
    process that no longer runs on this host is taken over. A lock from another
    host cannot be checked from here and is kept, unless `force_unlock`: the
    caller states that its owner is gone (for example a container that was
    recreated under a new host name). A live process on this host keeps its
    lock even then.

    Raises:
        RunDirInUseError: when the folder is in use or its contents do not fit.
    """
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    _take_lock(run_dir / LOCK_FILE, force_unlock=force_unlock)
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


def is_new_run_dir(run_dir: str | Path) -> bool:
    """Whether `run_dir` is missing or empty: a folder a new run may remove."""
    path = Path(run_dir)
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def remove_untrained_run_dir(run_dir: Path) -> bool:
    """Remove a run folder that training never reached; return whether it did.

    A run that failed before its first metric or checkpoint (a gin typo, a bad
    flag, a missing data folder) holds only its config files: leaving it would
    make a litter of empty runs. Anything with a metric or checkpoint stays.
    """
    if (run_dir / METRICS_FILE).exists() or (run_dir / CHECKPOINT_DIR).exists():
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return True


def release_run_dir(run_dir: Path) -> None:
    """Remove this process's lock from `run_dir`."""
    (run_dir / LOCK_FILE).unlink(missing_ok=True)


def _take_lock(lock: Path, *, force_unlock: bool = False) -> None:
    owner = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            _release_stale(lock, force_unlock)
            continue
        with os.fdopen(descriptor, "w") as handle:
            handle.write(owner)
        return
    raise RunDirInUseError(f"{lock.parent}: could not take {lock}")


def _release_stale(lock: Path, force_unlock: bool) -> None:
    """Remove `lock` if its owner is gone (or declared gone); else raise."""
    state = _lock_state(lock)
    try:
        holder = lock.read_text().strip()
    except OSError:  # removed meanwhile by its owner
        holder = "?"
    if state == "live":
        raise RunDirInUseError(
            f"{lock.parent}: in use by process {holder} (alive on this host)"
        )
    if state == "elsewhere" and not force_unlock:
        raise RunDirInUseError(
            f"{lock.parent}: locked by process {holder} on another host, whose "
            "state cannot be checked from here; if that training is gone (for "
            "example its container was recreated), pass --force_unlock"
        )
    if state == "elsewhere":
        logger.warning("%s: taking over the lock of %s (--force_unlock)", lock, holder)
    lock.unlink(missing_ok=True)


def _lock_state(lock: Path) -> str:
    """Whether the lock's owner is "dead", "live" (here) or "elsewhere" (unknown).

    An unreadable lock counts as dead: its writer died before finishing it.
    """
    try:
        pid_text, host = lock.read_text().split()
    except (OSError, ValueError):
        return "dead"
    if host != socket.gethostname():
        return "elsewhere"
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        return "live"
    return "live"


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
