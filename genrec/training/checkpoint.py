"""Self-contained checkpoints: weights, optimizer, schedule, RNG states and config.

A checkpoint holds the resolved gin config it was trained with and the operative
config (every parameter, defaults included), so evaluating or resuming needs
nothing but the file (and the data folder). Files are written to a
temporary name and renamed, so a killed run never leaves a truncated checkpoint.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrec.training.runs import CHECKPOINT_DIR as CHECKPOINT_DIR  # re-exported

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
FORMAT_VERSION = 1


@dataclass
class TrainingState:
    """Where training stands: completed steps and the best selection score so far.

    Attributes:
        step: optimizer steps completed (global, the same on every rank).
        epoch: epoch of the next step.
        best_score: best selection metric seen, or None before the first eval.
        best_step: step at which `best_score` was reached.
        selection_metrics: the evaluation metrics of the best step.
    """

    step: int = 0
    epoch: int = 0
    best_score: float | None = None
    best_step: int | None = None
    selection_metrics: dict[str, float] = field(default_factory=dict)


def rng_states() -> dict[str, Any]:
    """Capture Python, numpy and torch (CPU and CUDA) RNG states as plain data."""
    state = np.random.get_state(legacy=True)
    # The global generator is MT19937, whose legacy state is always the tuple.
    assert isinstance(state, tuple)
    name, key, position, has_gauss, cached_gauss = state
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (name, key.tolist(), position, has_gauss, cached_gauss),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Restore what `rng_states` captured."""
    random.setstate(states["python"])
    name, key, position, has_gauss, cached_gauss = states["numpy"]
    np.random.set_state(
        (name, np.asarray(key, dtype=np.uint32), position, has_gauss, cached_gauss)
    )
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    path: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainingState,
    config: str,
    num_items: int,
    operative_config: str = "",
) -> Path:
    """Write a checkpoint atomically and return its path."""
    payload = {
        "format_version": FORMAT_VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_states(),
        "state": asdict(state),
        "config": config,
        "operative_config": operative_config,
        "num_items": num_items,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: when the file is not a genrec checkpoint of a known format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - bytes that are no checkpoint
        # raise whatever the unpickler trips on (IndexError, KeyError, ...), and
        # torch's own message is about pickle opcodes and weights_only.
        raise ValueError(
            f"{path}: not a genrec checkpoint (torch cannot read it: "
            f"{type(error).__name__})"
        ) from error
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise ValueError(f"{path}: not a genrec checkpoint (no format_version key)")
    if payload["format_version"] != FORMAT_VERSION:
        raise ValueError(
            f"{path}: checkpoint format {payload['format_version']}, expected "
            f"{FORMAT_VERSION}"
        )
    return payload


def training_state(payload: dict[str, Any]) -> TrainingState:
    """The `TrainingState` stored in a loaded checkpoint."""
    return TrainingState(**payload["state"])
