"""Binary cross-entropy with one negative per position (the original SASRec loss).

    loss_t = -log sigmoid(s+ / tau) - log(1 - sigmoid(s- / tau))

Shape legend: T positions of the batch (jagged), X negatives per position.
"""

from __future__ import annotations

import gin
import torch
import torch.nn.functional as F
from torch import Tensor

from genrec.modeling.losses.base import RetrievalLoss, masked_mean


@gin.configurable
class BCELoss(RetrievalLoss):
    """Logistic loss on the positive and one random valid negative per position.

    Each position draws its negative uniformly among its valid slots, so shared
    negatives (the in-batch sampler, or a shared uniform draw, where every row
    holds the same sorted or drawn ids) still give every position its own
    negative, and an invalid slot (padding, a repeat, an accidental hit) is
    never the one used. A position with no valid slot drops its negative term.
    Every X logits are scored though only one is used: with shared negatives
    that is one (T, X) matrix product, which is cheap.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(
        self,
        positive_logits: Tensor,
        negative_logits: Tensor,
        negative_valid: Tensor,
        supervised: Tensor,
    ) -> Tensor:
        positive = positive_logits.float() / self.temperature  # (T,)
        if negative_logits.shape[1] == 0:  # e.g. in-batch negatives of no position
            return masked_mean(F.softplus(-positive), supervised)
        slot, has_negative = _random_valid_slot(negative_valid)  # (T,), (T,)
        negative = negative_logits.gather(1, slot.unsqueeze(1)).squeeze(1)  # (T,)
        negative_term = F.softplus(negative.float() / self.temperature)
        per_position = F.softplus(-positive) + negative_term.where(has_negative, 0.0)
        return masked_mean(per_position, supervised)


def _random_valid_slot(negative_valid: Tensor) -> tuple[Tensor, Tensor]:
    """Pick one valid slot per row uniformly: (T,) int64 slots, (T,) bool any valid.

    The argmax of i.i.d. uniform keys over the valid slots is uniform among them;
    invalid slots get key -1 and win only where no slot is valid. No host sync.
    """
    keys = torch.rand(negative_valid.shape, device=negative_valid.device)  # (T, X)
    keys = keys.masked_fill(~negative_valid, -1.0)
    return keys.argmax(dim=1), negative_valid.any(dim=1)
