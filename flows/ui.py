"""`genrec ui`: the Prefect server and the MLflow UI on 127.0.0.1, until Ctrl-C.

Both read the same stores the pipeline writes (Prefect's database under
PREFECT_HOME, MLflow's SQLite file under the genrec data folder), so runs made
in ephemeral mode show up here. Binding to another interface (0.0.0.0) only
happens when `--host` asks for it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from absl import flags

import flows  # noqa: F401  (Prefect defaults into the environment first)
from flows.settings import check_writable_homes
from genrec.tracking.store import artifact_root, is_local_sqlite, tracking_uri

logger = logging.getLogger(__name__)

FLAGS = flags.FLAGS
flags.DEFINE_string("host", "127.0.0.1", "Interface to bind; 0.0.0.0 exposes both.")
flags.DEFINE_integer("prefect_port", 4200, "Prefect server port (0: any free port).")
flags.DEFINE_integer("mlflow_port", 5000, "MLflow UI port (0: any free port).")
flags.DEFINE_float("startup_timeout_s", 180.0, "Wait this long for both to answer.")

PREFECT_HEALTH = "/api/health"
MLFLOW_HEALTH = "/health"


@dataclass
class Service:
    """One server process and where it answers."""

    name: str
    url: str
    health_path: str
    process: subprocess.Popen


def free_port(host: str, wanted: int) -> int:
    """Return `wanted` if it can be bound on `host`, else a free port."""
    for port in ([wanted] if wanted else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                logger.warning("port %d on %s is taken; using a free one", port, host)
                continue
            return probe.getsockname()[1]
    raise OSError(f"no free port on {host}")


def prefect_command(host: str, port: int) -> list[str]:
    """The Prefect server command line."""
    return [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", host, "--port", str(port),
    ]  # fmt: skip


def mlflow_command(host: str, port: int) -> list[str]:
    """The MLflow tracking server command line (one worker, UI included)."""
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", tracking_uri(),
        "--host", host, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    if is_local_sqlite(tracking_uri()):
        # Runs created through this server keep their artifacts beside the
        # ones genrec writes directly.
        command += ["--artifacts-destination", str(artifact_root())]
    return command


def server_environment() -> dict[str, str]:
    """The servers' environment: ours, minus MLflow's background job workers.

    MLflow 3 starts seven job-runner processes for GenAI features genrec does
    not use; on a small machine they cost more memory than the UI itself.
    """
    environment = dict(os.environ)
    environment.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return environment


def start(name: str, command: list[str], url: str, health_path: str) -> Service:
    """Start a server in its own process group (so it can be stopped whole)."""
    logger.info("starting %s: %s", name, " ".join(command))
    process = subprocess.Popen(
        command, env=server_environment(), start_new_session=True
    )
    return Service(name, url, health_path, process)


def wait_until_healthy(services: list[Service], timeout_s: float) -> None:
    """Poll each health endpoint until it answers 200.

    Raises:
        RuntimeError: when a server exits or does not answer in `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    pending = list(services)
    while pending:
        for service in list(pending):
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"{service.name} exited with code {service.process.returncode}"
                )
            if _answers(service.url + service.health_path):
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            raise RuntimeError(f"{names} did not answer within {timeout_s:.0f} s")
        time.sleep(0.5)


def stop(services: list[Service], grace_s: float = 10.0) -> None:
    """Terminate each server's process group, then kill what is left."""
    for service in services:
        if service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
    for service in services:
        try:
            service.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main(argv: list[str]) -> None:
    check_writable_homes()
    host = FLAGS.host
    if host not in {"127.0.0.1", "localhost", "::1"}:
        logger.warning(
            "binding to %s: the UIs will be reachable from the network", host
        )
    prefect_port = free_port(host, FLAGS.prefect_port)
    mlflow_port = free_port(host, FLAGS.mlflow_port)
    prefect_url = f"http://{host}:{prefect_port}"
    mlflow_url = f"http://{host}:{mlflow_port}"

    services = [
        start(
            "prefect", prefect_command(host, prefect_port), prefect_url, PREFECT_HEALTH
        ),
        start("mlflow", mlflow_command(host, mlflow_port), mlflow_url, MLFLOW_HEALTH),
    ]
    # SIGTERM (from a supervisor or a test) stops the servers like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        wait_until_healthy(services, FLAGS.startup_timeout_s)
        print(
            f"Prefect UI  {prefect_url}\n"
            f"MLflow UI   {mlflow_url}\n"
            f"Point flows and `genrec deploy` at this Prefect server with:\n"
            f"  export PREFECT_API_URL={prefect_url}/api\n"
            "Ctrl-C stops both.",
            flush=True,
        )
        while all(service.process.poll() is None for service in services):
            time.sleep(1.0)
        exited = [s.name for s in services if s.process.poll() is not None]
        raise SystemExit(f"{', '.join(exited)} exited; stopping")
    except KeyboardInterrupt:
        pass
    finally:
        stop(services)
