"""The life of one MLflow run per pipeline run, owned by the parent process.

The run is created before any work starts and always ends in a terminal state:
FINISHED when the block completes, FAILED on an exception, KILLED on a
cancellation (Ctrl-C, SIGTERM from a Prefect runner, task cancellation). DDP
ranks never create runs; rank 0 logs into this one by id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from genrec.tracking.store import ensure_experiment

logger = logging.getLogger(__name__)

FINISHED = RunStatus.to_string(RunStatus.FINISHED)
FAILED = RunStatus.to_string(RunStatus.FAILED)
KILLED = RunStatus.to_string(RunStatus.KILLED)
RUNNING = RunStatus.to_string(RunStatus.RUNNING)


@contextmanager
def tracked_run(
    client: MlflowClient,
    experiment: str,
    *,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Create a run, yield its id, and end it FINISHED, FAILED or KILLED.

    Args:
        client: client bound to the tracking URI.
        experiment: experiment name, created if missing.
        run_name: display name of the run.
        tags: tags set at creation (for example the Prefect flow run id).

    Yields:
        The run id, to pass to tasks and to the trainer's rank 0.
    """
    experiment_id = ensure_experiment(client, experiment)
    run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags or {}))
    run_id = run.info.run_id
    logger.info("mlflow run %s started in experiment %r", run_id, experiment)
    try:
        yield run_id
    except Exception as error:
        end_run(client, run_id, FAILED, reason=f"{type(error).__name__}: {error}")
        raise
    except BaseException as error:
        # KeyboardInterrupt, asyncio.CancelledError and Prefect's
        # TerminationSignal (SIGTERM from a runner cancelling the flow run).
        end_run(client, run_id, KILLED, reason=type(error).__name__)
        raise
    end_run(client, run_id, FINISHED)


def end_run(
    client: MlflowClient, run_id: str, status: str, *, reason: str | None = None
) -> None:
    """Set a run's terminal status, recording why it did not finish."""
    if reason:
        client.set_tag(run_id, "genrec.end_reason", reason[:5000])
    client.set_terminated(run_id, status=status)
    logger.info("mlflow run %s ended %s", run_id, status)


def end_if_running(client: MlflowClient, run_id: str, status: str, reason: str) -> bool:
    """End a run that is still RUNNING (for crash and cancel hooks); say if it was."""
    if client.get_run(run_id).info.status != RUNNING:
        return False
    end_run(client, run_id, status, reason=reason)
    return True
