"""The interface every retrieval loss implements.

Shape legend: T positions of the batch (jagged), X negatives per position.
"""

from __future__ import annotations

import abc

from torch import Tensor, nn


class RetrievalLoss(nn.Module, abc.ABC):
    """Turns positive and negative logits into a scalar loss."""

    @abc.abstractmethod
    def forward(
        self,
        positive_logits: Tensor,
        negative_logits: Tensor,
        negative_valid: Tensor,
        supervised: Tensor,
    ) -> Tensor:
        """Return the mean loss over supervised positions (0 when there are none).

        Args:
            positive_logits: (T,) score of each position's next item.
            negative_logits: (T, X) scores of its negatives.
            negative_valid: (T, X) bool, False for ignored negatives (duplicates,
                padding, accidental hits).
            supervised: (T,) bool, True where the position has a next item.
        """


def masked_mean(per_position: Tensor, supervised: Tensor) -> Tensor:
    """Mean of (T,) float losses over supervised positions; 0 with zero grads if none.

    ``where`` (not a product) keeps a non-finite value at an unsupervised
    position from leaking into the result or the gradients.
    """
    kept = per_position.where(supervised, 0.0)  # (T,)
    count = supervised.sum().clamp(min=1).to(per_position.dtype)
    return kept.sum() / count
