"""The training loop of one rank: steps, periodic evaluation, checkpoints, metrics.

Everything random in a step (which users, positional sampling, dropout, negative
sampling) is drawn from generators seeded by (seed, step, rank), so the run is a
pure function of its config and seed: a run killed mid-epoch and resumed from its
last checkpoint ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import gin
import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from genrec.distributed import (
    DistContext,
    all_reduce_sums,
    check_replicas_identical,
)
from genrec.modeling.metrics import METRIC_NAMES
from genrec.modeling.model import RetrievalModel
from genrec.training import checkpoint as ckpt
from genrec.training.dataset import SequenceDataset
from genrec.training.evaluate import evaluate_split
from genrec.training.gin_config import operative_config
from genrec.training.mlflow_sink import MlflowSink
from genrec.training.optim import adamw, linear_warmup
from genrec.training.popularity import popularity_metrics
from genrec.training.runs import (
    METRICS_FILE,
    OPERATIVE_CONFIG_FILE,
    RESULTS_FILE,
    MetricsLog,
    RunPaths,
)
from genrec.training.runtime import autocast, configure_numerics, seed_everything
from genrec.training.sampler import EpochBatches, step_seed
from genrec.training.splits import TEST

logger = logging.getLogger(__name__)

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[
    [torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler
]


@gin.configurable
class Trainer:
    """Train a `RetrievalModel` on a `SequenceDataset`, evaluating as it goes.

    Args:
        model: builds the model (gin reference, e.g. `@RetrievalModel`).
        dataset: builds the dataset from a data folder (`@SequenceDataset`).
        optimizer: builds the optimizer from parameters (`@adamw`).
        scheduler: builds the learning-rate schedule (`@linear_warmup`).
        num_epochs: passes over the training users.
        batch_size: users per step on each rank (global batch = x world size).
        eval_every_steps: evaluate the selection split every this many steps
            (0: only at the end).
        checkpoint_every_steps: save `last.pt` every this many steps, besides the
            end of every epoch (0: epoch ends only).
        log_every_steps: log the training loss every this many steps.
        seed: seeds initialization and every step's randomness.
        selection_metric: the evaluation metric that selects the best checkpoint.
        bf16: autocast the training forward pass to bfloat16 on GPU.
        tf32: let float32 matmuls and convolutions use TF32 on GPU (Ampere or
            newer): faster, with a 10-bit mantissa in the products.
        max_grad_norm: clip the global gradient norm to this (None: no clipping).
    """

    def __init__(
        self,
        *,
        model: Callable[[], RetrievalModel] = gin.REQUIRED,
        dataset: Callable[..., SequenceDataset] = SequenceDataset,
        optimizer: OptimizerFactory = adamw,
        scheduler: SchedulerFactory = linear_warmup,
        num_epochs: int = 1,
        batch_size: int = 128,
        eval_every_steps: int = 0,
        checkpoint_every_steps: int = 0,
        log_every_steps: int = 10,
        seed: int = 42,
        selection_metric: str = "ndcg@10",
        bf16: bool = True,
        tf32: bool = True,
        max_grad_norm: float | None = None,
    ) -> None:
        for name, value in (("num_epochs", num_epochs), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Trainer.{name} must be an integer >= 1, got {value!r}"
                )
        if selection_metric not in METRIC_NAMES:
            raise ValueError(
                f"Trainer.selection_metric must be one of {list(METRIC_NAMES)}, "
                f"got {selection_metric!r}"
            )
        self.model_factory = model
        self.dataset_factory = dataset
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.eval_every_steps = eval_every_steps
        self.checkpoint_every_steps = checkpoint_every_steps
        self.log_every_steps = log_every_steps
        self.seed = seed
        self.selection_metric = selection_metric
        self.bf16 = bf16
        self.tf32 = tf32
        self.max_grad_norm = max_grad_norm

    def fit(self, ctx: DistContext, paths: RunPaths) -> dict[str, float]:
        """Train, select, test; return the final metrics (every rank gets them)."""
        return TrainingRun(self, ctx, paths).execute()


class TrainingRun:
    """One rank's training run: dataset, model, optimizer and progress.

    Built once (restoring `last.pt` when resuming); `execute` trains to the end,
    evaluates the selected weights on the test split and returns the metrics.
    """

    def __init__(self, trainer: Trainer, ctx: DistContext, paths: RunPaths) -> None:
        self.trainer = trainer
        self.ctx = ctx
        self.paths = paths
        configure_numerics(ctx.device, allow_tf32=self.trainer.tf32)
        self.dataset = trainer.dataset_factory(paths.data_dir)
        self.protocol = self.dataset.protocol

        # Same seed on every rank, so initial weights agree before DDP broadcasts.
        seed_everything(trainer.seed)
        self.model = trainer.model_factory().to(ctx.device)
        self.optimizer = trainer.optimizer_factory(self.model.parameters())
        self.scheduler = trainer.scheduler_factory(self.optimizer)
        # Every parameter the built objects received, defaults included: the
        # run's full description (MLflow params, checkpoints, evaluation).
        self.operative_config = operative_config()
        if ctx.is_main:
            _write_text(paths.run_dir / OPERATIVE_CONFIG_FILE, self.operative_config)
        self.batches = EpochBatches(
            self.dataset.training_rows(),
            trainer.batch_size,
            seed=trainer.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
        )
        self.total_steps = trainer.num_epochs * self.batches.steps_per_epoch
        self.state = ckpt.TrainingState()
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.checkpoint_dir = paths.run_dir / ckpt.CHECKPOINT_DIR
        self.metrics_log = MetricsLog(paths.run_dir / METRICS_FILE)
        self.sink = None
        if ctx.is_main and paths.mlflow_run_id:
            self.sink = MlflowSink(paths.mlflow_tracking_uri, paths.mlflow_run_id)
        if paths.resume:
            self._restore()
        self.trained_model: torch.nn.Module = self.model
        if ctx.world_size > 1:
            device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.trained_model = DistributedDataParallel(
                self.model, device_ids=device_ids
            )

    def execute(self) -> dict[str, float]:
        """Train the remaining steps, then select and test (see `Trainer.fit`)."""
        self.train_steps()
        # Fails the run if DDP let any rank's weights drift from the others.
        check_replicas_identical(self.model, self.ctx)
        return self._finish()

    # Training ------------------------------------------------------------------

    def train_steps(self, until_step: int | None = None) -> None:
        """Train up to global step `until_step` (default: the end of training)."""
        state = self.state
        until_step = min(until_step or self.total_steps, self.total_steps)
        progress = tqdm(
            total=self.total_steps,
            initial=state.step,
            disable=not self.ctx.is_main,
            unit="step",
            dynamic_ncols=True,
        )
        window = _LossWindow()
        # Closed on the way out of an interrupt too, so that the bar's line ends
        # before the next message; log lines print above the bar meanwhile.
        with progress, logging_redirect_tqdm():
            while state.step < until_step:
                epoch, step_in_epoch = divmod(state.step, self.batches.steps_per_epoch)
                rows = self.batches.batch(epoch, step_in_epoch)
                started = time.perf_counter()
                loss = self._train_step(rows)
                window.add(loss, len(rows), time.perf_counter() - started)
                progress.update(1)

                state.step += 1
                epoch_done = step_in_epoch + 1 == self.batches.steps_per_epoch
                state.epoch = epoch + int(epoch_done)
                self._after_step(epoch_done, window, progress)

    def _after_step(
        self, epoch_done: bool, window: _LossWindow, progress: tqdm
    ) -> None:
        """Log, evaluate and checkpoint when the step count says so."""
        step, trainer = self.state.step, self.trainer
        if step % trainer.log_every_steps == 0 or epoch_done:
            self._log_training(window.reduce(self.ctx), progress)
        every_eval = trainer.eval_every_steps
        if (every_eval and step % every_eval == 0) or step == self.total_steps:
            self._evaluate_for_selection()
        every_save = trainer.checkpoint_every_steps
        if epoch_done or (every_save and step % every_save == 0):
            self._save(ckpt.LAST_CHECKPOINT)

    def _train_step(self, rows: np.ndarray) -> torch.Tensor:
        seed = step_seed(self.trainer.seed, self.state.step, self.ctx.rank)
        batch = self.dataset.training_batch(rows, np.random.default_rng(seed))
        batch = batch.to(self.ctx.device)
        torch.manual_seed(seed)

        self.trained_model.train()
        with autocast(self.ctx.device, self.trainer.bf16):
            loss = self.trained_model(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.trainer.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(
                self.model.parameters(), self.trainer.max_grad_norm
            )
        self.optimizer.step()
        self.scheduler.step()
        # No .item() here: on GPU that would stall the queue every step.
        return loss.detach()

    def _log_training(self, totals: dict[str, float], progress: tqdm) -> None:
        loss = totals["loss_sum"] / max(totals["steps"], 1.0)
        seq_per_s = totals["sequences"] / max(totals["seconds"], 1e-9)
        learning_rate = float(self.scheduler.get_last_lr()[0])
        record = {
            "step": self.state.step,
            "epoch": self.state.epoch,
            "train/loss": loss,
            "train/learning_rate": learning_rate,
            "train/seq_per_s": seq_per_s,
        }
        self._record(record)
        if self.ctx.is_main:
            progress.set_postfix(loss=f"{loss:.4f}", refresh=False)
            logger.info(
                "step=%d/%d epoch=%d loss=%.4f lr=%.2e seq/s=%.1f",
                self.state.step,
                self.total_steps,
                self.state.epoch,
                loss,
                learning_rate,
                seq_per_s,
            )

    # Evaluation and selection --------------------------------------------------

    def _evaluate_for_selection(self) -> None:
        split = self.protocol.selection_split
        metrics = evaluate_split(self.model, self.dataset, split, self.ctx)
        self._record(
            {"step": self.state.step, "epoch": self.state.epoch}
            | {f"eval/{key}": value for key, value in metrics.items()}
        )
        score = metrics[self.trainer.selection_metric]
        if self.ctx.is_main:
            logger.info(
                "step=%d eval split=%s hr@10=%.4f ndcg@10=%.4f users=%d",
                self.state.step,
                split,
                metrics["hr@10"],
                metrics["ndcg@10"],
                metrics["users"],
            )
        # Under `reference` the selection split is the test split: the last
        # checkpoint is reported, because choosing on test would leak.
        improved = self.state.best_score is None or score > self.state.best_score
        if self.protocol.selection_split == TEST or improved:
            self.state.best_score = score
            self.state.best_step = self.state.step
            self.state.selection_metrics = metrics
            self.best_weights = _cpu_copy(self.model.state_dict())
            self._save(ckpt.BEST_CHECKPOINT)

    def _finish(self) -> dict[str, float]:
        if self.best_weights is None:  # resumed after the final evaluation
            self._evaluate_for_selection()
        assert self.best_weights is not None
        self.model.load_state_dict(self.best_weights)
        selection = self.state.selection_metrics
        test = selection
        if self.protocol.selection_split != TEST:
            test = evaluate_split(self.model, self.dataset, TEST, self.ctx)

        final = {f"eval/{key}": value for key, value in selection.items()}
        final |= {f"test/{key}": value for key, value in test.items()}
        final["selected_step"] = float(self.state.best_step or 0)
        if self.ctx.is_main:
            final |= self._popularity_metrics()
            self._record({"step": self.state.step, "epoch": self.state.epoch} | final)
            if self.sink is not None:
                self.sink.close()
            _write_json(self.paths.run_dir / RESULTS_FILE, final)
            logger.info(
                "test hr@10=%.4f ndcg@10=%.4f (popularity hr@10=%.4f ndcg@10=%.4f)",
                final["test/hr@10"],
                final["test/ndcg@10"],
                final["popularity/test/hr@10"],
                final["popularity/test/ndcg@10"],
            )
        return final

    def _popularity_metrics(self) -> dict[str, float]:
        """The popularity baseline on the selection split and on the test split."""
        selection_split = self.protocol.selection_split
        on_selection = popularity_metrics(self.dataset, selection_split)
        on_test = on_selection
        if selection_split != TEST:
            on_test = popularity_metrics(self.dataset, TEST)
        return {
            f"popularity/eval/{key}": value for key, value in on_selection.items()
        } | {f"popularity/test/{key}": value for key, value in on_test.items()}

    # Checkpoints and records ----------------------------------------------------

    def _save(self, name: str) -> None:
        if not self.ctx.is_main:
            return
        ckpt.save_checkpoint(
            self.checkpoint_dir / name,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            state=self.state,
            config=self.paths.config,
            num_items=self.dataset.num_items,
            operative_config=self.operative_config,
        )

    def _restore(self) -> None:
        last = self.checkpoint_dir / ckpt.LAST_CHECKPOINT
        if not last.exists():
            logger.info("no checkpoint in %s yet; starting from step 0", last.parent)
            if self.ctx.is_main:
                self.metrics_log.drop_after(-1)
            return
        payload = ckpt.load_checkpoint(last)
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        ckpt.restore_rng_states(payload["rng"])
        self.state = ckpt.training_state(payload)
        # best.pt may be newer than last.pt (an evaluation after the last save);
        # the resumed run replays that step exactly and selects it again.
        best = self.checkpoint_dir / ckpt.BEST_CHECKPOINT
        if self.state.best_step is not None and best.exists():
            self.best_weights = ckpt.load_checkpoint(best)["model"]
        if self.ctx.is_main:
            self.metrics_log.drop_after(self.state.step)
            logger.info(
                "resumed at step=%d epoch=%d", self.state.step, self.state.epoch
            )

    def _record(self, record: dict[str, float]) -> None:
        if not self.ctx.is_main:
            return
        self.metrics_log.append(record)
        if self.sink is not None:
            self.sink.log(record)


class _LossWindow:
    """Loss and throughput accumulated since the last log line."""

    def __init__(self) -> None:
        self._reset()

    def add(self, loss: torch.Tensor, sequences: int, seconds: float) -> None:
        self.losses.append(loss)
        self.sequences += sequences
        self.seconds += seconds

    def reduce(self, ctx: DistContext) -> dict[str, float]:
        """Totals over ranks: loss per rank-step, all sequences, training seconds.

        Ranks step in lockstep, so the step time of this rank stands for all.
        Reading the losses waits for queued GPU work, which is counted as
        training time too.
        """
        started = time.perf_counter()
        loss_sum = float(torch.stack(self.losses).float().sum()) if self.losses else 0.0
        seconds = self.seconds + time.perf_counter() - started
        totals = all_reduce_sums(
            {
                "loss_sum": loss_sum,
                "steps": len(self.losses),
                "sequences": self.sequences,
            },
            ctx,
        )
        totals["seconds"] = seconds
        self._reset()
        return totals

    def _reset(self) -> None:
        self.losses: list[torch.Tensor] = []
        self.sequences = 0
        self.seconds = 0.0


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in state.items()}


def _write_json(path: Path, values: dict[str, float]) -> None:
    import json

    path.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary name, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)
