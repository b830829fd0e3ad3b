"""Cut the ordered interaction stream into one row of lists per user."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

# Rows of the ordered stream per piece of the list columns: DuckDB's batches of a
# sorted result when it runs on several threads, so that a piece is mostly a
# view of one batch; only the rows of a user that straddles two are copied.
PIECE_ROWS = 122_880
SEQUENCE_SCHEMA = pa.schema(
    [
        ("user_id", pa.int32()),
        ("item_ids", pa.list_(pa.int32())),
        ("ratings", pa.list_(pa.float32())),
        ("timestamps", pa.list_(pa.int64())),
    ]
)


def build_sequences(
    ordered: pa.Table, num_users: int, user_features: pa.Table | None = None
) -> tuple[pa.Table, dict[str, Any]]:
    """Build the rows of sequences.parquet from interactions sorted by (user_id, ts,
    file row).

    Users are the dense ids 1..num_users, each with at least one interaction, so
    user u's lists are the rows between offsets[u-1] and offsets[u]. The lists
    reuse the sorted columns' buffers: no per-user Python work, and only rows of
    a piece that straddles two of `ordered`'s chunks are copied. Equal rows give
    an equal table, chunks included, however `ordered` is chunked.

    Args:
      ordered: columns user_id, item_id, rating, ts in the final order, chunked
        alike (as DuckDB returns them).
      num_users: M, the number of dense user ids.
      user_features: optional feature columns to append, one row per user in
        user_id order.

    Returns:
      The table (SEQUENCE_SCHEMA, then the feature columns), and sequence
      statistics for stats.json.
    """
    user_chunks = [arrow_to_numpy(chunk) for chunk in ordered["user_id"].chunks]
    lengths = np.zeros(num_users + 1, dtype=np.int64)  # (M + 1,), 0 is padding
    for user_ids in user_chunks:  # each (rows,) int32, sorted
        if len(user_ids):
            first = user_ids[0]
            lengths[first : user_ids[-1] + 1] += np.bincount(user_ids - first)
    lengths = lengths[1:]  # (M,)
    offsets = np.concatenate([[0], np.cumsum(lengths)])  # (M + 1,)
    # The pieces follow a fixed grid of rows, not `ordered`'s chunks (whose sizes
    # depend on DuckDB's threads): the Parquet writer's bytes follow the pieces.
    num_rows = int(offsets[-1])
    grid = [PIECE_ROWS] * (num_rows // PIECE_ROWS) + [num_rows % PIECE_ROWS]
    runs = _single_chunk_runs(offsets, grid)

    table = pa.Table.from_arrays(
        [
            numpy_to_arrow(np.arange(1, num_users + 1, dtype=np.int32)),
            _lists(ordered["item_id"].cast(pa.int32()), offsets, runs),
            _lists(ordered["rating"].cast(pa.float32()), offsets, runs),
            _lists(ordered["ts"].cast(pa.int64()), offsets, runs),
        ],
        schema=SEQUENCE_SCHEMA,
    )
    if user_features is not None:
        for name in user_features.column_names:
            table = table.append_column(name, user_features[name])
    ts_chunks = [arrow_to_numpy(chunk) for chunk in ordered["ts"].chunks]
    return table, _sequence_stats(lengths, user_chunks, ts_chunks)


# pa.array(ndarray) and Array.to_numpy() of a sliced array would do as well as
# the two functions below, but their first call imports pandas (0.2-0.4 s), and so
# does DataType.to_pandas_dtype().
NUMPY_TYPES = {
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}


def numpy_to_arrow(values: np.ndarray) -> pa.Array:
    """A 1-D numeric numpy array as an Arrow array on the same memory."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)]
    )


def arrow_to_numpy(values: pa.Array) -> np.ndarray:
    """A numeric Arrow array without nulls as a numpy view of its memory."""
    if values.null_count:
        raise ValueError(f"expected no nulls, got {values.null_count}")
    dtype = np.dtype(NUMPY_TYPES[values.type])
    return np.frombuffer(
        values.buffers()[1],
        dtype=dtype,
        count=len(values),
        offset=values.offset * dtype.itemsize,
    )


def _single_chunk_runs(
    offsets: np.ndarray, chunk_rows: list[int]
) -> list[tuple[int, int]]:
    """Split the users 0..M-1 into runs [a, b) that each end in one chunk.

    Every user is placed in the chunk where its rows end. Of the users ending in
    a chunk, only the first can have begun in an earlier chunk: it becomes a run
    of its own, whose rows `_lists` joins; the others lie inside the chunk.
    """
    runs = []
    user, chunk_start = 0, 0
    for rows in chunk_rows:
        chunk_end = chunk_start + rows
        # Users 0..end-1 end at or before this chunk's end.
        end = int(np.searchsorted(offsets, chunk_end, side="right")) - 1
        if end > user and offsets[user] < chunk_start:
            runs.append((user, user + 1))
            user += 1
        if end > user:
            runs.append((user, end))
            user = end
        chunk_start = chunk_end
    return runs


def _lists(
    values: pa.ChunkedArray, offsets: np.ndarray, runs: list[tuple[int, int]]
) -> pa.ChunkedArray:
    """One list per user: a list array per run, on a slice of `values`' chunks."""
    pieces = []
    for first, end in runs:
        start = int(offsets[first])
        sliced = values.slice(start, int(offsets[end]) - start)
        run_values = [chunk for chunk in sliced.chunks if len(chunk)]
        pieces.append(
            pa.ListArray.from_arrays(
                numpy_to_arrow((offsets[first : end + 1] - start).astype(np.int32)),
                run_values[0] if len(run_values) == 1 else pa.concat_arrays(run_values),
            )
        )
    return pa.chunked_array(pieces, type=pa.list_(values.type))


def _sequence_stats(
    lengths: np.ndarray, user_chunks: list[np.ndarray], ts_chunks: list[np.ndarray]
) -> dict:
    """Length summary and equal-timestamp groups (same user, same second, >1 event).

    A row is tied when it has the previous row's user and second; a group starts
    at a tied row whose previous row is not tied. The previous row of a chunk's
    first row is the last row of the chunk before.
    """
    tied_groups = tied_rows = 0
    last_user, last_ts, last_tied = -1, 0, False
    for user_ids, ts in zip(user_chunks, ts_chunks, strict=True):
        if not len(ts):
            continue
        tied = np.empty(len(ts), dtype=bool)
        tied[0] = user_ids[0] == last_user and ts[0] == last_ts
        tied[1:] = (user_ids[1:] == user_ids[:-1]) & (ts[1:] == ts[:-1])
        tied_groups += int(tied[0] and not last_tied)
        tied_groups += int((tied[1:] & ~tied[:-1]).sum())
        tied_rows += int(tied.sum())
        last_user, last_ts, last_tied = user_ids[-1], ts[-1], bool(tied[-1])
    return {
        "sequence_length": {
            "min": int(lengths.min()),
            "mean": float(lengths.mean()),
            "median": float(np.median(lengths)),
            "max": int(lengths.max()),
        },
        "equal_timestamp_groups": tied_groups,
        "interactions_in_equal_timestamp_groups": tied_rows + tied_groups,
    }
