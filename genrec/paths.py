"""Where genrec keeps its state on a machine (data, runs, tracking databases)."""

from __future__ import annotations

import logging
import os
import re
import socket
from pathlib import Path

logger = logging.getLogger(__name__)


def genrec_home() -> Path:
    """Return the project data folder: $GENREC_HOME, else `./.genrec`."""
    return Path(os.environ.get("GENREC_HOME", ".genrec")).resolve()


def data_cache_dir() -> Path:
    """Return the folder that caches downloaded raw datasets."""
    return genrec_home() / "downloads"


def run_tag() -> str:
    """`<host>-<pid>` of this process, for names that `left_by_dead_run` reads."""
    return f"{_host()}-{os.getpid()}"


def left_by_dead_run(tag: str) -> bool:
    """Whether a `run_tag()` names a process of this host that has ended."""
    match = re.fullmatch(r"(?P<host>.*)-(?P<pid>\d+)", tag)
    if match is None or match["host"] != _host():
        return False
    return not _pid_alive(int(match["pid"]))


def partial_path(path: Path) -> Path:
    """The hidden name beside `path` under which this process builds it."""
    return path.with_name(f".{path.name}.{run_tag()}.partial")


def remove_dead_partials(path: Path) -> None:
    """Remove the `partial_path`s of `path` that killed runs left (SIGTERM, -9),
    with the rollback journal SQLite keeps beside a database being written."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?P<tag>.+)\.partial(-journal)?")
    for sibling in path.parent.glob(f".{path.name}.*.partial*"):
        match = pattern.fullmatch(sibling.name)
        if match and left_by_dead_run(match["tag"]):
            logger.warning(
                "removing %s, left by a run that is no longer alive", sibling
            )
            sibling.unlink(missing_ok=True)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True
