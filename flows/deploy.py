"""`genrec deploy`: register the pipeline as a Prefect deployment with a nightly
cron schedule and serve it, so runs start on schedule, from the UI, or with
`prefect deployment run 'genrec-pipeline/nightly'`.

Point it at a Prefect server first (`genrec ui`, then
`export PREFECT_API_URL=http://127.0.0.1:4200/api`). Stopping this process
pauses the schedule; scheduled runs need it (or another `serve`) running.
"""

from __future__ import annotations

import logging
import os
import zoneinfo

from absl import flags

import flows  # noqa: F401  (Prefect defaults into the environment first)
from flows.options import (
    check_pipeline_kwargs,
    define_pipeline_flags,
    pipeline_kwargs,
)
from flows.settings import check_writable_homes, keep_ephemeral_server_through_ctrl_c

logger = logging.getLogger(__name__)

define_pipeline_flags()
FLAGS = flags.FLAGS
flags.DEFINE_string("name", "nightly", "Deployment name.")
flags.DEFINE_string("cron", "0 2 * * *", "Cron schedule (default: 02:00 every day).")
flags.DEFINE_string("timezone", "UTC", "IANA time zone of the cron schedule.")
flags.DEFINE_bool("paused", False, "Create the schedule paused (runs only on demand).")

DEPLOYMENT_TAGS = ["genrec"]


def nightly_schedule(cron: str, timezone: str, *, active: bool = True):  # noqa: ANN201
    """A Prefect cron schedule in `timezone`.

    Raises:
        ValueError: naming an unknown time zone or a malformed cron string.
    """
    from prefect.schedules import Cron

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--timezone={timezone!r}: not an IANA time zone") from None
    try:
        return Cron(cron, timezone=timezone, active=active)
    except ValueError as error:
        raise ValueError(f"--cron={cron!r}: {error}") from None


def main(argv: list[str]) -> None:
    from prefect.types.entrypoint import EntrypointType

    from flows.pipeline import pipeline

    schedule = nightly_schedule(FLAGS.cron, FLAGS.timezone, active=not FLAGS.paused)
    parameters = pipeline_kwargs()
    check_pipeline_kwargs(parameters)  # a typo fails now, not every night
    check_writable_homes()
    if not os.environ.get("PREFECT_API_URL"):
        logger.warning(
            "PREFECT_API_URL is not set: the deployment lives in a temporary "
            "server inside this process, invisible to any UI. Start `genrec ui` "
            "and export the PREFECT_API_URL it prints to browse and trigger runs."
        )
        keep_ephemeral_server_through_ctrl_c()  # so that Ctrl-C can pause
    pipeline.serve(
        name=FLAGS.name,
        schedules=[schedule],
        parameters=parameters,
        tags=DEPLOYMENT_TAGS,
        description="genrec: preprocess -> train -> evaluate -> register",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
