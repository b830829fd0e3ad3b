"""Presence filter modes, de-duplication and id order on small written files."""

from __future__ import annotations

from collections import Counter

import pyarrow.parquet as pq
import pytest

from genrec.data.preprocess import run_preprocess
from genrec.data.synthetic import write_synthetic_ratings

from .conftest import decoded_sequences, read_rows, reference_sequences

AMAZON_2018 = ("item", "user", "rating", "ts")


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("raw") / "synthetic.csv"
    return write_synthetic_ratings(path, num_users=600, num_items=400, mean_length=8)


def test_k_core_output_is_a_fixed_point(synthetic_csv, tmp_path):
    run_preprocess(
        "amazon-2018",
        tmp_path / "out",
        synthetic_csv,
        filter_mode="k_core",
        min_presence=5,
    )
    sequences = decoded_sequences(tmp_path / "out")
    item_counts = Counter(
        item for events in sequences.values() for item, _, _ in events
    )
    assert min(len(events) for events in sequences.values()) >= 5
    assert min(item_counts.values()) >= 5


@pytest.mark.parametrize("mode", ["none", "single_pass", "k_core"])
def test_filter_modes_match_plain_reference(synthetic_csv, tmp_path, mode):
    run_preprocess("amazon-2018", tmp_path / "out", synthetic_csv, filter_mode=mode)
    rows = read_rows(synthetic_csv, AMAZON_2018, ",", header=False)
    assert decoded_sequences(tmp_path / "out") == reference_sequences(rows, mode, 5)


def test_single_pass_keeps_items_that_k_core_drops(synthetic_csv, tmp_path):
    single = run_preprocess(
        "amazon-2018", tmp_path / "a", synthetic_csv, filter_mode="single_pass"
    )
    core = run_preprocess(
        "amazon-2018", tmp_path / "b", synthetic_csv, filter_mode="k_core"
    )
    assert core["num_interactions"] < single["num_interactions"]
    assert len(single["counts"]["filter_passes"]) == 2


def test_dedup_keeps_earliest_and_first_in_file_on_ties(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(
        "i1,u1,1.0,300\n"
        "i1,u1,2.0,100\n"  # earliest: kept
        "i2,u1,3.0,200\n"
        "i2,u1,4.0,200\n"  # same time as the row above, later in the file: dropped
        "i1,u2,5.0,50\n"
    )
    stats = run_preprocess(
        "amazon-2018", tmp_path / "out", path, filter_mode="none", dedup=True
    )
    assert stats["counts"]["deduplicated"]["interactions"] == 3
    assert decoded_sequences(tmp_path / "out") == {
        "u1": [("i1", 2.0, 100), ("i2", 3.0, 200)],
        "u2": [("i1", 5.0, 50)],
    }


def test_ids_follow_numeric_order_when_all_integers(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("10,9,1.0,1\n9,10,1.0,2\n100,2,1.0,3\n")
    run_preprocess("amazon-2014", tmp_path / "out", path, filter_mode="none")
    users = pq.read_table(tmp_path / "out" / "users.parquet").to_pydict()
    items = pq.read_table(tmp_path / "out" / "items.parquet").to_pydict()
    assert users["original_id"] == ["9", "10", "100"]
    assert items["original_id"] == ["2", "9", "10"]


def test_ids_equal_as_numbers_are_ordered_as_text(tmp_path):
    # amazon-2014 reads any id as text: '07' and '7' are two users, '-0' and '0'
    # too, all of them integers, so the numeric order holds and text breaks ties.
    path = tmp_path / "ratings.csv"
    path.write_text("7,a,1.0,1\n10,a,1.0,2\n07,a,1.0,3\n0,a,1.0,4\n-0,a,1.0,5\n")
    run_preprocess("amazon-2014", tmp_path / "out", path, filter_mode="none")
    users = pq.read_table(tmp_path / "out" / "users.parquet").to_pydict()
    assert users["original_id"] == ["-0", "0", "07", "7", "10"]
    assert users["user_id"] == [1, 2, 3, 4, 5]


def test_items_left_numeric_by_the_filter_follow_numeric_order(tmp_path):
    # X is frequent (two users) but single_pass drops both of its users: the items
    # left are all integers, so they are numbered by value, not as text.
    path = tmp_path / "ratings.csv"
    rows = ["a,1,1", "a,2,2", "a,10,3", "b,1,4", "b,2,5", "b,10,6"]
    rows += ["c,X,7", "c,rc,8", "d,X,9", "d,rd,10"]
    path.write_text("user,item,ts\n" + "\n".join(rows) + "\n")
    options = {"user_column": "user", "item_column": "item", "timestamp_column": "ts"}
    run_preprocess(
        "custom",
        tmp_path / "out",
        path,
        filter_mode="single_pass",
        min_presence=2,
        options=options,
    )
    items = pq.read_table(tmp_path / "out" / "items.parquet").to_pydict()
    assert items == {"item_id": [1, 2, 3], "original_id": ["1", "2", "10"]}
    sequences = pq.read_table(tmp_path / "out" / "sequences.parquet")
    assert sequences["item_ids"].to_pylist() == [[1, 2, 3], [1, 2, 3]]


def test_ids_follow_lexicographic_order_when_any_is_not_an_integer(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("10,a,1.0,1\n9,b,1.0,2\nx1,c,1.0,3\n")
    run_preprocess("amazon-2014", tmp_path / "out", path, filter_mode="none")
    users = pq.read_table(tmp_path / "out" / "users.parquet").to_pydict()
    assert users["original_id"] == ["10", "9", "x1"]
    assert users["user_id"] == [1, 2, 3]


def test_output_types_match_the_contract(synthetic_csv, tmp_path):
    run_preprocess("amazon-2018", tmp_path / "out", synthetic_csv)
    schema = pq.read_schema(tmp_path / "out" / "sequences.parquet")
    assert str(schema.field("user_id").type) == "int32"
    assert str(schema.field("item_ids").type) == "list<element: int32>"
    assert str(schema.field("ratings").type) == "list<element: float>"
    assert str(schema.field("timestamps").type) == "list<element: int64>"


@pytest.mark.parametrize("odd_id", ["1.5", "1e3", "0x10", "1_000", "+7"])
def test_ids_that_only_a_lenient_cast_reads_as_numbers_sort_as_strings(
    tmp_path, odd_id
):
    path = tmp_path / "ratings.csv"
    path.write_text(f"10,a,1.0,1\n9,b,1.0,2\n{odd_id},c,1.0,3\n")
    run_preprocess("amazon-2014", tmp_path / "out", path, filter_mode="none")
    users = pq.read_table(tmp_path / "out" / "users.parquet").to_pydict()
    assert users["original_id"] == sorted(["10", "9", odd_id])
    assert users["user_id"] == [1, 2, 3]


def test_negative_and_zero_padded_ids_are_integers(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("10,a,1.0,1\n-2,b,1.0,2\n007,c,1.0,3\n")
    run_preprocess("amazon-2014", tmp_path / "out", path, filter_mode="none")
    users = pq.read_table(tmp_path / "out" / "users.parquet").to_pydict()
    assert users["original_id"] == ["-2", "007", "10"]
