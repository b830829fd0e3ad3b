"""The interface every sequence encoder implements.

Shape legend: T history elements of the batch (jagged), D embedding dim.
"""

from __future__ import annotations

import abc

from torch import Tensor, nn

from genrec.modeling.batch import SequenceBatch


class SequenceEncoder(nn.Module, abc.ABC):
    """Maps each position of a history to a state that sees only positions <= it."""

    @abc.abstractmethod
    def forward(self, x: Tensor, batch: SequenceBatch) -> Tensor:
        """Encode (T, D) jagged inputs laid out as ``batch.offsets`` into (T, D)."""
