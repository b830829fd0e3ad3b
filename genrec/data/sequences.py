"""Cut the ordered interaction stream into one row of lists per user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEQUENCE_SCHEMA = pa.schema(
    [
        ("user_id", pa.int32()),
        ("item_ids", pa.list_(pa.int32())),
        ("ratings", pa.list_(pa.float32())),
        ("timestamps", pa.list_(pa.int64())),
    ]
)


def write_sequences(
    ordered: pa.Table, num_users: int, path: Path, user_features: pa.Table | None = None
) -> dict[str, Any]:
    """Write sequences.parquet from interactions sorted by (user_id, ts, file row).

    Users are the dense ids 1..num_users, each with at least one interaction, so
    user u's lists are the rows between offsets[u-1] and offsets[u]. The lists
    reuse the sorted columns' buffers: no per-user Python work.

    Args:
      ordered: columns user_id, item_id, rating, ts in the final order.
      num_users: M, the number of dense user ids.
      path: the Parquet file to write.
      user_features: optional columns (one row per user, by user_id) to append.

    Returns:
      Sequence statistics for stats.json.
    """
    ordered = ordered.combine_chunks()
    user_ids = ordered["user_id"].to_numpy()  # (T,) int32, sorted
    lengths = np.bincount(user_ids, minlength=num_users + 1)[1:]  # (M,)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), type=pa.int32())

    def as_lists(name: str, value_type: pa.DataType) -> pa.Array:
        values = (
            ordered[name].chunk(0).cast(value_type)
            if ordered.num_rows
            else (pa.array([], type=value_type))
        )
        return pa.ListArray.from_arrays(offsets, values)

    table = pa.Table.from_arrays(
        [
            pa.array(np.arange(1, num_users + 1, dtype=np.int32)),
            as_lists("item_id", pa.int32()),
            as_lists("rating", pa.float32()),
            as_lists("ts", pa.int64()),
        ],
        schema=SEQUENCE_SCHEMA,
    )
    if user_features is not None:
        for name in user_features.column_names:
            if name not in {"user_id", "original_id"}:
                table = table.append_column(name, user_features[name])
    pq.write_table(table, path)
    return _sequence_stats(lengths, user_ids, ordered["ts"].to_numpy())


def _sequence_stats(lengths: np.ndarray, user_ids: np.ndarray, ts: np.ndarray) -> dict:
    """Length summary and equal-timestamp groups (same user, same second, >1 event)."""
    same_as_previous = np.zeros(len(ts), dtype=bool)
    same_as_previous[1:] = (user_ids[1:] == user_ids[:-1]) & (ts[1:] == ts[:-1])
    group_starts = same_as_previous[1:] & ~same_as_previous[:-1]
    tied_groups = int(group_starts.sum())
    tied_interactions = int(same_as_previous.sum()) + tied_groups
    return {
        "sequence_length": {
            "min": int(lengths.min()),
            "mean": float(lengths.mean()),
            "median": float(np.median(lengths)),
            "max": int(lengths.max()),
        },
        "equal_timestamp_groups": tied_groups,
        "interactions_in_equal_timestamp_groups": tied_interactions,
    }
