"""User histories from the data layer's `sequences.parquet`, held as flat arrays.

Each user's item ids, ratings and timestamps are stored once, concatenated in user
order, with `offsets` marking where each user starts (the jagged layout the encoders
consume). Lists are read through pyarrow's list offsets, never parsed from strings.

Legend: U users in the file, I interactions in all lists together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SEQUENCES_FILE = "sequences.parquet"
ITEMS_FILE = "items.parquet"


@dataclass(frozen=True)
class SequenceTable:
    """Every user's chronological history as flat arrays plus offsets.

    Attributes:
        user_ids: (U,) int64 dense user ids, in file order.
        offsets: (U + 1,) int64; user u owns positions offsets[u]:offsets[u + 1].
        item_ids: (I,) int32 item ids 1..num_items.
        ratings: (I,) float32, or None when the file has no ratings column.
        timestamps: (I,) int64 epoch seconds (UTC).
        num_items: size of the item catalogue; ids run 1..num_items.
    """

    user_ids: np.ndarray
    offsets: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray | None
    timestamps: np.ndarray
    num_items: int

    @property
    def lengths(self) -> np.ndarray:
        """(U,) int64 number of interactions of each user."""
        return np.diff(self.offsets)

    @property
    def num_users(self) -> int:
        return len(self.user_ids)


def read_sequences(data_dir: str | Path) -> SequenceTable:
    """Load `sequences.parquet` (and the catalogue size) from a preprocessed folder.

    Raises:
        FileNotFoundError: when the folder holds no `sequences.parquet`.
        ValueError: naming the file, column and row when the schema or the lists
            do not follow the data contract.
    """
    path = Path(data_dir) / SEQUENCES_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: not found; run `genrec preprocess --out {data_dir}` first"
        )
    columns = ["user_id", "item_ids", "timestamps"]
    schema_names = pq.read_schema(path).names
    has_ratings = "ratings" in schema_names
    missing = [name for name in columns if name not in schema_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {schema_names}")
    table = pq.read_table(path, columns=columns + (["ratings"] if has_ratings else []))

    lengths = _list_lengths(table, "item_ids", path)
    item_ids = _list_values(table, "item_ids", pa.int32(), lengths, path)
    timestamps = _list_values(table, "timestamps", pa.int64(), lengths, path)
    ratings = None
    if has_ratings:
        ratings = _list_values(table, "ratings", pa.float32(), lengths, path)
    user_ids = _plain_column(table, "user_id", path).astype(np.int64)

    if len(item_ids) and item_ids.min() < 1:
        row = _row_of(np.flatnonzero(item_ids < 1)[0], lengths)
        raise ValueError(
            f"{path}: row {row}, column item_ids: expected ids >= 1 "
            "(0 is padding and must not appear in lists)"
        )
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    max_item = int(item_ids.max()) if len(item_ids) else 0
    return SequenceTable(
        user_ids=user_ids,
        offsets=offsets,
        item_ids=item_ids,
        ratings=ratings,
        timestamps=timestamps,
        num_items=_catalogue_size(Path(data_dir), max_item),
    )


def read_num_items(data_dir: str | Path) -> int:
    """The catalogue size of a preprocessed folder, without loading the histories."""
    data_dir = Path(data_dir)
    if (data_dir / ITEMS_FILE).is_file():
        return _catalogue_size(data_dir, 0)
    return read_sequences(data_dir).num_items


def _catalogue_size(data_dir: Path, max_item_in_sequences: int) -> int:
    """Return the number of items: the largest id in `items.parquet` when present."""
    items_path = data_dir / ITEMS_FILE
    if not items_path.is_file():
        return max_item_in_sequences
    item_ids = pq.read_table(items_path, columns=["item_id"]).column("item_id")
    num_items = int(pc.max(item_ids).as_py() or 0)
    if num_items < max_item_in_sequences:
        raise ValueError(
            f"{items_path}: largest item_id is {num_items} but sequences use "
            f"{max_item_in_sequences}; the two files come from different runs"
        )
    return num_items


def _plain_column(table: pa.Table, name: str, path: Path) -> np.ndarray:
    column = table.column(name)
    if column.null_count:
        raise ValueError(f"{path}: column {name} holds {column.null_count} null(s)")
    return column.to_numpy()


def _list_lengths(table: pa.Table, name: str, path: Path) -> np.ndarray:
    column = table.column(name)
    if not pa.types.is_list(column.type) and not pa.types.is_large_list(column.type):
        raise ValueError(f"{path}: column {name} has type {column.type}; expected list")
    if column.null_count:
        row = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]
        raise ValueError(f"{path}: row {row}, column {name}: expected a list, got null")
    return pc.list_value_length(column).to_numpy().astype(np.int64)


def _list_values(
    table: pa.Table, name: str, value_type: pa.DataType, lengths: np.ndarray, path: Path
) -> np.ndarray:
    """Flatten one list column, checking that its lists line up with item_ids."""
    own_lengths = _list_lengths(table, name, path)
    mismatched = np.flatnonzero(own_lengths != lengths)
    if len(mismatched):
        row = int(mismatched[0])
        raise ValueError(
            f"{path}: row {row}, column {name}: {own_lengths[row]} values, expected "
            f"{lengths[row]} (one per item in item_ids)"
        )
    values = pc.list_flatten(table.column(name))
    if values.null_count:
        raise ValueError(f"{path}: column {name}: lists hold null values")
    if not pa.types.is_integer(values.type) and not pa.types.is_floating(values.type):
        raise ValueError(
            f"{path}: column {name}: values are {values.type}; expected {value_type}"
        )
    return values.cast(value_type).to_numpy()


def _row_of(position: int, lengths: np.ndarray) -> int:
    """Return the row whose list holds flat `position`."""
    return int(np.searchsorted(np.cumsum(lengths), position, side="right"))
