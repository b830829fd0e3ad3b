"""Where genrec keeps its state on a machine (data, runs, tracking databases)."""

from __future__ import annotations

import os
from pathlib import Path


def genrec_home() -> Path:
    """Return the project data folder: $GENREC_HOME, else `./.genrec`."""
    return Path(os.environ.get("GENREC_HOME", ".genrec")).resolve()


def data_cache_dir() -> Path:
    """Return the folder that caches downloaded raw datasets."""
    return genrec_home() / "downloads"
