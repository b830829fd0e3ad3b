"""Sampled softmax: cross-entropy of the positive against sampled negatives.

    loss_t = -log( exp(s+ / tau) / (exp(s+ / tau) + sum_j exp(s-_j / tau)) )

Shape legend: T positions of the batch (jagged), X negatives per position.
"""

from __future__ import annotations

import gin
import torch
from torch import Tensor

from genrec.modeling.losses.base import RetrievalLoss, masked_mean


@gin.configurable
class SampledSoftmaxLoss(RetrievalLoss):
    """Softmax cross-entropy over [positive, negatives] at temperature tau.

    Logits are promoted to float32 first, so bf16 autocast cannot overflow the
    exponentials; an ignored negative gets -inf, and the positive keeps every
    row finite.
    """

    def __init__(self, temperature: float = 0.05) -> None:
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
        negative = negative_logits.float() / self.temperature  # (T, X)
        negative = negative.masked_fill(~negative_valid, float("-inf"))
        logits = torch.cat([positive.unsqueeze(1), negative], dim=1)  # (T, 1+X)
        per_position = torch.logsumexp(logits, dim=1) - positive  # (T,)
        return masked_mean(per_position, supervised)
