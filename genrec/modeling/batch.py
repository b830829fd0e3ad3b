"""The batch every model consumes: jagged user histories plus training targets.

Shape legend: B users in the batch, T history elements of all users together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from genrec.modeling import jagged


@dataclass
class SequenceBatch:
    """Chronological user histories stored jagged (see ``genrec.modeling.jagged``).

    Attributes:
        user_ids: (B,) int64 dense user ids.
        item_ids: (T,) int64 history items, oldest first within each user.
        timestamps: (T,) int64 epoch seconds (UTC) of each history item.
        ratings: (T,) float32 rating of each history item, or None.
        offsets: (B+1,) int64; user b owns ``item_ids[offsets[b]:offsets[b+1]]``.
        max_length: the longest history in this batch (a python int, so padding
            needs no host sync).
        next_item_ids: (T,) int64 item that followed each position; 0 marks a
            position that is not supervised.
        target_ids: (B,) int64 evaluation target (the item after the history),
            or None during training.
    """

    user_ids: Tensor
    item_ids: Tensor
    timestamps: Tensor
    ratings: Tensor | None
    offsets: Tensor
    max_length: int
    next_item_ids: Tensor
    target_ids: Tensor | None = None

    @property
    def lengths(self) -> Tensor:
        """(B,) int64 history length of each user."""
        return jagged.offsets_to_lengths(self.offsets)

    @property
    def batch_size(self) -> int:
        return self.user_ids.numel()

    @property
    def total(self) -> int:
        """T, the number of history elements of all users together."""
        return self.item_ids.numel()

    @property
    def device(self) -> torch.device:
        return self.item_ids.device

    def to(
        self, device: torch.device | str, non_blocking: bool = True
    ) -> SequenceBatch:
        """Return a copy with every tensor moved to ``device``."""
        return self._map_tensors(
            lambda tensor: tensor.to(device, non_blocking=non_blocking)
        )

    def pin_memory(self) -> SequenceBatch:
        """Return a copy with every tensor in page-locked memory (for DataLoader)."""
        return self._map_tensors(lambda tensor: tensor.pin_memory())

    def _map_tensors(self, fn: Callable[[Tensor], Tensor]) -> SequenceBatch:
        """Return a copy with ``fn`` applied to every tensor field (None stays)."""
        return SequenceBatch(
            user_ids=fn(self.user_ids),
            item_ids=fn(self.item_ids),
            timestamps=fn(self.timestamps),
            ratings=None if self.ratings is None else fn(self.ratings),
            offsets=fn(self.offsets),
            max_length=self.max_length,
            next_item_ids=fn(self.next_item_ids),
            target_ids=None if self.target_ids is None else fn(self.target_ids),
        )

    @classmethod
    def from_sequences(
        cls,
        item_ids: Sequence[Sequence[int]],
        timestamps: Sequence[Sequence[int]] | None = None,
        *,
        ratings: Sequence[Sequence[float]] | None = None,
        user_ids: Sequence[int] | None = None,
        target_ids: Sequence[int] | None = None,
        max_length: int | None = None,
        supervise: bool = True,
    ) -> SequenceBatch:
        """Build a batch from per-user python lists, keeping the most recent items.

        Args:
            item_ids: one chronological list of item ids per user.
            timestamps: matching epoch seconds; defaults to 0, 1, 2, ...
            ratings: matching ratings, or None.
            user_ids: (B,) user ids; defaults to 1..B.
            target_ids: (B,) evaluation targets, or None.
            max_length: keep at most this many of the latest items per user.
            supervise: when True, each position is supervised by the next item of
                the same user (the last position by ``target_ids`` if given).

        Returns:
            The jagged batch on CPU.
        """
        batch_size = len(item_ids)
        _check_lengths("timestamps", item_ids, timestamps)
        _check_lengths("ratings", item_ids, ratings)
        _check_ids(item_ids)
        if target_ids is not None and len(target_ids) != batch_size:
            raise ValueError(
                f"target_ids has {len(target_ids)} entries for {batch_size} users"
            )
        if timestamps is None:
            timestamps = [list(range(len(items))) for items in item_ids]
        lengths = torch.tensor([len(items) for items in item_ids], dtype=torch.int64)
        flat_items = _flatten(item_ids, torch.int64)
        flat_times = _flatten(timestamps, torch.int64)
        flat_ratings = None if ratings is None else _flatten(ratings, torch.float32)
        targets = None
        if target_ids is not None:
            targets = torch.tensor(list(target_ids), dtype=torch.int64)
        next_items = _next_items(flat_items, lengths, targets, supervise)

        columns = [flat_items, flat_times, next_items]
        if flat_ratings is not None:
            columns.append(flat_ratings)
        if max_length is not None:
            lengths, columns = jagged.keep_most_recent(lengths, columns, max_length)
        users = torch.arange(1, batch_size + 1, dtype=torch.int64)
        if user_ids is not None:
            users = torch.tensor(list(user_ids), dtype=torch.int64)
        return cls(
            user_ids=users,
            item_ids=columns[0],
            timestamps=columns[1],
            ratings=columns[3] if flat_ratings is not None else None,
            offsets=jagged.lengths_to_offsets(lengths),
            max_length=int(lengths.max()) if batch_size else 0,
            next_item_ids=columns[2],
            target_ids=targets,
        )


def _next_items(
    flat_items: Tensor, lengths: Tensor, targets: Tensor | None, supervise: bool
) -> Tensor:
    """Return the (T,) int64 item following each position (0 where none is known)."""
    if not supervise:
        return torch.zeros_like(flat_items)
    offsets = jagged.lengths_to_offsets(lengths)
    shifted = torch.cat([flat_items[1:], flat_items.new_zeros(1)])  # (T,) int64
    is_last = torch.zeros_like(flat_items, dtype=torch.bool)
    non_empty = lengths > 0
    last_index = offsets[1:][non_empty] - 1
    is_last[last_index] = True
    next_items = shifted.masked_fill(is_last, 0)
    if targets is not None:
        next_items[last_index] = targets[non_empty]
    return next_items


def _check_lengths(
    name: str, item_ids: Sequence[Sequence[int]], other: Sequence[Sequence] | None
) -> None:
    if other is None:
        return
    if len(other) != len(item_ids):
        raise ValueError(f"{name} has {len(other)} rows for {len(item_ids)} users")
    for user, (items, values) in enumerate(zip(item_ids, other, strict=True)):
        if len(items) != len(values):
            raise ValueError(
                f"user row {user}: {len(items)} item ids but {len(values)} {name}"
            )


def _check_ids(item_ids: Sequence[Sequence[int]]) -> None:
    for user, items in enumerate(item_ids):
        for position, item in enumerate(items):
            if item < 1:
                raise ValueError(
                    f"user row {user}, position {position}: item id {item}; "
                    "expected ids >= 1 (0 is padding)"
                )


def _flatten(rows: Sequence[Sequence[float]], dtype: torch.dtype) -> Tensor:
    flat = [value for row in rows for value in row]
    return torch.tensor(flat, dtype=dtype)
