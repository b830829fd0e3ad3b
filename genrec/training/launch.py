"""`train(...)`: resolve the config, claim a run folder and train on every rank.

This is what the `genrec train` command and the pipeline flow call. The parent
process parses gin and absl; ranks only receive plain data (`RunPaths`, holding
the resolved config string).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrec.distributed import hosts_rank_zero, launch
from genrec.training.checkpoint import BEST_CHECKPOINT, CHECKPOINT_DIR
from genrec.training.gin_config import check_trainer_config, resolve_config
from genrec.training.ranks import train_rank
from genrec.training.runs import (
    CONFIG_FILE,
    METRICS_FILE,
    OPERATIVE_CONFIG_FILE,
    RunPaths,
    claim_run_dir,
    is_new_run_dir,
    release_run_dir,
    remove_untrained_run_dir,
)
from genrec.training.sequences import read_num_items

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class TrainResult:
    """What a finished training leaves behind.

    Attributes:
        run_dir: the run folder.
        checkpoint_path: the selected checkpoint (best on validation under
            `valid_test`; the final weights under `reference`).
        resolved_config: the gin config every rank parsed.
        operative_config_path: every parameter of the built objects, defaults
            included (`operative_config.gin`; written by global rank 0).
        metrics: final metrics: `test/...`, `eval/...` (selection split),
            `popularity/test/...`, `popularity/eval/...`; empty on nodes other
            than node 0.
        metrics_path: the run's `metrics.jsonl`.
    """

    run_dir: Path
    checkpoint_path: Path
    resolved_config: str
    metrics: dict[str, float]
    metrics_path: Path
    operative_config_path: Path


def train(
    gin_files: Sequence[str | Path] = (),
    gin_bindings: Sequence[str] = (),
    *,
    data_dir: str | Path,
    run_dir: str | Path,
    world_size: int | None = None,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "127.0.0.1",
    master_port: int | None = None,
    resume: bool = False,
    force_unlock: bool = False,
    timeout_s: float | None = None,
    mlflow_tracking_uri: str | None = None,
    mlflow_run_id: str | None = None,
) -> TrainResult:
    """Train a model described by gin files and bindings on a preprocessed folder.

    Args:
        gin_files: config files, parsed in order (see `configs/`).
        gin_bindings: extra bindings such as `Trainer.num_epochs = 3`.
        data_dir: folder written by `genrec preprocess`.
        run_dir: the run folder; must be new or empty unless `resume`.
        world_size: processes per node (default: one per GPU, or 1 on CPU).
        nnodes, node_rank, master_addr, master_port: multi-node topology of the
            spawn launcher (ignored under torchrun, which sets its own).
        resume: continue the run in `run_dir` from its last checkpoint, with the
            config stored there (files and bindings given here are ignored).
        force_unlock: take over a run folder locked by a training on another
            host that is known to be gone (see `claim_run_dir`).
        timeout_s: bound on every wait for another rank (default 600 s).
        mlflow_tracking_uri, mlflow_run_id: an existing MLflow run that global
            rank 0 logs metrics into.
    """
    data_dir = Path(data_dir).resolve()
    # Only node 0 owns the run folder; other nodes write nothing (their ranks
    # never log or save), so they may share it over a network file system.
    owner = hosts_rank_zero(node_rank)
    # A new run that fails before training removes the folder it made.
    made_here = owner and not resume and is_new_run_dir(run_dir)
    run_dir = (
        claim_run_dir(run_dir, resume=resume, force_unlock=force_unlock)
        if owner
        else Path(run_dir).resolve()
    )
    try:
        config = _run_config(run_dir, gin_files, gin_bindings, data_dir, resume, owner)
        operative_path = run_dir / OPERATIVE_CONFIG_FILE
        paths = RunPaths(
            run_dir=run_dir,
            data_dir=data_dir,
            config=config,
            resume=resume,
            mlflow_tracking_uri=mlflow_tracking_uri,
            mlflow_run_id=mlflow_run_id,
            # A resumed run keeps the defaults it started with.
            operative_config=(
                operative_path.read_text()
                if resume and operative_path.exists()
                else None
            ),
        )
        logger.info("training in %s on %s", run_dir, data_dir)
        metrics = launch(
            train_rank,
            (paths,),
            world_size=world_size,
            nnodes=nnodes,
            node_rank=node_rank,
            master_addr=master_addr,
            master_port=master_port,
            timeout_s=DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s,
        )
    except BaseException:
        if made_here and remove_untrained_run_dir(run_dir):
            logger.info(
                "removed %s: the run ended before its first metric or checkpoint",
                run_dir,
            )
        raise
    finally:
        if owner:
            release_run_dir(run_dir)
    return TrainResult(
        run_dir=run_dir,
        checkpoint_path=run_dir / CHECKPOINT_DIR / BEST_CHECKPOINT,
        resolved_config=config,
        metrics=metrics or {},
        metrics_path=run_dir / METRICS_FILE,
        operative_config_path=run_dir / OPERATIVE_CONFIG_FILE,
    )


def _run_config(
    run_dir: Path,
    gin_files: Sequence[str | Path],
    gin_bindings: Sequence[str],
    data_dir: Path,
    resume: bool,
    owner: bool,
) -> str:
    """The resolved config: the stored one on resume, else files + bindings."""
    config_path = run_dir / CONFIG_FILE
    if resume:
        if gin_files or gin_bindings:
            logger.warning(
                "--resume uses %s; ignoring the given gin config", config_path
            )
        return config_path.read_text()
    config = resolve_config(gin_files, gin_bindings, num_items=read_num_items(data_dir))
    check_trainer_config(config)
    if not owner:
        return config
    temporary = config_path.with_suffix(".tmp")
    temporary.write_text(config)
    temporary.replace(config_path)
    return config
