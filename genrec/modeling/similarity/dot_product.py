"""Dot-product similarity: score = <query, item>.

Shape legend: Q queries, C candidate rows, X candidates per row, D embedding dim.
"""

from __future__ import annotations

import gin
import torch
from torch import Tensor

from genrec.modeling.similarity.base import Similarity, group_queries


@gin.configurable
class DotProductSimilarity(Similarity):
    """Inner product of query and item embeddings."""

    def forward(
        self, queries: Tensor, items: Tensor, item_ids: Tensor | None = None
    ) -> Tensor:
        if items.shape[0] == 1:
            return queries @ items[0].transpose(0, 1)  # (Q, X)
        grouped = group_queries(queries, items)  # (C, r, D)
        scores = torch.bmm(grouped, items.transpose(1, 2))  # (C, r, X)
        return scores.reshape(queries.shape[0], items.shape[1])  # (Q, X)
