"""The interface every similarity module implements, and its three shape cases.

Shape legend: B candidate rows, r queries per row, X candidates per row,
D embedding dim.

Queries (Q, D) are scored against candidates (C, X, D) where C divides Q:

- C = 1: every query meets one shared candidate set -> (Q, X);
- C = Q: query b meets its own row of candidates -> (Q, X);
- Q = C * r: queries b*r .. b*r + r - 1 meet row b -> (Q, X).
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor, nn


class Similarity(nn.Module, abc.ABC):
    """Scores queries against candidate items."""

    #: floats held per (query, candidate) score; sizes chunks in top-K search.
    work_per_score: int = 1

    @abc.abstractmethod
    def forward(
        self, queries: Tensor, items: Tensor, item_ids: Tensor | None = None
    ) -> Tensor:
        """Score (Q, D) queries against (C, X, D) items.

        Args:
            queries: (Q, D) postprocessed user embeddings.
            items: (C, X, D) postprocessed item embeddings, C in {1, Q, Q / r}.
            item_ids: (C, X) int64 ids of the items, side information for
                modules that use it.

        Returns:
            (Q, X) scores.
        """

    def catalogue_logits(self, queries: Tensor, table: Tensor, ids: Tensor) -> Tensor:
        """Score every item of ``table`` once, then pick each query's ``ids``.

        Args:
            queries: (Q, D) postprocessed user embeddings.
            table: (I+1, D) postprocessed embeddings of every item id.
            ids: (Q, K) int64 item ids wanted for each query.

        Returns:
            (Q, K) scores, equal to scoring the gathered items directly.
        """
        all_ids = torch.arange(table.shape[0], device=table.device).unsqueeze(0)
        scores = self(queries, table.unsqueeze(0), all_ids)  # (Q, I+1)
        return scores.gather(1, ids)


def group_queries(queries: Tensor, items: Tensor) -> Tensor:
    """View (Q, ...) queries as (C, Q / C, ...) to meet (C, X, D) candidate rows."""
    rows, total = items.shape[0], queries.shape[0]
    if rows == 0 or total % rows:
        raise ValueError(
            f"similarity: {total} queries cannot be split evenly over "
            f"{rows} candidate rows; expected rows = 1, = queries, or to divide them"
        )
    return queries.view(rows, total // rows, *queries.shape[1:])
