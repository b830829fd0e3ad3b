"""ML-100K's side files on the real data: u.user and u.item become coded features."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest

from genrec.data.preprocess import run_preprocess

GENRES = [  # u.genre, in flag order
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip
ML_1M_AGE_GROUPS = [(56, 56), (50, 50), (45, 45), (35, 35), (25, 25), (18, 18), (0, 1)]


def _codes(values):
    """The 1-based rank of each value among the distinct values."""
    ranks = {value: rank for rank, value in enumerate(sorted(set(values)), start=1)}
    return [ranks[value] for value in values]


def _lines(path):
    return path.read_bytes().decode("latin-1").splitlines()


@pytest.fixture(scope="module")
def ml_100k_out(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ml-100k") / "out"
    run_preprocess("ml-100k", out, shared_data("ml-100k"))
    return out


def test_user_features_are_rank_codes_of_u_user(shared_data, ml_100k_out):
    rows = [line.split("|") for line in _lines(shared_data("ml-100k") / "u.user")]
    groups = [
        next(group for lowest, group in ML_1M_AGE_GROUPS if int(age) >= lowest)
        for _, age, _, _, _ in rows
    ]
    expected = {
        "original_id": [row[0] for row in rows],
        "sex": _codes([row[2] for row in rows]),
        "age_group": _codes(groups),
        "occupation": _codes([row[3] for row in rows]),
        "zip_code": _codes([row[4] for row in rows]),
    }
    users = pq.read_table(ml_100k_out / "users.parquet").to_pydict()
    assert users.pop("user_id") == list(range(1, 944))
    assert users == expected
    assert len(set(groups)) == 7  # every ML-1M group occurs, so codes run 1..7
    sequences = pq.read_table(ml_100k_out / "sequences.parquet")
    assert sequences["occupation"].to_pylist() == expected["occupation"]


def test_item_features_come_from_u_item_flags_and_titles(shared_data, ml_100k_out):
    rows = [line.split("|") for line in _lines(shared_data("ml-100k") / "u.item")]
    genre_code = {name: code for code, name in enumerate(sorted(GENRES), start=1)}
    expected_genres, expected_years = {}, {}
    for row in rows:
        item, title, released, flags = row[0], row[1], row[2], row[5:]
        expected_genres[item] = [
            genre_code[name]
            for name, flag in zip(GENRES, flags, strict=True)
            if flag == "1"
        ]
        year = re.search(r"\((\d{4})\)\s*$", title) or re.search(r"-(\d{4})$", released)
        expected_years[item] = int(year.group(1)) if year else None

    items = pq.read_table(ml_100k_out / "items.parquet").to_pylist()
    assert len(items) == 1_682
    assert {item["original_id"]: item["genres"] for item in items} == expected_genres
    assert {item["original_id"]: item["year"] for item in items} == expected_years
    by_id = {item["original_id"]: item for item in items}
    assert by_id["1"]["title"] == "Toy Story (1995)"
    assert by_id["1"]["genres"] == [3, 4, 5]  # Animation, Children's, Comedy
    assert by_id["1412"]["year"] == 1995  # "... (1995) (V)": from the release date
    assert by_id["267"]["year"] is None  # "unknown", no release date
    assert by_id["1633"]["title"] == "Á köldum klaka (Cold Fever) (1994)"  # latin-1
    words = sorted({w for item in items for w in _title_words(item["title"])})
    assert [words[code - 1] for code in by_id["1633"]["title_words"]] == [
        "á", "köldum", "klaka", "cold", "fever",
    ]  # fmt: skip


def _title_words(title):
    """Lower-cased letter/digit runs of the title without its trailing (year)."""
    stem = re.sub(r"\s*\(\d{4}\)\s*$", "", title).lower()
    return [word for word in re.split(r"[\W_]+", stem) if word]
