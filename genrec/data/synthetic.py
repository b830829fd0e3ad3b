"""A seeded generator of ratings files with planted sequential structure.

Every item has three successors (a fixed random map). A user starts on a popular
item, then at each step follows one of the current item's successors with
probability `follow_prob` (successor 1, 2, 3 with weights 0.6/0.3/0.1) or jumps to
an item drawn by popularity. A sequential model can learn the successor map, so it
beats a popularity ranking by a wide margin; popularity alone sees only the jumps.

Timestamps have day resolution like the Amazon files, so equal timestamps are
common and their file order carries the true order: rows are written sorted by
timestamp, and a user's events of one day appear in sequence order.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

logger = logging.getLogger(__name__)

FORMATS = ("amazon-2018", "amazon-2014")
SECONDS_PER_DAY = 86_400
FIRST_DAY_S = 1_420_070_400  # 2015-01-01 00:00:00 UTC, epoch seconds
SPAN_DAYS = 3 * 365
SUCCESSOR_WEIGHTS = np.array([0.6, 0.3, 0.1])
RATING_WEIGHTS = np.array([0.06, 0.06, 0.12, 0.22, 0.54])  # stars 1..5


def write_synthetic_ratings(
    path: str | Path,
    *,
    num_users: int,
    num_items: int,
    mean_length: float,
    seed: int = 0,
    fmt: str = "amazon-2018",
    follow_prob: float = 0.7,
) -> Path:
    """Write a ratings-only CSV (no header) with planted item-to-item transitions.

    Args:
      path: the CSV file to write (its folder is created).
      num_users: users to generate; each gets at least one rating.
      num_items: catalogue size.
      mean_length: mean number of ratings per user (geometric lengths).
      seed: numpy seed; equal arguments give byte-identical files.
      fmt: "amazon-2018" writes `item,user,rating,ts`, "amazon-2014"
        writes `user,item,rating,ts`.
      follow_prob: probability that the next item is a successor of the last one.

    Returns:
      The path written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    # `not mean_length >= 1` also refuses NaN; infinity gives no finite length.
    if num_users < 1 or num_items < 4 or not 1 <= mean_length < math.inf:
        raise ValueError(
            "need num_users >= 1, num_items >= 4 and a finite mean_length >= 1 "
            f"(--synthetic_users={num_users}, --synthetic_items={num_items}, "
            f"--synthetic_mean_length={mean_length})"
        )
    if seed < 0:
        raise ValueError(f"--seed={seed}: expected an integer >= 0")
    rng = np.random.default_rng(seed)
    lengths = rng.geometric(1.0 / mean_length, size=num_users).astype(np.int64)
    user_of_row, position = _row_layout(lengths)
    item_of_row = _walk_items(rng, lengths, num_items, follow_prob)
    day_of_row = _days(rng, lengths, position)
    ratings = rng.choice(np.arange(1, 6), size=len(item_of_row), p=RATING_WEIGHTS)

    # Sorting by day (stable) interleaves users like a log and keeps each user's
    # events of one day in sequence order.
    order = np.argsort(day_of_row, kind="stable")
    table = _to_table(
        user_of_row[order], item_of_row[order], ratings[order], day_of_row[order], fmt
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    pa_csv.write_csv(table, path, write_options=options)
    logger.info(
        "synthetic ratings: users=%d items=%d rows=%d -> %s",
        num_users,
        num_items,
        len(order),
        path,
    )
    return path


def _row_layout(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's user index and its position within the user's sequence."""
    user_of_row = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    position = np.arange(int(lengths.sum())) - np.repeat(starts, lengths)
    return user_of_row, position


def _walk_items(
    rng: np.random.Generator, lengths: np.ndarray, num_items: int, follow_prob: float
) -> np.ndarray:
    """Walk every user through the successor map, all users one step at a time."""
    popularity = 1.0 / (np.arange(num_items) + 10.0)
    popularity /= popularity.sum()
    successors = np.stack([rng.permutation(num_items) for _ in range(3)], axis=1)

    # Users sorted by length, longest first: the users still walking at step t
    # are a prefix, so each step touches only them.
    by_length = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[by_length]
    starts = np.cumsum(lengths) - lengths
    items = np.empty(int(lengths.sum()), dtype=np.int64)
    current = rng.choice(num_items, size=len(lengths), p=popularity)
    for step in range(int(sorted_lengths[0])):
        active = int(np.searchsorted(-sorted_lengths, -step, side="left"))
        if step > 0:
            walking = current[:active]
            follow = rng.random(active) < follow_prob
            branch = rng.choice(3, size=active, p=SUCCESSOR_WEIGHTS)
            jump = rng.choice(num_items, size=active, p=popularity)
            current = np.where(follow, successors[walking, branch], jump)
        items[starts[by_length[:active]] + step] = current[:active]
    return items


def _days(
    rng: np.random.Generator, lengths: np.ndarray, position: np.ndarray
) -> np.ndarray:
    """Return each row's day number: a random start plus non-negative gaps."""
    first_day = rng.integers(0, SPAN_DAYS, size=len(lengths))
    gaps = rng.geometric(0.5, size=len(position)) - 1  # 0 = same day, mean 1 day
    gaps[position == 0] = 0
    offsets = np.cumsum(gaps)
    starts = np.cumsum(lengths) - lengths
    offsets -= np.repeat(offsets[starts], lengths)
    return np.repeat(first_day, lengths) + offsets


def _to_table(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    days: np.ndarray,
    fmt: str,
) -> pa.Table:
    """Build the Arrow table of string ids, `N.0` ratings and epoch seconds."""
    # Names are spelled once per user and item, then gathered per row.
    user_vocab = pa.array(np.char.add("A", np.char.zfill(_base36(users.max() + 1), 12)))
    item_vocab = pa.array(np.char.add("B", np.char.zfill(_decimal(items.max() + 1), 9)))
    rating_vocab = pa.array(["0.0", "1.0", "2.0", "3.0", "4.0", "5.0"])
    user_names = user_vocab.take(pa.array(users))
    item_names = item_vocab.take(pa.array(items))
    rating_text = rating_vocab.take(pa.array(ratings))
    timestamps = pa.array(FIRST_DAY_S + days * SECONDS_PER_DAY, type=pa.int64())
    if fmt == "amazon-2018":
        columns = {"item": item_names, "user": user_names}
    else:
        columns = {"user": user_names, "item": item_names}
    return pa.table({**columns, "rating": rating_text, "ts": timestamps})


def _decimal(count: int) -> np.ndarray:
    """Spell 0..count-1 in decimal."""
    return np.arange(count).astype(str)


def _base36(count: int) -> np.ndarray:
    """Spell 0..count-1 in base 36 (digits then upper-case letters), zero-padded."""
    digits = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    remaining = np.arange(count, dtype=np.int64)
    out = digits[remaining % 36]
    remaining //= 36
    while remaining.any():
        out = np.char.add(digits[remaining % 36], out)
        remaining //= 36
    return out
