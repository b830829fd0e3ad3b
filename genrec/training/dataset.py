"""The training and evaluation view of preprocessed histories under a split protocol.

Legend: B users in a batch.
"""

from __future__ import annotations

from pathlib import Path

import gin
import numpy as np

from genrec.modeling.batch import SequenceBatch
from genrec.training.collate import (
    evaluation_windows,
    segment_positions,
    to_sequence_batch,
    training_windows,
)
from genrec.training.sequences import SequenceTable, read_sequences
from genrec.training.splits import SplitProtocol, split_protocol


@gin.configurable
class SequenceDataset:
    """Histories of one preprocessed folder, split and windowed for a model.

    Args:
        data_dir: folder holding `sequences.parquet` (and `items.parquet`).
        protocol: split protocol name, "valid_test" or "reference".
        max_sequence_length: L, the most recent items a model sees per user.
        sampling_ratio: training-time probability of keeping each older item
            (positional sampling); 1.0 keeps every item.
        exclude_full_history: at evaluation, exclude every item the user had
            before the target from the candidates; False excludes only the
            latest `max_sequence_length` (the reference implementation's rule).
        table: an already loaded table to reuse instead of reading `data_dir`.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        protocol: str = "valid_test",
        max_sequence_length: int = 200,
        sampling_ratio: float = 1.0,
        exclude_full_history: bool = True,
        table: SequenceTable | None = None,
    ) -> None:
        if not 0.0 < sampling_ratio <= 1.0:
            raise ValueError(f"sampling_ratio must be in (0, 1], got {sampling_ratio}")
        if max_sequence_length < 1:
            raise ValueError(
                f"max_sequence_length must be >= 1, got {max_sequence_length}"
            )
        if table is None:
            if data_dir is None:
                raise ValueError("SequenceDataset needs data_dir or table")
            table = read_sequences(data_dir)
        self.table = table
        self.protocol: SplitProtocol = split_protocol(protocol)
        self.max_sequence_length = max_sequence_length
        self.sampling_ratio = sampling_ratio
        self.exclude_full_history = exclude_full_history
        self._train_lengths = self.protocol.train_lengths(table.lengths)

    @property
    def num_items(self) -> int:
        return self.table.num_items

    def training_rows(self) -> np.ndarray:
        """Rows of users with at least one supervised position (two training items)."""
        return np.flatnonzero(self._train_lengths >= 2)

    def evaluation_rows(self, split: str) -> np.ndarray:
        """Rows of users whose `split` target has at least one item before it."""
        return np.flatnonzero(self._target_positions(split) >= 1)

    def training_batch(
        self, rows: np.ndarray, rng: np.random.Generator
    ) -> SequenceBatch:
        """Build a training batch: inputs and next items for every kept position."""
        history, next_items, offsets = training_windows(
            self.table.offsets[rows],
            self._train_lengths[rows],
            max_sequence_length=self.max_sequence_length,
            sampling_ratio=self.sampling_ratio,
            rng=rng,
        )
        return to_sequence_batch(
            self.table, rows, history, offsets, next_items=next_items
        )

    def evaluation_batch(self, rows: np.ndarray, split: str) -> SequenceBatch:
        """Build an evaluation batch: latest history before each `split` target."""
        history, offsets, targets = self.evaluation_positions(rows, split)
        return to_sequence_batch(self.table, rows, history, offsets, targets=targets)

    def evaluation_positions(
        self, rows: np.ndarray, split: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions of histories (T,), their offsets (B + 1,) and targets (B,)."""
        return evaluation_windows(
            self.table.offsets[rows],
            self._target_positions(split)[rows],
            max_sequence_length=self.max_sequence_length,
        )

    def excluded_positions(
        self, rows: np.ndarray, split: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Table positions of items not to recommend (T',) and their offsets (B + 1,).

        The whole history before each `split` target, or only its evaluation
        window when `exclude_full_history` is False.
        """
        if not self.exclude_full_history:
            history, offsets, _ = self.evaluation_positions(rows, split)
            return history, offsets
        return segment_positions(
            self.table.offsets[rows], self._target_positions(split)[rows]
        )

    def visible_positions(self, split: str) -> np.ndarray:
        """Table positions of every interaction before each user's `split` target."""
        visible = np.clip(self._target_positions(split), 0, None)
        positions, _ = segment_positions(self.table.offsets[:-1], visible)
        return positions

    def _target_positions(self, split: str) -> np.ndarray:
        return self.protocol.target_positions(self.table.lengths, split)
