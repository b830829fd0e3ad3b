"""Environment defaults that must be in place before Prefect or MLflow load.

Prefect reads its settings when it is first imported, so these defaults are
written into `os.environ` by `configure_environment()`, which `flows/__init__.py`
calls before any flow module imports Prefect. Only unset variables are filled:
anything the user exported (a Prefect server URL, a remote MLflow) wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from genrec.paths import genrec_home

# Ephemeral mode starts an API server in a subprocess; on two busy cores it
# takes 15-25 s, so Prefect's default of 20 s fails intermittently.
EPHEMERAL_STARTUP_TIMEOUT_S = 180


def prefect_defaults() -> dict[str, str]:
    """Return the Prefect settings genrec uses unless the user set them."""
    return {
        # Keeps Prefect's database, result cache and logs inside the project
        # data folder instead of ~/.prefect.
        "PREFECT_HOME": str(genrec_home() / "prefect"),
        # Telemetry calls out to the internet and, on sqlite, once locked the db.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(
            EPHEMERAL_STARTUP_TIMEOUT_S
        ),
    }


def configure_environment() -> None:
    """Fill unset Prefect variables with genrec's defaults (idempotent)."""
    for name, value in prefect_defaults().items():
        os.environ.setdefault(name, value)
    # Prefect creates PREFECT_HOME without parents and gives up with a warning.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
