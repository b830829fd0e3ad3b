"""The content hash of a preprocessing job: raw bytes, SQL text, the data
layer's code and parameters.

It is the cache key of the preprocess task and the `dataset_hash` tag of every
run and model version. A path is never part of it: the same bytes under
another name hash the same, and an edited file under the same name does not.
The Python code that runs the SQL and writes the Parquet is part of it, so a
fix in the data layer recomputes cached folders; it also means a champion
trained before such a change is not compared with models trained after it
(see `genrec.tracking.registry`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_CHUNK_BYTES = 1 << 20


def file_digest(path: str | Path) -> str:
    """Return the sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def content_fingerprint(
    raw_files: Sequence[str | Path],
    sql_files: Sequence[str | Path],
    parameters: Mapping[str, Any],
    *,
    code_files: Sequence[str | Path] = (),
    code_version: str | None = None,
) -> str:
    """Hash what a preprocessing result depends on into one hex string.

    Args:
        raw_files: the raw input files, in the order the loader reads them.
        sql_files: the SQL steps, in pipeline order.
        parameters: the preprocessing options (dataset, filters, ...); values
            must be JSON-serialisable.
        code_files: the Python modules that run the steps (genrec/data/*.py).
        code_version: the version of the package those modules belong to.

    Returns:
        A 64-character sha256 hex digest.
    """
    manifest = {
        # Base names tell roles apart (ml-100k's u.data vs u.item) without
        # tying the hash to where the files happen to live.
        "raw": [(Path(f).name, file_digest(f)) for f in raw_files],
        "sql": [(Path(f).name, file_digest(f)) for f in sql_files],
        "code": sorted((Path(f).name, file_digest(f)) for f in code_files),
        "code_version": code_version,
        "parameters": parameters,
    }
    encoded = json.dumps(manifest, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()
