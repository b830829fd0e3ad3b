from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from genrec.tracking.fingerprint import content_fingerprint, dataset_digest


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_same_bytes_elsewhere_hash_the_same(tmp_path):
    sql = [_write(tmp_path / "sql" / "01_load.sql", "select 1")]
    first = _write(tmp_path / "a" / "ratings.csv", "1,2,5,100\n")
    second = _write(tmp_path / "b" / "ratings.csv", "1,2,5,100\n")

    assert content_fingerprint([first], sql, {"dataset": "x"}) == content_fingerprint(
        [second], sql, {"dataset": "x"}
    )


def test_one_changed_byte_sql_step_or_parameter_changes_the_hash(tmp_path):
    sql = [_write(tmp_path / "sql" / "01_load.sql", "select 1")]
    raw = _write(tmp_path / "ratings.csv", "1,2,5,100\n")
    base = content_fingerprint([raw], sql, {"dataset": "x", "min_presence": 5})

    _write(raw, "1,2,4,100\n")
    edited_raw = content_fingerprint([raw], sql, {"dataset": "x", "min_presence": 5})
    _write(raw, "1,2,5,100\n")
    _write(sql[0], "select 2")
    edited_sql = content_fingerprint([raw], sql, {"dataset": "x", "min_presence": 5})
    _write(sql[0], "select 1")
    other_parameter = content_fingerprint(
        [raw], sql, {"dataset": "x", "min_presence": 4}
    )

    assert len({base, edited_raw, edited_sql, other_parameter}) == 4
    assert content_fingerprint([raw], sql, {"dataset": "x", "min_presence": 5}) == base


def test_data_layer_code_and_its_version_are_part_of_the_hash(tmp_path):
    sql = [_write(tmp_path / "sql" / "01_load.sql", "select 1")]
    raw = _write(tmp_path / "ratings.csv", "1,2,5,100\n")
    module = _write(tmp_path / "data" / "preprocess.py", "STEPS = 1\n")
    other = _write(tmp_path / "data" / "output.py", "MARKER = 'stats.json'\n")

    def fingerprint(code_files, version="0.1.0"):
        return content_fingerprint(
            [raw], sql, {"dataset": "x"}, code_files=code_files, code_version=version
        )

    base = fingerprint([module, other])
    same_in_other_order = fingerprint([other, module])
    other_version = fingerprint([module, other], version="0.2.0")
    _write(module, "STEPS = 2\n")
    edited = fingerprint([module, other])

    assert same_in_other_order == base
    assert len({base, other_version, edited}) == 3


def _write_dataset(folder: Path, histories: list[list[int]]) -> Path:
    folder.mkdir(parents=True)
    sequences = pa.table(
        {
            "user_id": pa.array(range(1, len(histories) + 1), pa.int32()),
            "item_ids": pa.array(histories, pa.list_(pa.int32())),
        }
    )
    pq.write_table(sequences, folder / "sequences.parquet")
    items = pa.table({"item_id": pa.array([1, 2, 3], pa.int32())})
    pq.write_table(items, folder / "items.parquet")
    (folder / "stats.json").write_text(f'{{"where": "{folder}"}}')
    return folder


def test_dataset_digest_follows_the_data_not_the_folder(tmp_path):
    first = _write_dataset(tmp_path / "a", [[1, 2], [3]])
    same = _write_dataset(tmp_path / "b", [[1, 2], [3]])
    reordered = _write_dataset(tmp_path / "c", [[2, 1], [3]])

    assert dataset_digest(first) == dataset_digest(same)
    assert dataset_digest(first) != dataset_digest(reordered)
