"""Dot-product similarity: score = <query, item>.

Shape legend: Q queries, C candidate rows, X candidates per row, D embedding dim,
I catalogue size, K ids picked per query.
"""

from __future__ import annotations

from typing import Any

import gin
import torch
from torch import Tensor

from genrec.modeling.similarity.base import Similarity, group_queries


class _GatheredTableProduct(torch.autograd.Function):
    """(Q, D) @ (I+1, D)^T, gathered at (Q, K) ids, reusing one (Q, I+1) buffer.

    Autograd's gather would allocate a fresh (Q, I+1) gradient each step; this
    keeps the forward scores and zeroes them into the gradient instead, which
    saves the allocation and its page faults on CPU. Inputs are float32.
    """

    @staticmethod
    def forward(ctx: Any, queries: Tensor, table: Tensor, ids: Tensor) -> Tensor:
        scores = queries @ table.transpose(0, 1)  # (Q, I+1)
        ctx.save_for_backward(queries, table, ids, scores)
        return scores.gather(1, ids)  # (Q, K)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        queries, table, ids, scores = ctx.saved_tensors
        # Backward never reads the scores, only reuses their storage. Writing
        # through .data leaves the saved tensor's version unchanged, so a
        # retain_graph backward can unpack the buffer again and re-zero it.
        dense = scores.data.zero_().scatter_add_(1, ids, grad)  # (Q, I+1)
        grad_queries = dense @ table if ctx.needs_input_grad[0] else None
        grad_table = (
            dense.transpose(0, 1) @ queries if ctx.needs_input_grad[1] else None
        )
        return grad_queries, grad_table, None


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

    def catalogue_logits(self, queries: Tensor, table: Tensor, ids: Tensor) -> Tensor:
        with torch.autocast(queries.device.type, enabled=False):
            return _GatheredTableProduct.apply(queries.float(), table.float(), ids)
