from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genrec.training.sequences import read_num_items, read_sequences


def test_lists_are_read_flat_with_offsets(history_folder):
    folder = history_folder([[3, 1, 2], [], [5]], num_items=7)
    table = read_sequences(folder)
    assert table.offsets.tolist() == [0, 3, 3, 4]
    assert table.item_ids.tolist() == [3, 1, 2, 5]
    assert table.timestamps.tolist() == [3000, 1001, 2002, 5000]
    assert np.allclose(table.ratings, [0.3, 0.1, 0.2, 0.5])
    assert table.user_ids.tolist() == [1, 2, 3]
    assert table.num_items == 7 == read_num_items(folder)


def test_lists_of_unequal_length_name_file_row_and_column(tmp_path: Path):
    pq.write_table(
        pa.table(
            {
                "user_id": pa.array([1, 2], pa.int32()),
                "item_ids": pa.array([[1, 2], [3]], pa.list_(pa.int32())),
                "timestamps": pa.array([[1, 2], [3, 4]], pa.list_(pa.int64())),
            }
        ),
        tmp_path / "sequences.parquet",
    )
    with pytest.raises(
        ValueError, match=r"sequences.parquet: row 1, column timestamps"
    ):
        read_sequences(tmp_path)


def test_padding_id_inside_a_list_is_rejected(history_folder):
    folder = history_folder([[1, 2], [2, 0, 1]])
    with pytest.raises(ValueError, match=r"row 1, column item_ids: expected ids >= 1"):
        read_sequences(folder)


def test_missing_folder_says_how_to_create_it(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="genrec preprocess"):
        read_sequences(tmp_path)


def test_missing_ratings_column_is_allowed(history_folder):
    table = read_sequences(history_folder([[1, 2]], ratings=False))
    assert table.ratings is None
