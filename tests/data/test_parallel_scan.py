"""Threads do not change the output, on an input DuckDB really scans in parallel."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from genrec.data.preprocess import run_preprocess
from genrec.data.synthetic import write_synthetic_ratings

NUM_ROWS = 300_000
NUM_USERS = 20_000  # 15 rows each, one per block of NUM_USERS rows
NUM_ITEMS = 5_000
DAY_S = 86_400
FIRST_TS = 1_420_070_400  # 2015-01-01 UTC
OPTIONS = {
    "user_column": "user",
    "item_column": "item",
    "rating_column": "rating",
    "timestamp_column": "ts",
}
# Row i of the file, as DuckDB writes it and numpy recomputes it. A user's 15 rows
# lie one per 20,000-row block, spread over the whole file, on three distinct
# days: five-way timestamp ties whose file order crosses DuckDB's scan chunks.
# The review column (with commas, so quoted) makes the file about 40 MB.
ROWS_SQL = f"""
copy (
    select
        'u' || (i * 7919 % {NUM_USERS}) as user,
        'i' || (i * 104729 % {NUM_ITEMS}) as item,
        1 + i % 5 as rating,
        {FIRST_TS} + (i // {NUM_USERS} % 3) * {DAY_S} as ts,
        'good, ' || repeat('very ', 18) || i as review
    from range({NUM_ROWS}) as rows(i)
) to '{{path}}' (header, delimiter ',')
"""


@pytest.fixture(scope="module")
def large_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("parallel") / "reviews.csv"
    duckdb.execute(ROWS_SQL.format(path=path))
    return path


def test_the_input_is_split_for_parallel_scans(large_csv, tmp_path):
    # DuckDB splits a CSV into ranges of about 8 MB and a table into row groups
    # of 122,880 rows; each range or group can go to its own thread.
    assert large_csv.stat().st_size > 32 * 2**20
    connection = duckdb.connect(config={"threads": 4})
    columns = {"user": "VARCHAR", "item": "VARCHAR", "rating": "FLOAT"}
    columns |= {"ts": "DOUBLE", "review": "VARCHAR"}
    scan = (
        "select * from read_csv($path, columns = $columns, header = true, "
        "auto_detect = false)"
    )
    params = {"path": str(large_csv), "columns": columns}
    connection.execute(f"create table loaded as {scan}", params)
    row_groups = connection.execute(
        "select count(distinct row_group_id) from pragma_storage_info('loaded')"
    ).fetchone()
    assert row_groups == (3,)

    # Summed over threads, the scan's operator time exceeds its wall time only
    # when threads scanned side by side. Scheduling on a busy machine varies, so
    # one of three tries must show it.
    ratios = []
    for attempt in range(3):
        profile = tmp_path / f"profile{attempt}.json"
        connection.execute("pragma enable_profiling = 'json'")
        connection.execute(f"pragma profiling_output = '{profile}'")
        connection.execute(f"select count(*) from ({scan})", params).fetchall()
        connection.execute("pragma disable_profiling")
        query = json.loads(profile.read_text())["query"]
        ratios.append(query["cpu_time"] / query["total_time"])
    assert max(ratios) > 1.0, ratios


def test_one_and_four_threads_give_the_same_time_ordered_output(large_csv, tmp_path):
    for threads in (1, 4):
        stats = run_preprocess(
            "custom",
            tmp_path / f"t{threads}",
            large_csv,
            filter_mode="k_core",
            threads=threads,
            options=OPTIONS,
        )
        assert stats["num_interactions"] == NUM_ROWS  # k = 5 keeps everything
    for name in ("sequences.parquet", "items.parquet", "users.parquet"):
        assert pq.read_table(tmp_path / "t1" / name).equals(
            pq.read_table(tmp_path / "t4" / name)
        ), name

    # Each user's items by (timestamp, file row), recomputed from the row formula.
    rows = np.arange(NUM_ROWS)
    users, items = rows * 7919 % NUM_USERS, rows * 104729 % NUM_ITEMS
    days = rows // NUM_USERS % 3
    order = np.lexsort((rows, days, users))
    expected = np.split(items[order], np.cumsum(np.bincount(users))[:-1])
    item_names = pq.read_table(tmp_path / "t4" / "items.parquet")["original_id"]
    user_names = pq.read_table(tmp_path / "t4" / "users.parquet")["original_id"]
    sequences = pq.read_table(tmp_path / "t4" / "sequences.parquet")
    names = item_names.to_pylist()
    got = {
        user: [int(names[item - 1][1:]) for item in item_ids]
        for user, item_ids in zip(
            user_names.to_pylist(), sequences["item_ids"].to_pylist(), strict=True
        )
    }
    assert got == {f"u{user}": list(expected[user]) for user in range(NUM_USERS)}


def test_one_and_four_threads_write_the_same_bytes(tmp_path):
    # MLflow's dataset_hash is a digest of the files. DuckDB hands step 11's rows
    # over in chunks whose sizes depend on the threads, and its Parquet writer's
    # bytes follow the chunks of what it writes: the lists must not. Over 100,000
    # users, so that sequences.parquet has two row groups.
    ratings = write_synthetic_ratings(
        tmp_path / "ratings.csv", num_users=110_000, num_items=20_000, mean_length=3
    )
    for threads in (1, 4):
        out = tmp_path / f"t{threads}"
        run_preprocess("amazon-2018", out, ratings, filter_mode="none", threads=threads)
    for name in ("sequences.parquet", "items.parquet", "users.parquet"):
        first, second = tmp_path / "t1" / name, tmp_path / "t4" / name
        assert first.read_bytes() == second.read_bytes(), name
    assert pq.ParquetFile(tmp_path / "t1" / "sequences.parquet").num_row_groups > 1
