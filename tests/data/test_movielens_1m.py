"""ML-1M's `::` files, latin-1 titles, titles with ': ', deterministic features."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from genrec.data.bad_rows import BadRowsError
from genrec.data.preprocess import run_preprocess

from .conftest import decoded_sequences

RATINGS = (
    "1::3::5::978300760\n"
    "1::1::3::978300760\n"
    "2::2::4::978298413\n"
    "2::3::2::978299000\n"
    "10::1::5::978300100\n"
)
USERS = "1::F::1::10::48067\n2::M::56::16::70072\n10::F::35::1::95370\n"
MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Caf\xe9 au lait (1993)::Comedy|Drama\n"
    "3::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
)


def _write_fixture(folder):
    folder.mkdir()
    (folder / "ratings.dat").write_bytes(RATINGS.encode("latin-1"))
    (folder / "users.dat").write_bytes(USERS.encode("latin-1"))
    (folder / "movies.dat").write_bytes(MOVIES.encode("latin-1"))
    return folder


def test_ml_1m_fixture_parses_exactly(tmp_path):
    raw = _write_fixture(tmp_path / "ml-1m")
    stats = run_preprocess("ml-1m", tmp_path / "out", raw)
    assert (stats["num_interactions"], stats["num_users"], stats["num_items"]) == (
        5,
        3,
        3,
    )
    # Every rating and timestamp as in ratings.dat; equal timestamps in file order.
    assert decoded_sequences(tmp_path / "out") == {
        "1": [("3", 5.0, 978300760), ("1", 3.0, 978300760)],
        "2": [("2", 4.0, 978298413), ("3", 2.0, 978299000)],
        "10": [("1", 5.0, 978300100)],
    }

    items = pq.read_table(tmp_path / "out" / "items.parquet").to_pylist()
    assert [item["title"] for item in items] == [
        "Toy Story (1995)",
        "Café au lait (1993)",
        "Star Wars: Episode IV - A New Hope (1977)",
    ]
    assert [item["year"] for item in items] == [1995, 1993, 1977]
    # Genre codes rank the file's genres: Action, Animation, Children's, Comedy,
    # Drama, Sci-Fi -> 1..6, in each movie's listed order.
    assert [item["genres"] for item in items] == [[2, 3, 4], [4, 5], [1, 6]]
    words = sorted(
        {
            "toy",
            "story",
            "café",
            "au",
            "lait",
            "star",
            "wars",
            "episode",
            "iv",
            "a",
            "new",
            "hope",
        }
    )
    assert [[words[code - 1] for code in item["title_words"]] for item in items] == [
        ["toy", "story"],
        ["café", "au", "lait"],
        ["star", "wars", "episode", "iv", "a", "new", "hope"],
    ]


def test_ml_1m_user_ids_are_numeric_order_with_features(tmp_path):
    raw = _write_fixture(tmp_path / "ml-1m")
    run_preprocess("ml-1m", tmp_path / "out", raw)
    users = pq.read_table(tmp_path / "out" / "users.parquet").to_pylist()
    assert [user["original_id"] for user in users] == ["1", "2", "10"]
    assert [
        (u["sex"], u["age_group"], u["occupation"], u["zip_code"]) for u in users
    ] == [(1, 1, 2, 1), (2, 3, 3, 2), (1, 2, 1, 3)]
    sequences = pq.read_table(tmp_path / "out" / "sequences.parquet").to_pylist()
    # Equal timestamps keep file order: user 1 rated item 3 before item 1.
    assert sequences[0]["item_ids"] == [3, 1]
    assert sequences[1]["item_ids"] == [2, 3]
    assert sequences[0]["sex"] == 1 and sequences[2]["zip_code"] == 3


def test_feature_codes_do_not_depend_on_the_process(tmp_path):
    raw = _write_fixture(tmp_path / "ml-1m")
    script = (
        "import sys, pyarrow.parquet as pq\n"
        "from genrec.data.preprocess import run_preprocess\n"
        "run_preprocess('ml-1m', sys.argv[2], sys.argv[1])\n"
        "print(pq.read_table(sys.argv[2] + '/items.parquet').to_pydict())\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(raw), str(tmp_path / f"out{seed}")],
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            cwd=str(Path(__file__).resolve().parents[2]),
        ).stdout
        for seed in (1, 2)
    }
    assert len(outputs) == 1


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "users.dat",
            USERS.replace("2::M::56::", "2::M::old::"),
            "line 2: field 3 (age): expected an integer, found 'old'",
        ),
        (
            "users.dat",
            USERS + "11::F::25\n",
            "line 4: expected 5 fields, found 3",
        ),
        (
            "movies.dat",
            MOVIES.replace("2::Caf\xe9 au lait (1993)::", "2::Caf\xe9 au lait (1993)"),
            "line 2: expected 3 fields, found 2",
        ),
        # DuckDB counts the bytes of latin-1 text as UTF-8 (two for an accented
        # letter): 36 titles of four each would put this line 144 bytes late.
        (
            "movies.dat",
            MOVIES
            + "".join(f"{i}::Caf\xe9 \xe9\xe9\xe9 ({i})::Drama\n" for i in range(4, 40))
            + "40::Truncated (1999)\n",
            "line 40: expected 3 fields, found 2",
        ),
    ],
)
def test_malformed_side_file_names_file_line_and_field(tmp_path, name, text, reason):
    raw = _write_fixture(tmp_path / "ml-1m")
    (raw / name).write_bytes(text.encode("latin-1"))
    with pytest.raises(BadRowsError) as caught:
        run_preprocess("ml-1m", tmp_path / "out", raw, on_bad_rows="skip")
    assert str(caught.value) == f"{raw / name}: {reason}; fix the file"
    assert not (tmp_path / "out").exists()


def test_a_side_file_with_mixed_line_endings_names_the_first_odd_line(tmp_path):
    # A line appended by a Windows tool: DuckDB's parser stops, naming no line.
    raw = _write_fixture(tmp_path / "ml-1m")
    (raw / "users.dat").write_bytes((USERS + "11::F::25::4::12345\r\n").encode())
    with pytest.raises(ValueError) as caught:
        run_preprocess("ml-1m", tmp_path / "out", raw)
    assert str(caught.value) == (
        f"{raw / 'users.dat'}: line 4: ends with \\r\\n where line 1 ends with "
        "\\n; expected one kind of line ending in the whole file (convert it, "
        "e.g. with dos2unix)"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("users.dat", USERS + "2::F::18::4::99999\n", "lines 2 and 4: id '2'"),
        (
            "movies.dat",
            "2::Other Title (1999)::Comedy\n" + MOVIES,
            "lines 1 and 3: id '2'",
        ),
    ],
)
def test_an_id_listed_twice_in_a_side_file_names_both_lines(
    tmp_path, name, text, reason
):
    # Two feature rows for one id would repeat its interactions in the join.
    raw = _write_fixture(tmp_path / "ml-1m")
    (raw / name).write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError) as caught:
        run_preprocess("ml-1m", tmp_path / "out", raw)
    assert str(caught.value) == (
        f"{raw / name}: {reason} is listed more than once; expected one line per id"
    )
    assert not (tmp_path / "out").exists()
