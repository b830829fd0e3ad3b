"""Mixture-of-Logits (MoL) similarity (Zhai et al., KDD 2023; used in HSTU).

    phi(q, x) = sum_{p, k} pi_{p,k}(q, x) * <f_p(q), g_k(x)> / tau

Paper symbol -> name here:
    f_p(q), p < P_q -> ``query_components`` (an MLP of the query embedding);
    g_k(x), k < P_x -> ``item_components`` (an MLP of the item embedding);
    <f_p(q), g_k(x)> -> component ``logits``, one per pair (p, k);
    pi(q, x) -> ``gates``: softmax over the P_q * P_x pairs of a query-side,
        an item-side and an interaction (from the logits) gating term;
    tau -> ``temperature``.
With ``l2_normalize`` each component embedding has unit norm, so every logit is a
cosine and the score lies in [-1/tau, 1/tau].

Shape legend: Q queries, C candidate rows, r = Q / C queries per row,
X candidates per row, D embedding dim, P = P_q * P_x pairs, Dc component dim.
"""

from __future__ import annotations

import gin
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genrec.modeling.similarity.base import Similarity, group_queries


def _component_mlp(embedding_dim: int, hidden_dim: int, width: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(embedding_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, width)
    )


@gin.configurable
class MixtureOfLogitsSimilarity(Similarity):
    """Gated mixture of P_q x P_x component dot products."""

    def __init__(
        self,
        embedding_dim: int = 50,
        query_components: int = 4,
        item_components: int = 4,
        component_dim: int = 32,
        hidden_dim: int = 128,
        gating_hidden_dim: int = 64,
        l2_normalize: bool = True,
        temperature: float = 1.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.query_components = query_components
        self.item_components = item_components
        self.component_dim = component_dim
        self.l2_normalize = l2_normalize
        self.temperature = temperature
        self.eps = eps
        pairs = query_components * item_components
        # Floats held per score: the interaction MLP's hidden layer twice (its
        # linear output and the SiLU of it, both kept for backward) and, per
        # pair, the logits, the interaction output, the gate logits and gates.
        self.work_per_score = 2 * gating_hidden_dim + 4 * pairs
        self.query_mlp = _component_mlp(
            embedding_dim, hidden_dim, query_components * component_dim
        )
        self.item_mlp = _component_mlp(
            embedding_dim, hidden_dim, item_components * component_dim
        )
        self.query_gate = _component_mlp(embedding_dim, gating_hidden_dim, pairs)
        self.item_gate = _component_mlp(embedding_dim, gating_hidden_dim, pairs)
        self.interaction_gate = _component_mlp(pairs, gating_hidden_dim, pairs)

    def forward(
        self, queries: Tensor, items: Tensor, item_ids: Tensor | None = None
    ) -> Tensor:
        num_candidates = items.shape[1]
        query_parts = self._components(self.query_mlp(queries), self.query_components)
        item_parts = self._components(self.item_mlp(items), self.item_components)
        query_parts = group_queries(query_parts, items)  # (C, r, P_q, Dc)

        logits = torch.einsum("crpd,cxkd->crxpk", query_parts, item_parts)
        logits = logits.flatten(-2)  # (C, r, X, P)
        query_gate = group_queries(self.query_gate(queries), items)  # (C, r, P)
        item_gate = self.item_gate(items)  # (C, X, P)
        gate_logits = (
            query_gate.unsqueeze(2)
            + item_gate.unsqueeze(1)
            + self.interaction_gate(logits)
        )  # (C, r, X, P)
        gates = F.softmax(gate_logits, dim=-1)
        scores = (gates * logits).sum(-1) / self.temperature  # (C, r, X)
        return scores.reshape(queries.shape[0], num_candidates)  # (Q, X)

    def _components(self, flat: Tensor, count: int) -> Tensor:
        """Split (..., count*Dc) MLP outputs into (..., count, Dc) components."""
        parts = flat.unflatten(-1, (count, self.component_dim))
        if self.l2_normalize:
            parts = F.normalize(parts, p=2.0, dim=-1, eps=self.eps)
        return parts
