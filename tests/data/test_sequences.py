"""Cutting the ordered stream into lists, whatever DuckDB's chunking."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from genrec.data.sequences import build_sequences


def test_users_that_straddle_chunks_keep_whole_lists():
    rng = np.random.default_rng(0)
    for trial in range(50):
        lengths = rng.integers(1, 12, size=int(rng.integers(1, 20)))
        num_users, num_rows = len(lengths), int(lengths.sum())
        columns = {
            "user_id": np.repeat(np.arange(1, num_users + 1, dtype=np.int32), lengths),
            "item_id": rng.integers(1, 50, size=num_rows).astype(np.int32),
            "rating": rng.random(num_rows).astype(np.float32),
            "ts": rng.integers(0, 3, size=num_rows).astype(np.int64),
        }
        # Random chunk boundaries, empty chunks included, as DuckDB may return.
        cuts = np.sort(rng.integers(0, num_rows + 1, size=int(rng.integers(0, 6))))
        bounds = [0, *cuts.tolist(), num_rows]
        ordered = pa.Table.from_batches(
            [
                pa.record_batch({name: values[a:b] for name, values in columns.items()})
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            ]
        )
        table, stats = build_sequences(ordered, num_users)

        starts = np.concatenate([[0], np.cumsum(lengths)])
        for name, column in [("item_ids", "item_id"), ("timestamps", "ts")]:
            expected = [
                columns[column][a:b].tolist()
                for a, b in zip(starts[:-1], starts[1:], strict=True)
            ]
            assert table[name].to_pylist() == expected, (trial, name)
        user_ids, ts = columns["user_id"], columns["ts"]
        tied = np.zeros(num_rows, dtype=bool)
        tied[1:] = (user_ids[1:] == user_ids[:-1]) & (ts[1:] == ts[:-1])
        groups = int((tied[1:] & ~tied[:-1]).sum())
        assert stats["equal_timestamp_groups"] == groups, trial
        assert stats["interactions_in_equal_timestamp_groups"] == tied.sum() + groups
