"""Binary cross-entropy with one negative per position (the original SASRec loss).

    loss_t = -log sigmoid(s+ / tau) - log(1 - sigmoid(s- / tau))

Shape legend: T positions of the batch (jagged), X negatives per position.
"""

from __future__ import annotations

import gin
import torch.nn.functional as F
from torch import Tensor

from genrec.modeling.losses.base import RetrievalLoss, masked_mean


@gin.configurable
class BCELoss(RetrievalLoss):
    """Logistic loss on the positive and the first negative of each position.

    An ignored negative (e.g. equal to the positive) drops its term.
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
        negative = negative_logits[:, 0].float() / self.temperature  # (T,)
        negative_term = F.softplus(negative).where(negative_valid[:, 0], 0.0)
        per_position = F.softplus(-positive) + negative_term  # (T,)
        return masked_mean(per_position, supervised)
