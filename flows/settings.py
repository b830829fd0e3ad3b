"""Environment defaults that must be in place before Prefect or MLflow load.

Prefect reads its settings when it is first imported, so these defaults are
written into `os.environ` by `configure_environment()`, which `flows/__init__.py`
calls before any flow module imports Prefect. Only unset variables are filled:
anything the user exported (a Prefect server URL, a remote MLflow) wins.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

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
    # One that cannot be made is reported by `check_writable_homes`, in one
    # line, not here at import, where it would be a traceback even for --help.
    with contextlib.suppress(OSError):
        Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)


def check_writable_homes() -> None:
    """Raise OSError naming the folder unless genrec and Prefect can write theirs.

    A read-only GENREC_HOME otherwise surfaced as thousands of lines of
    tracebacks from Prefect's server ("unable to open database file") and a
    time-out, or as a traceback at import.
    """
    for name, folder in (
        ("GENREC_HOME", genrec_home()),
        ("PREFECT_HOME", Path(os.environ["PREFECT_HOME"])),
    ):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            raise OSError(
                f"{name}={folder}: cannot write there ({error.strerror or error}); "
                "point it at a writable folder"
            ) from None


def keep_ephemeral_server_through_ctrl_c() -> None:
    """Start Prefect's temporary API server, when it is needed, deaf to SIGINT.

    A Ctrl-C in a terminal reaches every process of the foreground group, the
    server that Prefect's ephemeral mode starts included. It then shut down at
    once, and the interrupted flow spent a minute failing to record its end
    before `genrec pipeline` gave up with "Connection refused" (exit 1). A child
    inherits the signal mask of the thread that starts it: with SIGINT blocked,
    the server never sees it, and Prefect still stops it with SIGTERM at exit.

    Prefect finds its server under the key None of `_instances` (its own test
    harness puts a server there in the same way); one already there is kept.
    """
    from prefect.server.api.server import SubprocessASGIServer

    class SigintBlockedServer(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                return super()._run_uvicorn_command()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    if None not in SubprocessASGIServer._instances:
        SigintBlockedServer()  # registers itself under None
