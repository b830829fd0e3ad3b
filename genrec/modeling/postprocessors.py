"""Output postprocessing of user (query) and item embeddings before scoring.

Shape legend: ``...`` any leading shape, D embedding dim.
"""

from __future__ import annotations

import gin
import torch.nn.functional as F
from torch import Tensor, nn


class EmbeddingPostprocessor(nn.Module):
    """Identity: queries and items are scored as they are.

    Subclasses transform queries in ``forward`` and items in ``items``; both act
    row by row, so an item table may be postprocessed once and then gathered.
    """

    def forward(self, queries: Tensor) -> Tensor:
        """Postprocess (..., D) user embeddings."""
        return queries

    def items(self, items: Tensor) -> Tensor:
        """Postprocess (..., D) item embeddings."""
        return items


gin.external_configurable(EmbeddingPostprocessor, name="IdentityPostprocessor")


@gin.configurable
class L2NormPostprocessor(EmbeddingPostprocessor):
    """Scale queries (and, by default, items) to unit L2 norm: scores are cosines."""

    def __init__(self, normalize_items: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.normalize_items = normalize_items
        self.eps = eps

    def forward(self, queries: Tensor) -> Tensor:
        return F.normalize(queries, p=2.0, dim=-1, eps=self.eps)

    def items(self, items: Tensor) -> Tensor:
        if not self.normalize_items:
            return items
        return F.normalize(items, p=2.0, dim=-1, eps=self.eps)


@gin.configurable
class LayerNormPostprocessor(EmbeddingPostprocessor):
    """Layer-normalize queries; items pass through unchanged."""

    def __init__(self, embedding_dim: int = 50, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(embedding_dim, eps=eps)

    def forward(self, queries: Tensor) -> Tensor:
        return self.norm(queries)
