"""Malformed rows: exact file lines in errors, counts when skipped, nothing partial."""

from __future__ import annotations

import json
import math
import re

import pyarrow.parquet as pq
import pytest

from genrec.data.bad_rows import BadRowsError
from genrec.data.preprocess import EmptyDataError, run_preprocess

HEADER = "userId,movieId,rating,timestamp"
GOOD = ["1,10,4.0,100", "1,11,3.5,101", "2,10,5.0,102", "2,12,1.0,103"]
# The same file read as a custom source, whose ids are any non-empty strings.
STRING_IDS = {
    "user_column": "userId",
    "item_column": "movieId",
    "rating_column": "rating",
    "timestamp_column": "timestamp",
}


def _write(path, lines, newline="\n"):
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("3,13,4.0", "expected 4 fields separated by ',', found 3"),
        ("3,13,4.0,100,extra", "expected 4 fields separated by ',', found 5"),
        ("3,13,great,100", "field 3 (rating): expected a finite number, found 'great'"),
        ("3,13,nan,100", "field 3 (rating): expected a finite number, found 'nan'"),
        ("3,13,-inf,100", "field 3 (rating): expected a finite number, found '-inf'"),
        ("3,13,,100", "field 3 (rating): expected a finite number, found nothing"),
        (
            "3,13,4.0,yesterday",
            "field 4 (timestamp): expected an integer timestamp (epoch seconds), "
            "found 'yesterday'",
        ),
        (
            "3,13,4.0,4.7",
            "field 4 (timestamp): expected an integer timestamp (epoch seconds), "
            "found '4.7'",
        ),
        (
            "3,13,4.0,inf",
            "field 4 (timestamp): expected an integer timestamp (epoch seconds), "
            "found 'inf'",
        ),
        # MovieLens ids are integers, written plainly.
        (",13,4.0,100", "field 1 (user): expected an integer user id, found nothing"),
        ("3,abc,4.0,100", "field 2 (item): expected an integer item id, found 'abc'"),
        ("3,1.5,4.0,100", "field 2 (item): expected an integer item id, found '1.5'"),
        ("3, 13,4.0,100", "field 2 (item): expected an integer item id, found ' 13'"),
        ("3,1e3,4.0,100", "field 2 (item): expected an integer item id, found '1e3'"),
        # Integers out of range: ts is exact as a DOUBLE below 2^53, ids are BIGINT.
        (
            "3,13,4.0,-9223372036854775808",
            "field 4 (timestamp): expected an integer timestamp (epoch seconds) "
            "below 9,007,199,254,740,992 in magnitude, found '-9223372036854775808'",
        ),
        (
            "3,13,4.0,1e16",  # a DOUBLE's spelling, as DuckDB reads it
            "field 4 (timestamp): expected an integer timestamp (epoch seconds) "
            "below 9,007,199,254,740,992 in magnitude, found '1e16'",
        ),
        (
            "3,13,4.0,9007199254740993",  # would read as 2^53
            "field 4 (timestamp): expected an integer timestamp (epoch seconds) "
            "below 9,007,199,254,740,992 in magnitude, found '9007199254740993'",
        ),
        (
            "3,99999999999999999999,4.0,100",
            "field 2 (item): expected an integer item id within the signed 64-bit "
            "range, found '99999999999999999999'",
        ),
    ],
)
def test_error_names_file_exact_line_and_expectation(
    tmp_path, newline, bad_line, reason
):
    # Header is line 1, GOOD rows lines 2-5, a blank line 6, the bad row line 7.
    path = _write(
        tmp_path / "ratings.csv", [HEADER, *GOOD, "", bad_line, "4,10,2.0,9"], newline
    )
    with pytest.raises(BadRowsError) as caught:
        run_preprocess("ml-latest-small", tmp_path / "out", path)
    assert str(caught.value) == (
        f"{path}: line 7: {reason}; fix the file or pass --on_bad_rows=skip"
    )
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ratings.csv"]


@pytest.mark.parametrize("bad_line", ["9,19,4.0", "9,19,4.0,4.5"])
def test_lines_after_a_multi_line_quoted_field_are_exact(tmp_path, bad_line):
    # Lines 2-4 hold one record whose quoted id spans three lines; the bad row
    # (rejected by DuckDB, or loaded and flagged) is physical line 6.
    lines = [HEADER, '"multi', "line", 'user",10,4.0,100', GOOD[0], bad_line]
    path = _write(tmp_path / "ratings.csv", lines)
    with pytest.raises(BadRowsError, match=f"^{path}: line 6: "):
        run_preprocess("custom", tmp_path / "out", path, options=STRING_IDS)


@pytest.mark.parametrize("policy", ["error", "skip"])
def test_a_quote_that_never_closes_stops_the_run_under_either_policy(tmp_path, policy):
    # DuckDB reads every line after line 3 into the open field: skipping that
    # "one" bad line would silently drop the rest of the file.
    lines = [HEADER, GOOD[0], '1,"20,3.0,2', *GOOD[1:], *GOOD * 50]
    path = _write(tmp_path / "ratings.csv", lines)
    with pytest.raises(ValueError, match=f"^{path}: line 3: field 2 'movieId' opens"):
        run_preprocess(
            "custom", tmp_path / "out", path, on_bad_rows=policy, options=STRING_IDS
        )
    assert not (tmp_path / "out").exists()


def test_text_after_a_closing_quote_is_one_bad_row(tmp_path):
    lines = [HEADER, GOOD[0], '1,"20"x,3.0,2', *GOOD[1:]]
    path = _write(tmp_path / "ratings.csv", lines)
    with pytest.raises(BadRowsError) as caught:
        run_preprocess("custom", tmp_path / "out", path, options=STRING_IDS)
    assert str(caught.value).startswith(
        f"{path}: line 3: field 2 'movieId': expected the delimiter ',' right after "
        'a closing quote (")'
    )
    stats = run_preprocess(
        "custom", tmp_path / "out", path, on_bad_rows="skip", options=STRING_IDS
    )
    assert (stats["num_interactions"], stats["counts"]["bad_rows"]["count"]) == (4, 1)


@pytest.mark.parametrize("chunk_bytes", [3, 1 << 24])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_lone_carriage_return_inside_the_file_names_its_line(
    tmp_path, monkeypatch, chunk_bytes, newline
):
    # DuckDB's parser stops at it without a line; small chunks split \r\n pairs.
    monkeypatch.setattr("genrec.data.bad_rows.READ_CHUNK_BYTES", chunk_bytes)
    lines = [HEADER, *GOOD[:2], "3,13,4.0,104\rX", GOOD[3]]
    path = _write(tmp_path / "ratings.csv", lines, newline)
    with pytest.raises(ValueError, match=f"^{path}: line 4: a lone carriage return"):
        run_preprocess(
            "custom", tmp_path / "out", path, on_bad_rows="skip", options=STRING_IDS
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("chunk_bytes", [3, 1 << 24])
@pytest.mark.parametrize(
    ("data", "line", "found", "usual"),
    [
        # A Windows file with a blank line appended by a Unix tool.
        ([HEADER, *GOOD], 6, "\\n", "\\r\\n"),
        ([HEADER, GOOD[0], GOOD[1] + "\r", *GOOD[2:]], 3, "\\r\\n", "\\n"),
    ],
)
def test_mixed_line_endings_name_the_first_odd_line(
    tmp_path, monkeypatch, chunk_bytes, data, line, found, usual
):
    # DuckDB's parser stops, naming no line; small chunks split \r\n pairs.
    monkeypatch.setattr("genrec.data.bad_rows.READ_CHUNK_BYTES", chunk_bytes)
    path = tmp_path / "ratings.csv"
    if usual == "\\r\\n":
        path.write_bytes(("\r\n".join(data) + "\r\n\n").encode())
    else:
        _write(path, data)
    with pytest.raises(ValueError) as caught:
        run_preprocess(
            "custom", tmp_path / "out", path, on_bad_rows="skip", options=STRING_IDS
        )
    assert str(caught.value).startswith(
        f"{path}: line {line}: ends with {found} where line 1 ends with {usual}; "
        "expected one kind of line ending"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("newline", "quoted", "odd", "says"),
    [
        ("\r\n", "multi\nline", GOOD[2] + "\n", "ends with \\n where line 1"),
        ("\n", "a\rb", GOOD[2] + "\r\n", "ends with \\r\\n where line 1"),
        ("\n", "a\rb", "3,13\r,4.0,104\n", "a lone carriage return"),
    ],
)
def test_line_endings_inside_a_quoted_value_are_part_of_it(
    tmp_path, newline, quoted, odd, says
):
    # DuckDB reads a \n or \r inside quotes as text; the odd line comes later.
    lines = [HEADER, GOOD[0], f'1,"{quoted}",4.0,5', GOOD[1]]
    data = "".join(line + newline for line in lines) + odd + GOOD[3] + newline
    path = tmp_path / "ratings.csv"
    path.write_bytes(data.encode())
    odd_line = 5 + quoted.count("\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line {odd_line}: {says}")):
        run_preprocess("custom", tmp_path / "out", path, options=STRING_IDS)
    path.write_bytes(data.replace(odd, GOOD[2] + newline).encode())
    stats = run_preprocess("custom", tmp_path / "out", path, options=STRING_IDS)
    assert stats["num_interactions"] == 5


@pytest.mark.parametrize("chunk_bytes", [5, 1 << 24])
def test_lines_of_a_latin1_file_are_counted_in_its_own_bytes(
    tmp_path, monkeypatch, chunk_bytes
):
    # DuckDB places rejects by their offset in the text re-encoded as UTF-8, one
    # byte later per accented letter before them.
    monkeypatch.setattr("genrec.data.bad_rows.READ_CHUNK_BYTES", chunk_bytes)
    accented = [f"Jos\xe9{n},caf\xe9 cr\xe8me,4.0,{n}" for n in range(60)]
    lines = [HEADER, *accented, "bad,row", *accented[:3], "u,i,4.0,3.5", GOOD[0]]
    path = tmp_path / "ratings.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    options = {**STRING_IDS, "encoding": "latin-1"}
    with pytest.raises(BadRowsError) as caught:
        run_preprocess("custom", tmp_path / "out", path, options=options)
    assert [str(row) for row in caught.value.bad_rows] == [
        f"{path}: line 62: expected 4 fields separated by ',', found 2",
        f"{path}: line 66: field 4 'timestamp' (timestamp): expected an integer "
        "timestamp (epoch seconds), found '3.5'",
    ]
    stats = run_preprocess(
        "custom", tmp_path / "out", path, on_bad_rows="skip", options=options
    )
    assert (stats["num_interactions"], stats["counts"]["bad_rows"]["count"]) == (64, 2)


@pytest.mark.parametrize("stray", ['a"b', 'a"b""c', 'ab"'])
def test_a_quote_inside_an_unquoted_field_is_text_and_keeps_lines_exact(
    tmp_path, stray
):
    # A quote opens a quoted field only as its first character.
    lines = [HEADER, f"1,{stray},4.0,1", '1,"q,""x""",4.0,2', GOOD[2], "2,12,,5"]
    path = _write(tmp_path / "ratings.csv", [*lines, GOOD[3]])
    with pytest.raises(BadRowsError) as caught:
        run_preprocess("custom", tmp_path / "out", path, options=STRING_IDS)
    assert str(caught.value).startswith(
        f"{path}: line 5: field 3 'rating' (rating): expected a finite number, "
        "found nothing;"
    )
    stats = run_preprocess(
        "custom", tmp_path / "out", path, on_bad_rows="skip", options=STRING_IDS
    )
    assert stats["num_interactions"] == 4
    items = pq.read_table(tmp_path / "out" / "items.parquet")["original_id"]
    assert {stray, 'q,"x"'} <= set(items.to_pylist())


def test_a_line_beyond_duckdbs_maximum_is_one_bad_row(tmp_path):
    lines = [HEADER, *GOOD, f"3,{'x' * 2_100_000},4.0,104"]
    path = _write(tmp_path / "ratings.csv", lines)
    with pytest.raises(BadRowsError, match=f"^{path}: line 6: expected a line shorter"):
        run_preprocess("custom", tmp_path / "out", path, options=STRING_IDS)
    stats = run_preprocess(
        "custom", tmp_path / "out", path, on_bad_rows="skip", options=STRING_IDS
    )
    assert (stats["num_interactions"], stats["counts"]["bad_rows"]["count"]) == (4, 1)


def test_a_long_value_is_shortened_in_the_message(tmp_path):
    path = _write(tmp_path / "ratings.csv", [HEADER, *GOOD, f"3,13,{'9x' * 5000},1"])
    with pytest.raises(BadRowsError) as caught:
        run_preprocess("ml-latest-small", tmp_path / "out", path)
    assert "... (10,000 characters)" in str(caught.value)
    assert len(str(caught.value)) < 300


def test_non_finite_and_fractional_values_are_never_loaded(tmp_path):
    lines = [HEADER, *GOOD, "3,13,nan,104", "3,14,inf,105", "3,15,4.0,105.5"]
    path = _write(tmp_path / "ratings.csv", lines)
    stats = run_preprocess(
        "ml-latest-small", tmp_path / "out", path, on_bad_rows="skip"
    )
    assert stats["counts"]["bad_rows"]["count"] == 3
    assert stats["num_interactions"] == 4
    ratings = pq.read_table(tmp_path / "out" / "sequences.parquet")["ratings"]
    assert all(math.isfinite(value) for value in ratings.combine_chunks().flatten())


def test_skip_drops_and_counts_bad_rows(tmp_path):
    lines = [HEADER, GOOD[0], "x,y", GOOD[1], "5,6,bad,7", GOOD[2], ",1,1,1", GOOD[3]]
    path = _write(tmp_path / "ratings.csv", lines)
    stats = run_preprocess(
        "ml-latest-small", tmp_path / "out", path, on_bad_rows="skip"
    )
    assert stats["num_interactions"] == 4
    assert stats["counts"]["bad_rows"]["count"] == 3
    assert [row.split(": ")[1] for row in stats["counts"]["bad_rows"]["examples"]] == [
        "line 3",
        "line 5",
        "line 7",
    ]
    written = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert written["counts"]["bad_rows"]["count"] == 3


def test_empty_input_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "ratings.csv", [HEADER])
    with pytest.raises(EmptyDataError, match="no interactions"):
        run_preprocess("ml-latest-small", tmp_path / "out", path)


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (
            ["1,10,four,100"],
            "its only row is bad and was skipped (--on_bad_rows=skip); it",
        ),
        (
            ["1,10,four,100", "x,y", "1,10,4.0,1.5"],
            "all 3 rows are bad and were skipped (--on_bad_rows=skip); the first",
        ),
    ],
)
def test_skipping_every_row_says_so_and_names_the_first(tmp_path, rows, says):
    path = _write(tmp_path / "ratings.csv", [HEADER, *rows])
    with pytest.raises(EmptyDataError) as raised:
        run_preprocess("ml-latest-small", tmp_path / "out", path, on_bad_rows="skip")
    assert str(raised.value) == (
        f"{path}: no interactions to read: {says}: line 2: field 3 (rating): "
        "expected a finite number, found 'four'"
    )
    assert not (tmp_path / "out").exists()


def test_filter_that_empties_the_data_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "ratings.csv", [HEADER, *GOOD])
    with pytest.raises(EmptyDataError, match="removed every interaction"):
        run_preprocess(
            "ml-latest-small",
            tmp_path / "out",
            path,
            filter_mode="k_core",
            min_presence=5,
        )
    assert not (tmp_path / "out").exists()


def test_failed_run_keeps_the_previous_good_output(tmp_path):
    good = _write(tmp_path / "good.csv", [HEADER, *GOOD])
    bad = _write(tmp_path / "bad.csv", [HEADER, *GOOD, "1,2,3"])
    run_preprocess("ml-latest-small", tmp_path / "out", good)
    before = pq.read_table(tmp_path / "out" / "sequences.parquet")
    with pytest.raises(BadRowsError):
        run_preprocess("ml-latest-small", tmp_path / "out", bad)
    assert pq.read_table(tmp_path / "out" / "sequences.parquet").equals(before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "good.csv", "out"]


def test_successful_run_replaces_the_previous_output(tmp_path):
    first = _write(tmp_path / "first.csv", [HEADER, *GOOD])
    second = _write(tmp_path / "second.csv", [HEADER, *GOOD[:2]])
    run_preprocess("ml-latest-small", tmp_path / "out", first)
    stats = run_preprocess("ml-latest-small", tmp_path / "out", second)
    assert stats["num_interactions"] == 2
    assert pq.read_table(tmp_path / "out" / "sequences.parquet").num_rows == 1


def test_refuses_to_replace_a_folder_that_is_not_an_output(tmp_path):
    path = _write(tmp_path / "ratings.csv", [HEADER, *GOOD])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a genrec data folder"):
        run_preprocess("ml-latest-small", tmp_path / "out", path)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    # A stats.json alone (other tools write one too) does not make it an output.
    (tmp_path / "out" / "stats.json").write_text("{}")
    with pytest.raises(FileExistsError, match=r"files genrec did not write: \['notes"):
        run_preprocess("ml-latest-small", tmp_path / "out", path)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    (tmp_path / "out" / "notes.txt").unlink()
    with pytest.raises(FileExistsError, match="its stats.json is not genrec's"):
        run_preprocess("ml-latest-small", tmp_path / "out", path)
    assert (tmp_path / "out" / "stats.json").read_text() == "{}"


def test_a_folder_named_like_an_output_file_is_not_replaced(tmp_path):
    # As Spark writes a Parquet dataset: a folder called sequences.parquet.
    path = _write(tmp_path / "ratings.csv", [HEADER, *GOOD])
    run_preprocess("ml-latest-small", tmp_path / "out", path)
    (tmp_path / "out" / "sequences.parquet").unlink()
    (tmp_path / "out" / "sequences.parquet").mkdir()
    (tmp_path / "out" / "sequences.parquet" / "part-0.parquet").write_text("mine")
    with pytest.raises(
        FileExistsError, match=r"did not write: \['sequences.parquet'\]"
    ):
        run_preprocess("ml-latest-small", tmp_path / "out", path)
    part = tmp_path / "out" / "sequences.parquet" / "part-0.parquet"
    assert part.read_text() == "mine"


@pytest.mark.parametrize(
    ("user_id", "is_empty"),
    [
        ("\u3000", True),
        ("\u00a0 \u2003", True),
        (" \u3000 ", True),
        ("\u3000x", False),
        (" x", False),
        ("\t", True),
        (" \t\x0b ", True),
        ("\x1f\x85", True),
        ("\tx", False),
        ("é", False),
    ],
)
def test_an_id_is_empty_when_only_white_space_remains(tmp_path, user_id, is_empty):
    # White space as Python's str.isspace() has it: tabs too, not only the
    # spaces and Unicode separators that DuckDB's trim() removes.
    path = _write(tmp_path / "ratings.csv", [HEADER, *GOOD, f"{user_id},13,4.0,104"])
    stats = run_preprocess(
        "custom", tmp_path / "out", path, on_bad_rows="skip", options=STRING_IDS
    )
    assert stats["counts"]["bad_rows"]["count"] == int(is_empty)
    users = pq.read_table(tmp_path / "out" / "users.parquet")["original_id"]
    assert (user_id in users.to_pylist()) is not is_empty


def test_a_folder_of_output_files_without_stats_is_not_replaced(tmp_path):
    path = _write(tmp_path / "ratings.csv", [HEADER, *GOOD])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sequences.parquet").write_text("mine")
    with pytest.raises(FileExistsError, match=r"\(no stats.json\)"):
        run_preprocess("ml-latest-small", tmp_path / "out", path)
    assert (tmp_path / "out" / "sequences.parquet").read_text() == "mine"
