"""Preprocess: raw ratings -> Parquet sequences, cached on the data's content.

The cache key is the content fingerprint of the raw files, the SQL steps, the
data layer's Python code (genrec/data/*.py and the package version) and the
parameters (see `genrec.tracking.fingerprint`), never a path: an edited raw
file, SQL step or data module recomputes, an unchanged one is served from
Prefect's result cache and the SQL does not run. A cached folder is only
served while it is complete (`OUTPUT_FILES`); otherwise it is recomputed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import TASK_SOURCE, Inputs

from genrec.data.output import OUTPUT_FILES
from genrec.paths import genrec_home
from genrec.tracking.fingerprint import content_fingerprint

# Inputs that do not change the output: where the raw bytes live (the
# fingerprint already holds their content) and how many threads DuckDB uses.
_NOT_IN_CACHE_KEY = ["raw_path", "threads"]
# Errors in the input itself (a malformed row, a missing file or column, an
# empty result) fail the same way again, so only the others are retried (a
# download cut off, a disk that filled up).
_INPUT_ERRORS = (ValueError, FileNotFoundError)


def _not_an_input_error(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry condition: retry unless the input itself is at fault."""
    return not isinstance(state.result(raise_on_failure=False), _INPUT_ERRORS)


def datasets_root() -> Path:
    """Return the folder holding one output folder per dataset fingerprint."""
    return genrec_home() / "datasets"


def preprocess_parameters(
    dataset: str,
    *,
    filter_mode: str | None = None,
    min_presence: int | None = None,
    dedup: bool | None = None,
    on_bad_rows: str = "error",
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Collect the parameters that shape the output (the fingerprinted ones)."""
    return {
        "dataset": dataset,
        "filter_mode": filter_mode,
        "min_presence": min_presence,
        "dedup": dedup,
        "on_bad_rows": on_bad_rows,
        "options": dict(options or {}),
    }


def preprocessing_sources() -> tuple[list[Path], list[Path]]:
    """The SQL files and the data layer's Python modules, found by globbing.

    Every `*.sql` under the SQL folder counts, whatever its name or number (the
    steps get renumbered), and every module of `genrec.data`.
    """
    import genrec.data

    sql = sorted(Path(genrec.data.SQL_DIR).rglob("*.sql"))
    code = sorted(Path(genrec.data.__file__).parent.glob("*.py"))
    return sql, code


@task(
    name="fingerprint-dataset",
    retries=2,
    retry_delay_seconds=10,
    retry_condition_fn=_not_an_input_error,
)
def fingerprint_dataset(raw_path: str | None, parameters: dict[str, Any]) -> str:
    """Hash the raw files (downloading them if needed), SQL, data code, parameters."""
    import genrec
    from genrec.data.datasets import raw_files

    files = raw_files(parameters["dataset"], raw_path, parameters["options"] or None)
    sql, code = preprocessing_sources()
    fingerprint = content_fingerprint(
        files, sql, parameters, code_files=code, code_version=genrec.__version__
    )
    get_run_logger().info(
        "dataset %s: %d raw file(s), fingerprint %s",
        parameters["dataset"],
        len(files),
        fingerprint[:12],
    )
    return fingerprint


@task(
    name="preprocess-dataset",
    cache_policy=Inputs(exclude=_NOT_IN_CACHE_KEY) + TASK_SOURCE,
    persist_result=True,
    retries=1,
    retry_condition_fn=_not_an_input_error,
)
def preprocess_dataset(
    fingerprint: str,
    raw_path: str | None,
    parameters: dict[str, Any],
    output_root: str,
    threads: int | None = None,
) -> str:
    """Run the SQL chain into `<output_root>/<dataset>/<fingerprint>`; return it."""
    from genrec.data.preprocess import run_preprocess

    parameters = dict(parameters)
    dataset = parameters.pop("dataset")
    options = parameters.pop("options") or None
    out_dir = Path(output_root) / dataset / fingerprint[:16]
    stats = run_preprocess(
        dataset, out_dir, raw_path, threads=threads, options=options, **parameters
    )
    get_run_logger().info("preprocessed %s into %s: %s", dataset, out_dir, stats)
    return str(out_dir)


def preprocessed_data_dir(
    fingerprint: str,
    raw_path: str | None,
    parameters: dict[str, Any],
    threads: int | None = None,
) -> tuple[str, bool]:
    """Run `preprocess_dataset` through its cache; return `(data_dir, cache_hit)`.

    A cache entry whose folder was deleted since, or lacks any of
    `OUTPUT_FILES`, is recomputed rather than returned.
    """
    # Positional, in `preprocess_dataset`'s order; Prefect binds them to names.
    arguments = (fingerprint, raw_path, parameters, str(datasets_root()), threads)
    state = preprocess_dataset(*arguments, return_state=True)
    data_dir = state.result()
    cache_hit = state.name == "Cached"
    if cache_hit and not is_complete(Path(data_dir)):
        # The folder is this cache's own, so what is left of it goes: the data
        # layer refuses to overwrite a folder that lacks its stats.json.
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir = preprocess_dataset.with_options(refresh_cache=True)(*arguments)
        cache_hit = False
    return data_dir, cache_hit


def is_complete(data_dir: Path) -> bool:
    """Whether `data_dir` holds every file of a preprocessing output."""
    return all((data_dir / name).is_file() for name in OUTPUT_FILES)


@flow(name="preprocess")
def preprocess(
    dataset: str = "synthetic",
    raw_path: str | None = None,
    filter_mode: str | None = None,
    min_presence: int | None = None,
    dedup: bool | None = None,
    on_bad_rows: str = "error",
    dataset_options: dict[str, Any] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Preprocess one dataset on its own.

    Returns:
        `data_dir` (the output folder), `fingerprint` and `cached` (whether
        the result came from the cache, the SQL not running).
    """
    parameters = preprocess_parameters(
        dataset,
        filter_mode=filter_mode,
        min_presence=min_presence,
        dedup=dedup,
        on_bad_rows=on_bad_rows,
        options=dataset_options,
    )
    fingerprint = fingerprint_dataset(raw_path, parameters)
    data_dir, cached = preprocessed_data_dir(fingerprint, raw_path, parameters, threads)
    return {"data_dir": data_dir, "fingerprint": fingerprint, "cached": cached}
