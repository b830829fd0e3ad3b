"""Turn rows of a `SequenceTable` into jagged `SequenceBatch`es, vectorized.

Every step works on whole batches with numpy index arithmetic; no Python loop runs
over users or items. Histories are handled most-recent-first: truncation keeps the
latest `max_sequence_length` items, and positional sampling (training only) keeps
each older item with probability `sampling_ratio` through one kept mask that
selects ids, ratings and timestamps alike.

Legend: B users in the batch, S positions in their spans before sampling,
T positions kept (the jagged length of the batch).
"""

from __future__ import annotations

import numpy as np
import torch

from genrec.modeling.batch import SequenceBatch
from genrec.training.sequences import SequenceTable


def segment_positions(
    starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expand (start, length) spans into flat positions.

    Args:
        starts: (B,) int64 first position of each span.
        lengths: (B,) int64 span lengths (may be 0).

    Returns:
        positions: (T,) int64, the spans one after another.
        offsets: (B + 1,) int64 jagged offsets of the spans inside `positions`.
    """
    lengths = lengths.astype(np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    shift = np.repeat(starts.astype(np.int64) - offsets[:-1], lengths)  # (T,)
    return np.arange(offsets[-1], dtype=np.int64) + shift, offsets


def keep_most_recent(
    positions: np.ndarray, offsets: np.ndarray, keep: np.ndarray, max_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the last `max_length` positions of each segment among those in `keep`.

    Args:
        positions: (S,) int64 flat positions, segment after segment.
        offsets: (B + 1,) int64 segment offsets into `positions`.
        keep: (S,) bool candidates to keep (True everywhere to only truncate).
        max_length: most positions kept per segment.

    Returns:
        (T,) kept positions in their original order and (B + 1,) their offsets.
    """
    num_segments = len(offsets) - 1
    segment = np.repeat(np.arange(num_segments), np.diff(offsets))  # (S,)
    kept = np.flatnonzero(keep)  # (S',) indices into positions
    kept_segment = segment[kept]
    counts = np.bincount(kept_segment, minlength=num_segments)  # (B,)
    first_kept = np.zeros(num_segments + 1, dtype=np.int64)
    np.cumsum(counts, out=first_kept[1:])
    rank_from_end = (
        counts[kept_segment] - 1 - (np.arange(len(kept)) - first_kept[kept_segment])
    )
    recent = rank_from_end < max_length  # (S',)
    new_lengths = np.minimum(counts, max_length)
    new_offsets = np.zeros(num_segments + 1, dtype=np.int64)
    np.cumsum(new_lengths, out=new_offsets[1:])
    return positions[kept[recent]], new_offsets


def training_windows(
    starts: np.ndarray,
    train_lengths: np.ndarray,
    *,
    max_sequence_length: int,
    sampling_ratio: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choose each user's training history and the next item at every position.

    The window is the most recent `max_sequence_length + 1` kept items of the
    training span: its first L items are the input and its last L the targets,
    so every kept position is supervised by the item after it (every prefix).

    Args:
        starts: (B,) first position of each user in the table.
        train_lengths: (B,) number of leading items training may use.
        max_sequence_length: L, the longest input history.
        sampling_ratio: probability of keeping each item older than the latest;
            1.0 keeps all.
        rng: draws the kept mask; the caller seeds it per step.

    Returns:
        history: (T,) table positions of input items, chronological per user.
        next_items: (T,) table positions of the item that follows each input.
        offsets: (B + 1,) jagged offsets of both.
    """
    positions, offsets = segment_positions(starts, train_lengths)  # (S,)
    if sampling_ratio < 1.0:
        keep = rng.random(len(positions)) < sampling_ratio
        # The latest item always stays so a sampled window never loses its end.
        nonempty = train_lengths > 0
        keep[offsets[1:][nonempty] - 1] = True
    else:
        keep = np.ones(len(positions), dtype=bool)
    window, window_offsets = keep_most_recent(
        positions, offsets, keep, max_sequence_length + 1
    )

    # Drop each window's last item from the inputs and its first from the targets.
    is_last = np.zeros(len(window), dtype=bool)
    is_first = np.zeros(len(window), dtype=bool)
    nonempty_windows = np.diff(window_offsets) > 0
    is_last[window_offsets[1:][nonempty_windows] - 1] = True
    is_first[window_offsets[:-1][nonempty_windows]] = True
    out_lengths = np.maximum(np.diff(window_offsets) - 1, 0)
    out_offsets = np.zeros(len(out_lengths) + 1, dtype=np.int64)
    np.cumsum(out_lengths, out=out_offsets[1:])
    return window[~is_last], window[~is_first], out_offsets


def evaluation_windows(
    starts: np.ndarray, target_positions: np.ndarray, *, max_sequence_length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choose each user's evaluation history: the latest items before the target.

    Args:
        starts: (B,) first position of each user in the table.
        target_positions: (B,) index of the target inside each user's list.
        max_sequence_length: L, the longest history.

    Returns:
        history: (T,) table positions of the input items.
        offsets: (B + 1,) jagged offsets of `history`.
        targets: (B,) table positions of the targets.
    """
    lengths = np.minimum(target_positions, max_sequence_length)
    history, offsets = segment_positions(starts + target_positions - lengths, lengths)
    return history, offsets, starts + target_positions


def to_sequence_batch(
    table: SequenceTable,
    user_rows: np.ndarray,
    history: np.ndarray,
    offsets: np.ndarray,
    *,
    next_items: np.ndarray | None = None,
    targets: np.ndarray | None = None,
) -> SequenceBatch:
    """Gather the chosen table positions into a `SequenceBatch` of CPU tensors.

    Args:
        table: the histories.
        user_rows: (B,) rows of the table in this batch.
        history: (T,) positions of the input items.
        offsets: (B + 1,) jagged offsets of `history`.
        next_items: (T,) positions of the item after each input (training), or
            None for evaluation batches (nothing supervised).
        targets: (B,) positions of the evaluation targets, or None when training.
    """
    if next_items is None:
        next_item_ids = torch.zeros(len(history), dtype=torch.int64)
    else:
        next_item_ids = torch.from_numpy(table.item_ids[next_items].astype(np.int64))
    ratings = None
    if table.ratings is not None:
        ratings = torch.from_numpy(table.ratings[history])
    lengths = np.diff(offsets)
    return SequenceBatch(
        user_ids=torch.from_numpy(table.user_ids[user_rows]),
        item_ids=torch.from_numpy(table.item_ids[history].astype(np.int64)),
        timestamps=torch.from_numpy(table.timestamps[history]),
        ratings=ratings,
        offsets=torch.from_numpy(offsets),
        max_length=int(lengths.max()) if len(lengths) else 0,
        next_item_ids=next_item_ids,
        target_ids=(
            None
            if targets is None
            else torch.from_numpy(table.item_ids[targets].astype(np.int64))
        ),
    )
