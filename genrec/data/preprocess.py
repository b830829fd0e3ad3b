"""Run the SQL steps from raw ratings to the Parquet output folder (docs/data.md)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genrec.data.bad_rows import (
    BadRowsError,
    check_side_file,
    check_side_file_ids,
    csv_bad_rows,
    line_ending_problem,
    parquet_bad_rows,
)
from genrec.data.datasets import (
    ROLE_COLUMNS,
    DatasetSpec,
    RatingsLayout,
    check_options,
    custom_columns,
    custom_layout,
    get_spec,
    is_parquet,
)
from genrec.data.datasets import raw_files as find_raw_files
from genrec.data.output import scratch_folder, staged_output
from genrec.data.sequences import arrow_to_numpy, build_sequences, numpy_to_arrow
from genrec.data.sql_runner import SqlRunner, SqlStepError

logger = logging.getLogger(__name__)

FILTER_MODES = ("none", "single_pass", "k_core")
BAD_ROW_POLICIES = ("error", "skip")
# The 20M-row benchmark file keeps its 976 MiB of loaded events in memory under
# this limit, and step 11's sort spills little beside them (peak RSS 1.8 GiB; at
# 1600MB, 1.66 GiB but 0.2-0.3 s slower); a larger input spills to disk.
DEFAULT_MEMORY_LIMIT = "1800MB"
BATCH_ROWS = 1 << 20
# stats.json "counts", in pipeline order.
COUNT_ORDER = (
    "bad_rows",
    "loaded",
    "deduplicated",
    "filter_passes",
    "categorized",
)

COUNT_QUERY = """
select count(*), count(distinct user_key), count(distinct item_key)
from events
"""
# Step 4 lists the items that share a 64-bit hash with another (the joins on
# hashes would merge them); the first one listed is named.
COLLISION_QUERY = """
select kind, first_id, second_id
from hash_collisions
order by kind desc, first_id
limit 1
"""
# The same, over every distinct id of `events`: only when step 11 streamed more
# rows than the filter counted, which a user or item sharing a hash causes.
SHARED_HASH_QUERY = """
with ids as (
    select 'user' as kind, user_key as id
    from events
    group by user_key
    union all
    select 'item' as kind, item_key as id
    from events
    group by item_key
)

select kind, min(id), max(id)
from ids
group by kind, hash(id)
having count(*) > 1
order by kind desc, min(id)
limit 1
"""
NUM_ITEM_IDS_QUERY = "select count(*) from item_map"
NUMBERED_ITEMS_QUERY = "select provisional_id, item_id from item_map"
# Per code step, the smallest id repeated in the table its parse step fills.
REPEATED_SIDE_IDS = {
    "08_code_user_features": """
        select user_key from parsed_users
        group by user_key having count(*) > 1
        order by user_key limit 1
    """,
    "10_code_item_features": """
        select item_key from parsed_items
        group by item_key having count(*) > 1
        order by item_key limit 1
    """,
}
# user_map's own columns; any other is a user feature (steps 7 and 8).
MAP_COLUMNS = {"user_id", "user_hash", "original_id"}
USER_FEATURES_QUERY = """
select * exclude (user_id, user_hash, original_id)
from user_map
order by user_id
"""


class EmptyDataError(ValueError):
    """The input has no interactions, or the filter removed all of them."""


def run_preprocess(
    dataset: str,
    out_dir: str | os.PathLike[str],
    raw_path: str | os.PathLike[str] | None = None,
    *,
    filter_mode: str | None = None,
    min_presence: int | None = None,
    dedup: bool | None = None,
    on_bad_rows: str = "error",
    threads: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Preprocess one dataset into `out_dir`; return the content of stats.json.

    Args:
      dataset: a registry name (genrec.data.datasets.DATASETS).
      out_dir: the output folder; written atomically, replacing a previous output.
      raw_path: a folder with the dataset's files or the ratings file; None
        downloads (or, for `synthetic`, generates) them into the data cache.
      filter_mode: "none", "single_pass" or "k_core"; None takes the preset.
      min_presence: k of the presence filter; None takes the preset (5).
      dedup: keep only the earliest of repeated (user, item) pairs; None: preset.
      on_bad_rows: "error" stops at a malformed row, "skip" drops and counts it.
      threads: DuckDB threads; None lets DuckDB use every core.
      options: dataset options (see docs/data.md) plus "memory_limit" for DuckDB.
    """
    out = os.fspath(out_dir)
    if not out.strip():
        # Path("") is the current folder, which would then be replaced; a name of
        # spaces is an unquoted variable left empty.
        raise ValueError(f"--out is required: expected a folder, got {out!r}")
    if out != out.strip():
        # ' /tmp/x' would be a folder named ' ' here, 'data ' one beside 'data'.
        raise ValueError(f"--out={out!r} starts or ends with white space; remove it")
    spec = get_spec(dataset)
    options = dict(options or {})
    settings = _settings(spec, filter_mode, min_presence, dedup, on_bad_rows)
    files = find_raw_files(dataset, raw_path, options)
    started = time.perf_counter()
    out_dir = Path(out_dir).expanduser()
    with (
        staged_output(out_dir) as staging,
        scratch_folder(out_dir.resolve(), "duckdb") as work_dir,
    ):
        connection = _connect(work_dir, threads, options)
        try:
            runner = SqlRunner(connection)
            stats = _run_steps(runner, spec, files, settings, options, staging)
        finally:
            connection.close()
        stats.update(
            dataset=dataset,
            raw_files=[str(path) for path in files],
            settings=settings,
            step_seconds={k: round(v, 3) for k, v in runner.seconds.items()},
            total_seconds=round(time.perf_counter() - started, 3),
        )
        (staging / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    logger.info(
        "preprocessed %s: interactions=%d users=%d items=%d -> %s",
        dataset,
        stats["num_interactions"],
        stats["num_users"],
        stats["num_items"],
        out_dir,
    )
    return stats


def check_arguments(
    dataset: str,
    *,
    filter_mode: str | None = None,
    min_presence: int | None = None,
    dedup: bool | None = None,
    on_bad_rows: str = "error",
    options: Mapping[str, Any] | None = None,
) -> None:
    """Raise ValueError for arguments `run_preprocess` would refuse, reading no file.

    For callers that start other work first (the pipeline flow), so that a typo
    stops them at once.
    """
    spec = get_spec(dataset)
    _settings(spec, filter_mode, min_presence, dedup, on_bad_rows)
    check_options(spec, dict(options or {}))


def _settings(
    spec: DatasetSpec,
    filter_mode: str | None,
    min_presence: int | None,
    dedup: bool | None,
    on_bad_rows: str,
) -> dict[str, Any]:
    """Fill unset choices from the dataset's preset and check them."""
    settings: dict[str, Any] = {
        "filter_mode": spec.filter_mode if filter_mode is None else filter_mode,
        "min_presence": spec.min_presence if min_presence is None else min_presence,
        "dedup": spec.dedup if dedup is None else dedup,
        "on_bad_rows": on_bad_rows,
    }
    if settings["filter_mode"] not in FILTER_MODES:
        raise ValueError(f"filter_mode must be one of {FILTER_MODES}")
    if on_bad_rows not in BAD_ROW_POLICIES:
        raise ValueError(f"on_bad_rows must be one of {BAD_ROW_POLICIES}")
    if int(settings["min_presence"]) < 1:
        raise ValueError("min_presence must be at least 1")
    if min_presence is not None and settings["filter_mode"] == "none":
        # Most often a forgotten --filter_mode on a preset without a filter.
        source = "as given" if filter_mode is not None else f"the {spec.name} preset"
        raise ValueError(
            f"min_presence={min_presence} has no effect with filter_mode none "
            f"({source}): pass --filter_mode=single_pass or --filter_mode=k_core"
        )
    return settings


def _connect(
    work_dir: Path, threads: int | None, options: Mapping[str, Any]
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB whose tables spill to `work_dir` under memory_limit."""
    memory_limit = str(options.get("memory_limit", DEFAULT_MEMORY_LIMIT))
    if memory_limit.strip().startswith("-"):
        # DuckDB would take it for no setting at all: 80% of the machine's memory.
        raise ValueError(
            f"--memory_limit={memory_limit}: expected a positive size such as "
            "1800MB or 4GB"
        )
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "temp_directory": str(work_dir / "spill"),
        "preserve_insertion_order": False,
    }
    if threads is not None:
        config["threads"] = int(threads)
    try:
        connection = duckdb.connect(":memory:", config=config)
    except duckdb.Error as error:
        # DuckDB names its setting, not the flag that set it; name only the flags
        # that were given.
        given = []
        if threads is not None:
            given.append(f"--threads={threads}")
        if "memory_limit" in options:
            given.append(f"--memory_limit={memory_limit}")
        if not given:
            raise
        raise ValueError(
            f"{' / '.join(given)}: DuckDB refused "
            f"{'them' if len(given) > 1 else 'it'} ({error})"
        ) from error
    connection.execute("set enable_progress_bar = false")
    return connection


def _run_steps(
    runner: SqlRunner,
    spec: DatasetSpec,
    files: list[Path],
    settings: dict[str, Any],
    options: Mapping[str, Any],
    staging: Path,
) -> dict[str, Any]:
    """Run load, encode, dedup, filter, categorize, features and write; return stats."""
    counts: dict[str, Any] = {}
    num_loaded, counts["bad_rows"] = _load(runner, spec, files[0], settings, options)
    if settings["dedup"]:
        runner.run("03_deduplicate")
        counts["deduplicated"] = _counts(runner)
    before, counts["filter_passes"] = _filter(runner, settings)
    # De-duplication keeps one row of each (user, item) pair, and so every user
    # and item: the filter's input has the users and items that were loaded.
    counts["loaded"] = {**before, "interactions": num_loaded}
    mode = settings["filter_mode"]
    final = counts["filter_passes"][-1] if counts["filter_passes"] else before
    if final["interactions"] == 0:
        raise EmptyDataError(
            f"{files[0]}: the presence filter ({settings['filter_mode']}, "
            f"k={settings['min_presence']}) removed every interaction"
        )

    _refuse_shared_hashes(runner, files[0], COLLISION_QUERY)
    runner.run("06_categorize")
    _features(runner, spec, files)
    kept, rated_items = _kept_interactions(runner, files[0], counts, mode, final)
    counts["categorized"] = {
        "interactions": kept.num_rows,
        "users": runner.scalar("select count(*) from user_map"),
        "items": len(rated_items),
    }
    if counts["categorized"] != final:
        # The id maps hold exactly the kept ids, so this is a bug, not bad input.
        raise RuntimeError(
            f"categorized counts {counts['categorized']} differ from the filter's "
            f"{final}"
        )
    sequence_stats = _write_output(runner, staging, kept, final["users"])
    counts = {key: counts[key] for key in COUNT_ORDER if key in counts}
    return {
        "num_interactions": final["interactions"],
        "num_users": final["users"],
        "num_items": final["items"],
        "counts": counts,
        **sequence_stats,
    }


def _kept_interactions(
    runner: SqlRunner,
    path: Path,
    counts: dict[str, Any],
    mode: str,
    final: dict[str, Any],
) -> tuple[pa.Table, np.ndarray]:
    """Run step 11; return its kept rows, items renumbered, and the rated items.

    Step 11 streams the kept interactions, then (single_pass) the other
    interactions of the first pass; this fills in the item counts of the
    single_pass filter's passes, which only that stream tells.
    """
    ordered = runner.arrow("11_order_events", batch_rows=BATCH_ROWS)
    streamed = counts["filter_passes"][0] if mode == "single_pass" else final
    num_unnumbered = ordered["user_id"].null_count
    if (ordered.num_rows, num_unnumbered) != (
        streamed["interactions"],
        streamed["interactions"] - final["interactions"],
    ):
        _refuse_shared_hashes(runner, path, SHARED_HASH_QUERY)
        raise RuntimeError(
            f"step 11 streamed {ordered.num_rows} interactions ({num_unnumbered} "
            f"unnumbered); the filter counted {streamed['interactions']} "
            f"({final['interactions']} kept)"
        )
    start = time.perf_counter()
    kept, rated_items, num_reached = _rated_items(
        ordered, final["interactions"], runner.scalar(NUM_ITEM_IDS_QUERY)
    )
    runner.seconds["rate_items"] = time.perf_counter() - start
    if mode == "single_pass":
        streamed["items"], final["items"] = num_reached, len(rated_items)
    return _number_rated_items(runner, kept, rated_items), rated_items


def _write_output(
    runner: SqlRunner, staging: Path, kept: pa.Table, num_users: int
) -> dict[str, Any]:
    """Cut the kept rows into lists, run step 13; return the sequence statistics."""
    start = time.perf_counter()
    sequences, sequence_stats = build_sequences(kept, num_users, _user_features(runner))
    runner.seconds["build_sequences"] = time.perf_counter() - start
    runner.connection.register("sequences", sequences)
    runner.run(
        "13_write_output",
        {
            "items_path": str(staging / "items.parquet"),
            "users_path": str(staging / "users.parquet"),
            "sequences_path": str(staging / "sequences.parquet"),
        },
    )
    runner.connection.unregister("sequences")
    return sequence_stats


def _load(
    runner: SqlRunner,
    spec: DatasetSpec,
    path: Path,
    settings: dict[str, Any],
    options: Mapping[str, Any],
) -> tuple[int, dict[str, Any]]:
    """Run step 1 for a CSV or Parquet file, then handle bad rows per the policy.

    Returns the loaded interactions and the bad-row report.
    """
    runner.run("00_prepare_events")
    if is_parquet(path):
        _check_parquet_use(spec, path, options)
        source = _parquet_source(path, options)
        runner.connection.register("source_rows", source)
        runner.run("01_load_events_parquet")
        bad_rows, num_bad = parquet_bad_rows(
            runner.connection, path, source, custom_columns(options)
        )
    else:
        layout = spec.layout or custom_layout(path, options)
        try:
            runner.run("01_load_events_csv", _csv_params(path, layout))
        except SqlStepError as error:
            _explain_csv_failure(path, error, layout)
            raise
        bad_rows, num_bad = csv_bad_rows(runner.connection, path, layout)
    if num_bad and settings["on_bad_rows"] == "error":
        raise BadRowsError(bad_rows, num_bad)
    if num_bad:
        runner.run("02_drop_bad_rows")
        logger.warning(
            "skipped %d bad row%s; first: %s",
            num_bad,
            "" if num_bad == 1 else "s",
            bad_rows[0],
        )
    loaded = runner.scalar("select count(*) from loaded_events")
    if is_parquet(path):
        runner.connection.unregister("source_rows")  # step 1 copied what it needs
    if loaded == 0 and num_bad:
        # Most often the wrong file or layout: the first bad row tells which.
        rows = (
            "its only row is bad and was skipped"
            if num_bad == 1
            else f"all {num_bad:,} rows are bad and were skipped"
        )
        which = "it" if num_bad == 1 else "the first"
        first = bad_rows[0]
        raise EmptyDataError(
            f"{path}: no interactions to read: {rows} (--on_bad_rows=skip); "
            f"{which}: {first.unit} {first.line}: {first.reason}"
        )
    if loaded == 0:
        raise EmptyDataError(f"{path}: no interactions to read")
    report = {"count": num_bad, "examples": [str(row) for row in bad_rows]}
    return int(loaded), report


def _explain_csv_failure(
    path: Path, error: SqlStepError, layout: RatingsLayout | None = None
) -> None:
    """Raise a ValueError naming the line when DuckDB's parser gave up on `path`.

    Args:
      layout: the ratings file's; None for a side file, read without quotes.
    """
    if "reached an invalid state" not in str(error):
        return
    if layout is None:
        problem = line_ending_problem(path)
    else:
        problem = line_ending_problem(path, layout.quote, layout.delim, layout.encoding)
    if problem is not None:
        raise ValueError(f"{path}: {problem}") from error


def _csv_params(path: Path, layout: RatingsLayout) -> dict[str, Any]:
    """Bound parameters of the steps that read the ratings file."""
    return {
        "path": str(path),
        "columns": layout.columns(),
        "delim": layout.delim,
        "quote": layout.quote,
        "header": layout.header,
        "encoding": layout.encoding,
        "integer_ids": layout.integer_ids,
    }


def _refuse_shared_hashes(runner: SqlRunner, path: Path, query: str) -> None:
    """Stop, naming them, if `query` finds two distinct ids with one 64-bit hash.

    The joins of steps 4 and 11 match ids by hash, which would merge the two.
    With 5M distinct ids of a kind, about one dataset in a million has such a
    pair; one with 5 billion would most likely have one.
    """
    for kind, first, second in runner.connection.execute(query).fetchall():
        raise ValueError(
            f"{path}: {kind} ids {first!r} and {second!r} share a 64-bit hash; "
            "rename one of them"
        )


def _rated_items(
    ordered: pa.Table, num_kept: int, num_item_ids: int
) -> tuple[pa.Table, np.ndarray, int]:
    """Split step 11's stream; find the items its kept rows rate.

    Args:
      ordered: step 11's rows: `num_kept` kept interactions, then those of the
        users that only the first pass of single_pass kept (user_id NULL).
      num_kept: the kept interactions.
      num_item_ids: N, the item ids of step 6's item_map (1..N).

    Returns:
      The kept rows, the ids of the items they rate, ascending (int32), and the
      number of items that any row of `ordered` rates.
    """
    kept = ordered.slice(0, num_kept)
    # Marking by fancy index: np.bincount would first widen the ids to int64.
    rated = np.zeros(num_item_ids + 1, dtype=bool)  # (N + 1,)
    for chunk in kept["item_id"].chunks:
        rated[arrow_to_numpy(chunk)] = True
    reached = rated.copy()
    for chunk in ordered.slice(num_kept)["item_id"].chunks:
        reached[arrow_to_numpy(chunk)] = True
    rated_ids = np.flatnonzero(rated).astype(np.int32)
    return kept, rated_ids, int(np.count_nonzero(reached))


def _number_rated_items(
    runner: SqlRunner, kept: pa.Table, rated_items: np.ndarray
) -> pa.Table:
    """Run step 12 on the rated items; return `kept` with its item ids."""
    rated_table = pa.Table.from_arrays([numpy_to_arrow(rated_items)], ["item_id"])
    runner.connection.register("rated_items", rated_table)
    runner.run("12_number_rated_items")
    runner.connection.unregister("rated_items")
    numbered = runner.connection.sql(NUMBERED_ITEMS_QUERY).to_arrow_table()
    provisional_ids = np.concatenate(
        [arrow_to_numpy(chunk) for chunk in numbered["provisional_id"].chunks]
    )
    item_ids = np.concatenate(
        [arrow_to_numpy(chunk) for chunk in numbered["item_id"].chunks]
    )
    if np.array_equal(provisional_ids, item_ids):
        return kept
    new_ids = np.zeros(int(provisional_ids.max()) + 1, dtype=np.int32)
    new_ids[provisional_ids] = item_ids  # step 6's id -> step 12's
    renumbered = pa.chunked_array(
        [
            numpy_to_arrow(new_ids[arrow_to_numpy(chunk)])
            for chunk in kept["item_id"].chunks
        ],
        pa.int32(),
    )
    column = kept.schema.get_field_index("item_id")
    return kept.set_column(column, "item_id", renumbered)


def _check_parquet_use(
    spec: DatasetSpec, path: Path, options: Mapping[str, Any]
) -> None:
    """Refuse a Parquet ratings file where the dataset or an option expects CSV."""
    if spec.layout is not None:
        raise ValueError(
            f"{path}: a Parquet file, but {spec.name} reads its own CSV format; "
            "for Parquet use --dataset=custom with --user_column, --item_column "
            "and --timestamp_column"
        )
    for option in ("delimiter", "encoding"):
        if option in options:
            raise ValueError(
                f"{path}: --{option} applies to CSV files; this is Parquet"
            )


def _parquet_source(path: Path, options: Mapping[str, Any]) -> pa.Table:
    """Read the role columns of a Parquet file, renamed by role, ts in seconds.

    A timestamp or date column becomes epoch seconds (a timestamp without a time
    zone is taken as UTC, a date as its midnight), floored to whole seconds, as
    float64: so that step 1 flags a fractional number in a numeric column like
    any other non-integer timestamp.
    """
    import pyarrow.compute as pc  # here: CSV sources need not load it (40 ms)

    names = custom_columns(options)
    try:
        schema = pq.read_schema(path)
        missing = [name for name in names.values() if name not in schema.names]
        if missing:
            raise ValueError(f"{path}: expected columns {missing} in {schema.names}")
        repeated = sorted(
            {name for name in names.values() if schema.names.count(name) > 1}
        )
        if repeated:
            raise ValueError(
                f"{path}: the file has more than one column named {repeated}; "
                "expected each chosen column once"
            )
        for role in ("user", "item"):
            _check_id_type(path, names[role], role, schema.field(names[role]).type)
        table = pq.read_table(path, columns=list(names.values()))
    except pa.ArrowException as error:
        raise ValueError(f"{path}: not a readable Parquet file ({error})") from error
    table = table.rename_columns([ROLE_COLUMNS[role][0] for role in names])
    if "rating" not in names:
        table = table.append_column(
            "rating", pa.array([1.0] * table.num_rows, pa.float32())
        )
    ts = table["ts"]
    if pa.types.is_date(ts.type):
        ts = ts.cast(pa.timestamp("s"))
    if pa.types.is_timestamp(ts.type):
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[ts.type.unit]
        ticks = ts.cast(pa.int64())
        # Floored to the second (the output's unit), not flagged: a time stamp
        # type has no malformed fractions. Events of one second keep file order.
        # Integer division truncates towards zero: step back where it rounded up.
        whole = pc.divide(ticks, per_second)
        remainder = pc.subtract(ticks, pc.multiply(whole, per_second))
        whole = pc.if_else(pc.less(remainder, 0), pc.subtract(whole, 1), whole)
        num_fractional = pc.sum(pc.not_equal(remainder, 0)).as_py() or 0
        if num_fractional:
            logger.warning(
                "%s: %d time stamps of column %r have a fraction of a second; "
                "floored to whole seconds",
                path,
                num_fractional,
                names["ts"],
            )
        seconds = whole.cast(pa.float64())
        table = table.set_column(table.schema.get_field_index("ts"), "ts", seconds)
    return table


def _check_id_type(
    path: Path, column: str, role: str, column_type: pa.DataType
) -> None:
    """Refuse a user or item id column that is neither text nor a number.

    Step 1 keeps an id as its text, so a list, struct or map became '[1]' or
    "{'a': 1}" and bytes an escaped blob, accepted silently; a boolean or date
    column is refused alike, being more likely the wrong column than ids.
    Floats and decimals are kept as their text (1.0 is '1.0'); a column of
    nulls leaves every row without an id, which the bad-row report names.
    """
    value_type = (
        column_type.value_type if pa.types.is_dictionary(column_type) else column_type
    )
    if not (
        pa.types.is_string(value_type)
        or pa.types.is_large_string(value_type)
        or pa.types.is_string_view(value_type)
        or pa.types.is_integer(value_type)
        or pa.types.is_floating(value_type)
        or pa.types.is_decimal(value_type)
        or pa.types.is_null(value_type)
    ):
        raise ValueError(
            f"{path}: column {column!r} ({role} id) has type {column_type}; "
            "expected string or integer ids (float and decimal ids are read as "
            "their text, e.g. 1.0 as '1.0')"
        )


def _filter(
    runner: SqlRunner, settings: dict[str, Any]
) -> tuple[dict[str, int], list[dict[str, int]]]:
    """Apply the presence filter; return the counts before it and after each pass."""
    mode, k = settings["filter_mode"], {"min_presence": int(settings["min_presence"])}
    if mode == "single_pass":
        return _filter_single_pass(runner, k)
    before = _counts(runner)
    passes: list[dict[str, int]] = []
    if mode == "k_core":
        # Repeat until a pass removes nothing (the fixed point) or everything.
        previous = before["interactions"]
        while True:
            runner.run("04_filter_k_core", k)
            passes.append(_counts(runner))
            if passes[-1]["interactions"] in (previous, 0):
                break
            previous = passes[-1]["interactions"]
    return before, passes


def _filter_single_pass(
    runner: SqlRunner, k: dict[str, int]
) -> tuple[dict[str, int], list[dict[str, int]]]:
    """Run the single-pass filter; return the counts before it and after each pass."""
    before, *passes = [
        {"interactions": interactions, "users": users, "items": items}
        for interactions, users, items in runner.run(
            "04_filter_single_pass", k
        ).fetchall()
    ]
    return before, passes


def _features(runner: SqlRunner, spec: DatasetSpec, files: list[Path]) -> None:
    """Parse and code the side files that are present, in step order."""
    present = {path.name: path for path in files[1:]}
    side_files = [side for side in spec.side_files if side.name in present]
    for side in (side for side in spec.side_files if side.name not in present):
        logger.warning(
            "%s: no %s beside %s; its features are left out",
            spec.name,
            side.name,
            files[0].name,
        )
    for side in sorted(side_files, key=lambda side: side.steps):
        parse_step, code_step = side.steps
        params = {"path": str(present[side.name]), "encoding": side.encoding}
        try:
            runner.run(parse_step, params)
        except SqlStepError as error:
            _explain_csv_failure(present[side.name], error)
            raise
        check_side_file(runner.connection, present[side.name], side.encoding)
        check_side_file_ids(
            runner.connection,
            present[side.name],
            REPEATED_SIDE_IDS[code_step],
            side.delim,
            side.encoding,
        )
        runner.run(code_step)


def _user_features(runner: SqlRunner) -> pa.Table | None:
    """Return step 8's user feature columns in user_id order; None without any."""
    columns = runner.connection.table("user_map").columns
    if not set(columns) - MAP_COLUMNS:
        return None
    return runner.connection.sql(USER_FEATURES_QUERY).to_arrow_table()


def _counts(runner: SqlRunner) -> dict[str, int]:
    """Return the interactions, users and items of the current `events`."""
    row = runner.connection.execute(COUNT_QUERY).fetchone()
    assert row is not None  # an ungrouped aggregate returns exactly one row
    interactions, users, items = row
    return {"interactions": interactions, "users": users, "items": items}
