"""A plain-Python reference of the preprocessing, for parity tests."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

Row = tuple[str, str, float, int]  # (user, item, rating, ts) as in the file
Sequences = dict[str, list[tuple[str, float, int]]]


def read_rows(
    path: Path, fields: tuple[str, ...], delim: str, header: bool
) -> list[Row]:
    """Read (user, item, rating, ts) rows in file order with Python's csv module."""
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delim)
        if header:
            next(reader)
        for values in reader:
            record = dict(zip(fields, values, strict=True))
            rows.append(
                (
                    record["user"],
                    record["item"],
                    float(record["rating"]),
                    int(record["ts"]),
                )
            )
    return rows


def reference_sequences(rows: list[Row], mode: str, k: int) -> Sequences:
    """A plain, slow implementation of filter + categorize + group, for parity.

    Returns {original user: [(original item, rating, ts), ...]} in time order,
    equal timestamps in file order.
    """
    kept = list(enumerate(rows))
    if mode == "single_pass":
        users = Counter(row[0] for _, row in kept)
        items = Counter(row[1] for _, row in kept)
        kept = [(i, r) for i, r in kept if users[r[0]] >= k and items[r[1]] >= k]
        users = Counter(row[0] for _, row in kept)
        kept = [(i, r) for i, r in kept if users[r[0]] >= k]
    elif mode == "k_core":
        while True:
            users = Counter(row[0] for _, row in kept)
            items = Counter(row[1] for _, row in kept)
            smaller = [(i, r) for i, r in kept if users[r[0]] >= k and items[r[1]] >= k]
            if len(smaller) == len(kept):
                break
            kept = smaller
    sequences = defaultdict(list)
    for _, (user, item, rating, ts) in sorted(kept, key=lambda x: (x[1][3], x[0])):
        sequences[user].append((item, rating, ts))
    return dict(sequences)


def sort_key(original_ids: list[str]) -> Callable[[str], Any]:
    """Ascending original-id order: numeric when every id is an integer."""
    if all(re.fullmatch(r"-?[0-9]+", value) for value in original_ids):
        return lambda value: (int(value), value)
    return lambda value: value


def decoded_sequences(out_dir: Path) -> Sequences:
    """Read an output folder back as {original user: [(original item, rating, ts)]}."""
    sequences = pq.read_table(out_dir / "sequences.parquet").to_pylist()
    items = {
        row["item_id"]: row["original_id"]
        for row in pq.read_table(out_dir / "items.parquet").to_pylist()
    }
    users = {
        row["user_id"]: row["original_id"]
        for row in pq.read_table(out_dir / "users.parquet").to_pylist()
    }
    return {
        users[row["user_id"]]: [
            (items[item], rating, ts)
            for item, rating, ts in zip(
                row["item_ids"], row["ratings"], row["timestamps"], strict=True
            )
        ]
        for row in sequences
    }
