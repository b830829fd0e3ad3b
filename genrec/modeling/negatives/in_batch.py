"""In-batch negatives: the positives of the other positions of the same batch."""

from __future__ import annotations

import gin
import torch
from torch import Tensor

from genrec.modeling.negatives.base import Negatives, NegativeSampler


@gin.configurable
class InBatchNegativeSampler(NegativeSampler):
    """Shares the batch's positive ids, each distinct id once, as negatives.

    Repeated ids are kept in place but marked invalid, so the shapes never
    depend on the data and no host sync is needed. Popular items appear in
    more batches, so they are drawn more often than under uniform sampling;
    no log-frequency correction is applied.

    ``num_negatives`` caps the candidate count by drawing that many positions
    at random (None: all T positions), which bounds the (T, X) score matrix.
    """

    def __init__(self, num_negatives: int | None = None) -> None:
        super().__init__()
        self.num_negatives = num_negatives

    def forward(self, positive_ids: Tensor, num_items: int) -> Negatives:
        candidates = positive_ids  # (T,) int64
        if self.num_negatives is not None and positive_ids.numel() > 0:
            draw = torch.randint(
                0,
                positive_ids.numel(),
                (self.num_negatives,),
                device=positive_ids.device,
            )
            candidates = positive_ids[draw]  # (X,) int64
        ids, _ = torch.sort(candidates)  # (X,) int64
        first = torch.ones_like(ids, dtype=torch.bool)
        first[1:] = ids[1:] != ids[:-1]
        valid = first & (ids != 0)  # (X,) bool
        return Negatives(ids=ids.unsqueeze(0), valid=valid.unsqueeze(0))
