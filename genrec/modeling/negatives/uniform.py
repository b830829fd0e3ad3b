"""Uniform negatives over the whole catalogue (ids 1..num_items)."""

from __future__ import annotations

import gin
import torch
from torch import Tensor

from genrec.modeling.negatives.base import Negatives, NegativeSampler


@gin.configurable
class UniformNegativeSampler(NegativeSampler):
    """Draws ``num_negatives`` ids uniformly, with replacement.

    With ``shared=False`` every position gets its own draw (R = T), the usual
    setting; with ``shared=True`` one draw serves the whole batch (R = 1),
    which turns scoring into one matrix product and saves memory.
    """

    def __init__(self, num_negatives: int = 128, shared: bool = False) -> None:
        super().__init__()
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        self.num_negatives = num_negatives
        self.shared = shared

    def forward(self, positive_ids: Tensor, num_items: int) -> Negatives:
        rows = 1 if self.shared else positive_ids.numel()
        ids = torch.randint(
            1,
            num_items + 1,
            (rows, self.num_negatives),
            device=positive_ids.device,
        )  # (R, X) int64
        return Negatives(ids=ids)
