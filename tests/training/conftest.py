"""Fixtures: small preprocessed folders written in the data layer's format."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

HistoryWriter = Callable[..., Path]


REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "cpu" / "tiny.gin"


def write_sequences(
    folder: Path,
    histories: Sequence[Sequence[int]],
    *,
    num_items: int | None = None,
    ratings: bool = True,
) -> Path:
    """Write `sequences.parquet` (+ `items.parquet`) as the data layer does.

    Timestamps are 1000 * item id + position and ratings item id / 10, so tests can
    check that every column was gathered at the same positions.
    """
    folder.mkdir(parents=True, exist_ok=True)
    columns = {
        "user_id": pa.array(range(1, len(histories) + 1), pa.int32()),
        "item_ids": pa.array([list(h) for h in histories], pa.list_(pa.int32())),
        "timestamps": pa.array(
            [[1000 * item + i for i, item in enumerate(h)] for h in histories],
            pa.list_(pa.int64()),
        ),
    }
    if ratings:
        columns["ratings"] = pa.array(
            [[item / 10 for item in h] for h in histories], pa.list_(pa.float32())
        )
    pq.write_table(pa.table(columns), folder / "sequences.parquet")
    largest = max((max(h) for h in histories if h), default=0)
    num_items = largest if num_items is None else num_items
    items = pa.table(
        {
            "item_id": pa.array(range(1, num_items + 1), pa.int32()),
            "original_id": pa.array([str(i) for i in range(1, num_items + 1)]),
        }
    )
    pq.write_table(items, folder / "items.parquet")
    return folder


def planted_histories(
    num_users: int = 240, num_items: int = 60, seed: int = 0
) -> list[list[int]]:
    """Histories that follow a fixed item-to-item chain from random starts.

    The next item is a deterministic function of the current one, so a sequence
    model can learn it in a few steps while popularity cannot.
    """
    rng = np.random.default_rng(seed)
    histories = []
    for length in rng.integers(6, 30, size=num_users):
        item = int(rng.integers(1, num_items + 1))
        history = []
        for _ in range(length):
            history.append(item)
            item = (item * 7 + 3) % num_items + 1
        histories.append(history)
    return histories


@pytest.fixture
def planted_folder(tmp_path: Path) -> Path:
    """A preprocessed folder of `planted_histories()`."""
    return write_sequences(tmp_path / "planted", planted_histories(), num_items=60)


@pytest.fixture
def history_folder(tmp_path: Path) -> HistoryWriter:
    """Call with histories (lists of item ids) to get a preprocessed folder."""
    counter = iter(range(1_000_000))

    def write(histories: Sequence[Sequence[int]], **kwargs: object) -> Path:
        return write_sequences(tmp_path / f"data{next(counter)}", histories, **kwargs)

    return write
