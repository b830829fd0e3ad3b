"""The interface every negative sampler implements.

Shape legend: T supervised-or-not positions of the batch (jagged), X negatives,
R rows of negatives: 1 when all positions share them, T when each has its own.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from torch import Tensor, nn


@dataclass
class Negatives:
    """Sampled negative item ids.

    Attributes:
        ids: (R, X) int64 item ids, R = 1 (shared by every position) or T.
        valid: (R, X) bool, False where a slot must be ignored (duplicates,
            padding), or None when every slot is valid. Accidental hits (a
            negative equal to the position's positive) are masked by the model.
    """

    ids: Tensor
    valid: Tensor | None = None


class NegativeSampler(nn.Module, abc.ABC):
    """Draws negatives for the positives of one batch."""

    @abc.abstractmethod
    def forward(self, positive_ids: Tensor, num_items: int) -> Negatives:
        """Sample negatives for (T,) int64 positives (0 = unsupervised position).

        ``num_items`` is the catalogue size; item ids are 1..num_items.
        """
