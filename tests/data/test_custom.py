"""The custom dataset: any CSV with a header, or Parquet, with named columns."""

from __future__ import annotations

import datetime as dt
import decimal
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genrec.data.bad_rows import BadRowsError
from genrec.data.preprocess import check_arguments, run_preprocess

from .conftest import decoded_sequences

OPTIONS = {"user_column": "who", "item_column": "what", "timestamp_column": "when"}


def test_custom_csv_reads_named_columns_in_any_order(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "note,when,what,stars,who\n"
        '"a, quoted note",20,x,4.5,u1\n'
        "b,10,y,3,u1\n"
        "c,10,x,1,u2\n"
    )
    run_preprocess(
        "custom", tmp_path / "out", path, options={**OPTIONS, "rating_column": "stars"}
    )
    assert decoded_sequences(tmp_path / "out") == {
        "u1": [("y", 3.0, 10), ("x", 4.5, 20)],
        "u2": [("x", 1.0, 10)],
    }


def test_custom_csv_without_ratings_uses_one(tmp_path):
    path = tmp_path / "events.tsv"
    path.write_text("who;what;when\nu1;x;5\nu1;y;6\n")
    run_preprocess(
        "custom", tmp_path / "out", path, options={**OPTIONS, "delimiter": ";"}
    )
    assert decoded_sequences(tmp_path / "out") == {"u1": [("x", 1.0, 5), ("y", 1.0, 6)]}


def test_custom_csv_missing_column_names_the_header(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("who,what,time\nu1,x,5\n")
    with pytest.raises(ValueError, match=r"line 1: expected columns \['when'\]"):
        run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)


def test_custom_requires_the_column_options(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("who,what,when\nu1,x,5\n")
    with pytest.raises(
        ValueError,
        match=r"timestamp column is required: .*--timestamp_column=NAME.*"
        r"--dataset_option=timestamp_column=NAME",
    ):
        run_preprocess(
            "custom",
            tmp_path / "out",
            path,
            options={"user_column": "who", "item_column": "what"},
        )


def test_custom_parquet_with_timestamp_type_keeps_row_order_on_ties(tmp_path):
    when = [dt.datetime(2020, 1, 1, tzinfo=dt.UTC)] * 3 + [
        dt.datetime(2019, 1, 1, tzinfo=dt.UTC)
    ]
    table = pa.table(
        {
            "who": [7, 7, 7, 8],
            "what": ["c", "a", "b", "a"],
            "when": pa.array(when, pa.timestamp("ms", tz="UTC")),
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    run_preprocess(
        "custom", tmp_path / "out", tmp_path / "events.parquet", options=OPTIONS
    )
    seconds_2020, seconds_2019 = 1_577_836_800, 1_546_300_800
    assert decoded_sequences(tmp_path / "out") == {
        "7": [
            ("c", 1.0, seconds_2020),
            ("a", 1.0, seconds_2020),
            ("b", 1.0, seconds_2020),
        ],
        "8": [("a", 1.0, seconds_2019)],
    }


def test_custom_parquet_sub_second_time_stamps_are_floored_to_seconds(tmp_path):
    # An event log's milliseconds are not malformed: whole seconds, as in every
    # output, with events of one second in file order (1.9 s before 1.2 s).
    table = pa.table(
        {
            "who": ["u", "u", "u", "u"],
            "what": ["a", "b", "c", "d"],
            "when": pa.array([1_900, 1_200, -500, 3_000], pa.timestamp("ms")),
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    stats = run_preprocess(
        "custom", tmp_path / "out", tmp_path / "events.parquet", options=OPTIONS
    )
    assert stats["counts"]["bad_rows"]["count"] == 0
    assert decoded_sequences(tmp_path / "out") == {
        "u": [("c", 1.0, -1), ("a", 1.0, 1), ("b", 1.0, 1), ("d", 1.0, 3)]
    }


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        (
            {"who": ["u", None], "what": ["a", "b"], "when": [1, 2]},
            "row 2: column 'who' (user): expected a non-empty user id, found nothing",
        ),
        (
            {
                "who": ["u", "v"],
                "what": ["a", "b"],
                "when": [1, 2],
                "stars": ["4", "bad"],
            },
            "row 2: column 'stars' (rating): expected a finite number, found 'bad'",
        ),
        (
            {"who": ["u", "v"], "what": ["a", "b"], "when": [1.0, 4.7]},
            "row 2: column 'when' (timestamp): expected an integer timestamp "
            "(epoch seconds), found '4.7'",
        ),
    ],
)
def test_custom_parquet_bad_value_names_row_column_and_expectation(
    tmp_path, columns, reason
):
    pq.write_table(pa.table(columns), tmp_path / "events.parquet")
    options = {**OPTIONS, "rating_column": "stars"} if "stars" in columns else OPTIONS
    with pytest.raises(BadRowsError) as caught:
        run_preprocess(
            "custom", tmp_path / "out", tmp_path / "events.parquet", options=options
        )
    assert str(caught.value) == (
        f"{tmp_path / 'events.parquet'}: {reason}; "
        "fix the file or pass --on_bad_rows=skip"
    )
    assert not (tmp_path / "out").exists()


def test_custom_parquet_missing_column_is_named(tmp_path):
    pq.write_table(pa.table({"who": ["u"], "what": ["a"]}), tmp_path / "e.parquet")
    with pytest.raises(ValueError, match=r"e.parquet: expected columns \['when'\]"):
        run_preprocess(
            "custom", tmp_path / "out", tmp_path / "e.parquet", options=OPTIONS
        )


def test_custom_csv_header_may_start_with_a_byte_order_mark(tmp_path):
    # Spreadsheets write UTF-8 with a BOM; it is not part of the first name.
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbfwho,what,when\nu1,x,5\nu1,y,6\n")
    run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)
    assert decoded_sequences(tmp_path / "out") == {"u1": [("x", 1.0, 5), ("y", 1.0, 6)]}


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"who,what,wh\xe9n\nu1,x,5\n", 1),
        # Within the first few kilobytes, which a text reader decodes at once.
        (b"who,what,when\nu1,caf\xe9,5\nu1,y,6\n", 2),
    ],
)
def test_custom_csv_that_is_not_utf8_names_the_line(tmp_path, content, line):
    path = tmp_path / "latin1.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^{path}: line {line}: expected utf-8 text"):
        run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="for a latin-1 file pass --encoding=latin-1"):
        run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)


def test_custom_csv_in_latin1_reads_with_its_encoding(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"who,what,wh\xe9n\nu1,caf\xe9,5\nu1,y,6\n")
    options = {**OPTIONS, "timestamp_column": "wh\u00e9n", "encoding": "latin-1"}
    run_preprocess("custom", tmp_path / "out", path, options=options)
    assert decoded_sequences(tmp_path / "out") == {
        "u1": [("caf\u00e9", 1.0, 5), ("y", 1.0, 6)]
    }
    with pytest.raises(ValueError, match=r"--encoding=cp1252: expected one of"):
        run_preprocess(
            "custom", tmp_path / "o2", path, options={**options, "encoding": "cp1252"}
        )


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        (",x,5", "field 1 'who' (user): expected a non-empty user id, found nothing"),
        (
            "u3, ,5",
            "field 2 'what' (item): expected a non-empty item id, found nothing",
        ),
    ],
)
def test_custom_csv_ids_are_any_non_empty_text(tmp_path, bad_line, reason):
    path = tmp_path / "events.csv"
    path.write_text(f"who,what,when\nu1,x y,5\nu1,007,6\n{bad_line}\n")
    with pytest.raises(BadRowsError, match=re.escape(f"{path}: line 4: {reason};")):
        run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)
    path.write_text("who,what,when\nu1,x y,5\nu1,007,6\n")
    run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)
    assert decoded_sequences(tmp_path / "out") == {
        "u1": [("x y", 1.0, 5), ("007", 1.0, 6)]
    }


def test_custom_csv_bad_rows_name_the_header_column(tmp_path):
    # The user chose the columns by name, so the message says the name back.
    path = tmp_path / "events.csv"
    path.write_text("when,stars,who,what\n5,4.0,u1,x\n6,great,u1,y\n7.5,3.0,u2,x\n")
    options = {**OPTIONS, "rating_column": "stars"}
    with pytest.raises(BadRowsError) as caught:
        run_preprocess("custom", tmp_path / "out", path, options=options)
    assert [str(row) for row in caught.value.bad_rows] == [
        f"{path}: line 3: field 2 'stars' (rating): expected a finite number, "
        "found 'great'",
        f"{path}: line 4: field 1 'when' (timestamp): expected an integer "
        "timestamp (epoch seconds), found '7.5'",
    ]


@pytest.mark.parametrize(
    ("dataset", "options", "takes"),
    [
        ("custom", {**OPTIONS, "rating_colum": "stars"}, "'rating_column'"),
        ("synthetic", {"num_user": 10}, "'num_users'"),
        ("ml-1m", {"category": "Books"}, "['memory_limit']"),
    ],
)
def test_an_option_the_dataset_would_ignore_is_an_error(
    tmp_path, dataset, options, takes
):
    path = tmp_path / "events.csv"
    path.write_text("who,what,when\nu1,x,5\n")
    with pytest.raises(ValueError, match="unknown dataset option") as caught:
        run_preprocess(dataset, tmp_path / "out", path, options=options)
    assert takes in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_raw_path_may_start_with_a_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "events.csv").write_text("who,what,when\nu1,x,5\n")
    stats = run_preprocess("custom", tmp_path / "out", "~/events.csv", options=OPTIONS)
    assert stats["raw_files"] == [str(tmp_path / "events.csv")]


@pytest.mark.parametrize("delimiter", ["\t", "\\t", "tab"])
def test_custom_tab_delimiter_may_be_spelt_as_typed_in_a_shell(tmp_path, delimiter):
    path = tmp_path / "events.tsv"
    path.write_text("who\twhat\twhen\nu1\tx\t5\nu1\ty\t6\n")
    options = {**OPTIONS, "delimiter": delimiter}
    run_preprocess("custom", tmp_path / "out", path, options=options)
    assert decoded_sequences(tmp_path / "out") == {"u1": [("x", 1.0, 5), ("y", 1.0, 6)]}


@pytest.mark.parametrize(
    ("dataset", "filter_mode", "source"),
    [("ml-100k", None, "the ml-100k preset"), ("amazon-2018", "none", "as given")],
)
def test_min_presence_without_a_filter_is_an_error(
    tmp_path, dataset, filter_mode, source
):
    path = tmp_path / "u.data"
    path.write_text("1\t10\t5\t100\n")
    says = f"min_presence=5 has no effect with filter_mode none ({source})"
    with pytest.raises(ValueError, match=re.escape(says)):
        run_preprocess(
            dataset, tmp_path / "out", path, filter_mode=filter_mode, min_presence=5
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("threads", "memory_limit", "says"),
    [
        (0, "1GB", "--threads=0 / --memory_limit=1GB: DuckDB refused them"),
        (2, "lots", "--threads=2 / --memory_limit=lots: DuckDB refused them"),
        (None, "lots", "--memory_limit=lots: DuckDB refused it"),
        (0, None, "--threads=0: DuckDB refused it"),
        (None, "-5GB", "--memory_limit=-5GB: expected a positive size"),
        (None, " -1", "--memory_limit= -1: expected a positive size"),
    ],
    ids=["threads", "memory", "memory-alone", "threads-alone", "negative", "spaced"],
)
def test_duckdb_settings_it_refuses_name_the_flags(
    tmp_path, threads, memory_limit, says
):
    path = tmp_path / "events.csv"
    path.write_text("who,what,when\nu1,x,5\n")
    options = dict(OPTIONS)
    if memory_limit is not None:
        options["memory_limit"] = memory_limit
    with pytest.raises(ValueError, match="^" + re.escape(says)):
        run_preprocess(
            "custom", tmp_path / "out", path, threads=threads, options=options
        )
    assert not (tmp_path / "out").exists()


def test_a_missing_side_file_is_said(tmp_path, caplog):
    (tmp_path / "u.data").write_text("1\t10\t5\t100\n")
    with caplog.at_level("WARNING"):
        run_preprocess("ml-100k", tmp_path / "out", tmp_path)
    assert "no u.item beside u.data; its features are left out" in caplog.text
    assert "no u.user beside u.data" in caplog.text


@pytest.mark.parametrize(
    ("content", "options", "says"),
    [
        (
            b"who,what,when\ru1,x,5\ru1,y,6\r",
            OPTIONS,
            "line 1: lines end with a lone carriage return",
        ),
        (
            b"who,what,when\nu1,x,5\n",
            {**OPTIONS, "item_column": "who"},
            "--user_column and --item_column both name 'who'",
        ),
        (
            b"who,what,who,when\nu1,x,u2,5\n",
            OPTIONS,
            "line 1: the header names ['who'] more than once",
        ),
        (
            b"who,what,when\nu1,x,5\n",
            {**OPTIONS, "delimiter": ""},
            "--delimiter='': expected 1 to 4 bytes",
        ),
    ],
)
def test_custom_csv_that_cannot_be_read_as_asked_is_refused_at_once(
    tmp_path, content, options, says
):
    path = tmp_path / "events.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(says)):
        run_preprocess("custom", tmp_path / "out", path, options=options)
    assert not (tmp_path / "out").exists()


def test_parquet_is_recognised_by_its_bytes_and_only_where_it_is_read(tmp_path):
    table = pa.table({"who": ["u", "u"], "what": ["a", "b"], "when": [1, 2]})
    path = tmp_path / "events.pq"  # not the usual suffix
    pq.write_table(table, path)
    run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)
    assert decoded_sequences(tmp_path / "out") == {"u": [("a", 1.0, 1), ("b", 1.0, 2)]}
    with pytest.raises(ValueError, match="--delimiter applies to CSV files"):
        run_preprocess(
            "custom", tmp_path / "o2", path, options={**OPTIONS, "delimiter": ";"}
        )
    with pytest.raises(ValueError, match="ml-100k reads its own CSV format"):
        run_preprocess("ml-100k", tmp_path / "o3", path)


def test_parquet_with_a_chosen_column_twice_is_refused(tmp_path):
    table = pa.Table.from_arrays(
        [pa.array(["u"]), pa.array(["v"]), pa.array(["a"]), pa.array([1])],
        names=["who", "who", "what", "when"],
    )
    pq.write_table(table, tmp_path / "e.parquet")
    with pytest.raises(
        ValueError, match=r"more than one column named \['who'\]; expected each"
    ):
        run_preprocess(
            "custom", tmp_path / "out", tmp_path / "e.parquet", options=OPTIONS
        )


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ({"delimiter": ""}, "--delimiter='': expected 1 to 4 bytes"),
        ({"encoding": "cp1252"}, "--encoding=cp1252: expected one of"),
    ],
)
def test_option_values_are_checked_before_any_file_is_read(option, says):
    # As the pipeline does before it starts Prefect.
    with pytest.raises(ValueError, match=re.escape(says)):
        check_arguments("custom", options={**OPTIONS, **option})


def test_a_folder_named_like_a_data_file_is_never_the_ratings_file(tmp_path):
    raw = tmp_path / "raw"
    (raw / "x.csv").mkdir(parents=True)
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"custom: expected exactly one .csv or .parquet file in {raw}; "
            f"{raw / 'x.csv'} is a folder, not a file"
        ),
    ):
        run_preprocess("custom", tmp_path / "out", raw, options=OPTIONS)

    (raw / "events.csv").write_text("who,what,when\nu1,x,5\n")
    run_preprocess("custom", tmp_path / "out", raw, options=OPTIONS)
    assert decoded_sequences(tmp_path / "out") == {"u1": [("x", 1.0, 5)]}


def test_a_folder_of_several_data_files_names_them(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in [
        "b.csv",
        "a.parquet",
        "notes.txt",
        *(f"part{i}.csv" for i in range(5)),
    ]:
        (raw / name).write_text("who,what,when\nu1,x,5\n")
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"custom: expected exactly one .csv or .parquet file in {raw}, found 7 "
            "(a.parquet, b.csv, part0.csv, part1.csv, part2.csv and 2 more): pass "
            "the one to read as --raw_path"
        ),
    ):
        run_preprocess("custom", tmp_path / "out", raw, options=OPTIONS)
    assert not (tmp_path / "out").exists()


def test_a_folder_of_parquet_parts_is_refused_by_name(tmp_path):
    table = tmp_path / "events.parquet"  # as Spark writes a table
    table.mkdir()
    for part in range(2):
        pq.write_table(
            pa.table({"who": ["u"], "what": ["a"], "when": [part]}),
            table / f"part-{part:05d}.snappy.parquet",
        )
    (table / "_SUCCESS").touch()
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"expected exactly one .csv or .parquet file in {table}; it is a folder "
            "of 2 Parquet files (a table written in parts, as Spark does), not one "
            "file: merge them into one"
        ),
    ):
        run_preprocess("custom", tmp_path / "out", table, options=OPTIONS)


def test_a_named_datasets_file_that_is_a_folder_is_said_to_be_one(tmp_path):
    (tmp_path / "ml-100k" / "u.data").mkdir(parents=True)
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"ml-100k: expected u.data in {tmp_path / 'ml-100k'}; "
            f"{tmp_path / 'ml-100k' / 'u.data'} is a folder, not a file"
        ),
    ):
        run_preprocess("ml-100k", tmp_path / "out", tmp_path / "ml-100k")


def test_a_raw_path_that_is_neither_file_nor_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="raw_path /dev/null is not a file or"):
        run_preprocess("custom", tmp_path / "out", "/dev/null", options=OPTIONS)


@pytest.mark.parametrize(
    "ids",
    [
        pa.array([[1], [2]]),
        pa.array([{"a": 1}, {"a": 2}]),
        pa.array([[("a", 1)], [("b", 2)]], pa.map_(pa.string(), pa.int64())),
        pa.array([b"ab", b"\xff"]),
        pa.array([True, False]),
    ],
    ids=["list", "struct", "map", "binary", "bool"],
)
@pytest.mark.parametrize("role", ["user", "item"])
def test_parquet_ids_that_are_not_text_or_numbers_are_refused(tmp_path, ids, role):
    columns = {"who": ["u1", "u2"], "what": ["a", "b"], "when": [1, 2]}
    column = OPTIONS[f"{role}_column"]
    columns[column] = ids
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table(columns), path)
    as_stored = pq.read_schema(path).field(column).type
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{path}: column {column!r} ({role} id) has type {as_stored}; "
            "expected string or integer ids (float and decimal ids are read as "
            "their text, e.g. 1.0 as '1.0')"
        ),
    ):
        run_preprocess("custom", tmp_path / "out", path, options=OPTIONS)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("items", "texts"),
    [
        (pa.array([1.0, 2.5]), ["1.0", "2.5"]),
        (
            pa.array([decimal.Decimal("1.5"), decimal.Decimal(2)], pa.decimal128(9, 2)),
            ["1.50", "2.00"],
        ),
        (pa.array([2**64 - 1, 5], pa.uint64()), ["18446744073709551615", "5"]),
        (pa.array(["x", "y"]).dictionary_encode(), ["x", "y"]),  # pandas categorical
    ],
    ids=["float", "decimal", "uint64", "dictionary"],
)
def test_parquet_ids_may_be_text_or_numbers_and_are_kept_as_text(
    tmp_path, items, texts
):
    table = pa.table({"who": ["u1", "u1"], "what": items, "when": [1, 2]})
    pq.write_table(table, tmp_path / "e.parquet")
    run_preprocess("custom", tmp_path / "out", tmp_path / "e.parquet", options=OPTIONS)
    assert decoded_sequences(tmp_path / "out") == {
        "u1": [(texts[0], 1.0, 1), (texts[1], 1.0, 2)]
    }
