"""Content hashes of a dataset, before and after preprocessing.

- `content_fingerprint`: what a preprocessing result depends on (raw bytes, SQL
  text, the data layer's code, parameters). It is the preprocess task's cache
  key (the `preprocess_key` tag): a fix in the data layer recomputes cached
  folders.
- `dataset_digest`: the preprocessed sequences and item map themselves, i.e. the
  data a model trains and is evaluated on. It is the `dataset_hash` tag that the
  registry compares champions on, so a change in the data layer's code that
  leaves the output alone keeps models comparable.

A path is never part of either: the same bytes under another name hash the
same, and an edited file under the same name does not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_CHUNK_BYTES = 1 << 20
# The output files that define what a model sees; users.parquet only maps ids
# back to the original ones, stats.json holds timings.
DATASET_FILES = ("sequences.parquet", "items.parquet")


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


def dataset_digest(data_dir: str | Path) -> str:
    """Hash a preprocessed folder's sequences and item map into one hex string.

    The Parquet writer is deterministic (same rows, same bytes, whatever the
    number of DuckDB threads), so equal digests mean equal training and
    evaluation data.
    """
    manifest = [(name, file_digest(Path(data_dir) / name)) for name in DATASET_FILES]
    return hashlib.sha256(json.dumps(manifest).encode()).hexdigest()
