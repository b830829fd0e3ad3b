"""The synthetic generator: deterministic, sized by its arguments, and learnable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

import pyarrow.parquet as pq
import pytest

from genrec.data.datasets import raw_files
from genrec.data.preprocess import run_preprocess
from genrec.data.synthetic import write_synthetic_ratings
from genrec.paths import data_cache_dir, run_tag


def test_same_seed_gives_identical_bytes(tmp_path):
    sizes = {"num_users": 300, "num_items": 100, "mean_length": 6}
    a = write_synthetic_ratings(tmp_path / "a.csv", seed=4, **sizes)
    b = write_synthetic_ratings(tmp_path / "b.csv", seed=4, **sizes)
    c = write_synthetic_ratings(tmp_path / "c.csv", seed=5, **sizes)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("fmt", ["amazon-2018", "amazon-2014"])
def test_rows_follow_the_amazon_layout(tmp_path, fmt):
    path = write_synthetic_ratings(
        tmp_path / "r.csv", num_users=500, num_items=50, mean_length=10, fmt=fmt
    )
    lines = path.read_text().splitlines()
    first, second, rating, ts = lines[0].split(",")
    item, user = (first, second) if fmt == "amazon-2018" else (second, first)
    assert item.startswith("B") and user.startswith("A")
    assert rating in {"1.0", "2.0", "3.0", "4.0", "5.0"} and int(ts) > 1_400_000_000
    assert 4_000 < len(lines) < 6_000  # 500 users x mean length 10
    assert (
        len({line.split(",")[1 if fmt == "amazon-2018" else 0] for line in lines})
        == 500
    )


def test_default_dataset_is_generated_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    options = {"num_users": 50, "num_items": 20, "mean_length": 5}
    (path,) = raw_files("synthetic", options=options)
    assert path.is_relative_to(tmp_path / "home")
    stamp = path.stat().st_mtime_ns
    assert raw_files("synthetic", options=options) == [path]
    assert path.stat().st_mtime_ns == stamp


def test_an_interrupted_generation_leaves_no_partial_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))

    def interrupted(path, **sizes):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("A1,B1,5.0,1\n")  # a first part, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr("genrec.data.synthetic.write_synthetic_ratings", interrupted)
    with pytest.raises(KeyboardInterrupt):
        raw_files("synthetic", options={"num_users": 50})
    assert [p.name for p in (tmp_path / "home").rglob("*") if p.is_file()] == []


def test_a_killed_runs_partial_file_is_removed_by_the_next(tmp_path, monkeypatch):
    # SIGTERM or -9 run no cleanup: the next generation removes what is left.
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = run_tag().rpartition("-")[0]
    options = {"num_users": 50, "num_items": 20, "mean_length": 5}
    name = "synthetic-u50-i20-l5-s0.csv"
    folder = data_cache_dir() / "synthetic"
    folder.mkdir(parents=True)
    left = folder / f".{name}.{host}-{dead.stdout.strip()}.partial"
    alive = folder / f".{name}.{host}-{os.getppid()}.partial"  # a run still writing
    for partial in (left, alive):
        partial.write_text("A1,B1,5.0,1\n")
    (path,) = raw_files("synthetic", options=options)
    assert path == folder / name
    assert sorted(p.name for p in folder.iterdir()) == [alive.name, name]


def test_next_item_is_learnable_beyond_popularity(tmp_path, monkeypatch):
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    run_preprocess("synthetic", tmp_path / "out")
    sequences = pq.read_table(tmp_path / "out" / "sequences.parquet")[
        "item_ids"
    ].to_pylist()

    # Train on all but each user's last item; predict the last item.
    transitions: dict[int, Counter] = defaultdict(Counter)
    popularity: Counter = Counter()
    for items in sequences:
        popularity.update(items[:-1])
        for previous, following in zip(items[:-2], items[1:-1], strict=True):
            transitions[previous][following] += 1
    top_popular = {item for item, _ in popularity.most_common(10)}
    bigram_hits = popular_hits = 0
    for items in sequences:
        history, target = items[:-1], items[-1]
        bigram_top = {item for item, _ in transitions[history[-1]].most_common(10)}
        bigram_hits += target in bigram_top
        popular_hits += target in top_popular
    bigram_hr, popular_hr = bigram_hits / len(sequences), popular_hits / len(sequences)
    assert bigram_hr > 0.5
    assert bigram_hr > 4 * popular_hr


@pytest.mark.parametrize(
    ("sizes", "says"),
    [
        ({"mean_length": float("nan")}, "--synthetic_mean_length=nan"),
        ({"mean_length": float("inf")}, "--synthetic_mean_length=inf"),
        ({"mean_length": 0.5}, "--synthetic_mean_length=0.5"),
        ({"num_items": 3}, "--synthetic_items=3"),
        ({"seed": -1}, "--seed=-1: expected an integer >= 0"),
    ],
)
def test_sizes_the_generator_cannot_honour_are_named(tmp_path, sizes, says):
    arguments = {"num_users": 10, "num_items": 20, "mean_length": 3.0, **sizes}
    with pytest.raises(ValueError, match=re.escape(says)):
        write_synthetic_ratings(tmp_path / "s.csv", **arguments)
    assert not (tmp_path / "s.csv").exists()
