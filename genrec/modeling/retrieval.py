"""Exact full-catalogue retrieval: chunked top-K and target ranks.

Candidates are the items 1..num_items (0 is padding and never a candidate),
scored chunk by chunk so memory stays bounded whatever the catalogue size; each
user may exclude a set of items (usually its history), given as jagged pairs.
Any similarity works, so Mixture-of-Logits top-K is exact too.

Ties: a target's rank is 1 + the number of non-excluded candidates other than
the target that score strictly higher, so ties resolve in the target's favour.
Scores are computed in float32 with autocast off to keep ties rare.

Shape legend: B users (queries), C candidates in a chunk, E excluded pairs,
K results per user, D query dim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

#: scores a (C,) int64 chunk of item ids for every query: -> (B, C) float32.
ChunkScorer = Callable[[Tensor], Tensor]

#: default bound on the floats one chunk of scores (times the similarity's
#: per-score work) may hold: 2**25 floats is 128 MiB in float32.
DEFAULT_CHUNK_FLOATS = 2**25


@dataclass
class ExcludedItems:
    """Per-user items that must not be returned, as jagged (user, item) pairs.

    Attributes:
        user_index: (E,) int64 row of the user in the batch, 0..B-1.
        item_ids: (E,) int64 item excluded for that user.
    """

    user_index: Tensor
    item_ids: Tensor


def chunk_size_for(
    num_queries: int, work_per_score: int, max_floats: int = DEFAULT_CHUNK_FLOATS
) -> int:
    """Return a chunk size whose score work stays under ``max_floats``."""
    return max(1, max_floats // max(1, num_queries * work_per_score))


def top_k(
    score_chunk: ChunkScorer,
    num_queries: int,
    num_items: int,
    k: int,
    *,
    excluded: ExcludedItems | None,
    chunk_size: int,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Return the exact top ``k`` items of the catalogue for every query.

    Returns:
        scores (B, K) float32, best first, and item_ids (B, K) int64. Where fewer
        than K candidates remain, the rest is score -inf with item id 0.
    """
    best_scores = torch.full((num_queries, k), float("-inf"), device=device)
    best_ids = torch.zeros((num_queries, k), dtype=torch.int64, device=device)
    for ids, scores in _scored_chunks(
        score_chunk, num_queries, num_items, excluded, chunk_size, device
    ):
        chunk_best = scores.topk(min(k, ids.numel()), dim=1)  # (B, <=K)
        merged_scores = torch.cat([best_scores, chunk_best.values], dim=1)
        merged_ids = torch.cat([best_ids, ids[chunk_best.indices]], dim=1)
        keep = merged_scores.topk(k, dim=1).indices  # (B, K) int64
        best_scores = merged_scores.gather(1, keep)
        best_ids = merged_ids.gather(1, keep)
    # Excluded items score -inf; they fill the tail only when candidates run out.
    best_ids = best_ids.masked_fill(best_scores == float("-inf"), 0)
    return best_scores, best_ids


def rank_targets(
    score_chunk: ChunkScorer,
    target_scores: Tensor,
    target_ids: Tensor,
    num_items: int,
    *,
    excluded: ExcludedItems | None,
    chunk_size: int,
) -> Tensor:
    """Return the (B,) int64 1-based full-catalogue rank of each target (no cap).

    Args:
        score_chunk: scores a chunk of ids for every query.
        target_scores: (B,) float32 score of each user's target.
        target_ids: (B,) int64 target items; never counted against themselves.
        num_items: catalogue size.
        excluded: items that are not candidates for each user.
        chunk_size: candidates per chunk.
    """
    num_queries = target_ids.numel()
    device = target_ids.device
    higher = torch.zeros(num_queries, dtype=torch.int64, device=device)
    for ids, scores in _scored_chunks(
        score_chunk, num_queries, num_items, excluded, chunk_size, device
    ):
        beats = scores > target_scores.unsqueeze(1)  # (B, C) bool
        beats &= ids.unsqueeze(0) != target_ids.unsqueeze(1)
        higher += beats.sum(dim=1)
    return higher + 1


def _scored_chunks(
    score_chunk: ChunkScorer,
    num_queries: int,
    num_items: int,
    excluded: ExcludedItems | None,
    chunk_size: int,
    device: torch.device,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield ((C,) int64 ids, (B, C) float32 scores with exclusions at -inf)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    for start in range(1, num_items + 1, chunk_size):
        end = min(start + chunk_size, num_items + 1)
        ids = torch.arange(start, end, device=device)  # (C,) int64
        scores = score_chunk(ids).float()  # (B, C)
        if excluded is not None:
            hidden = _excluded_mask(excluded, num_queries, start, end - start)
            scores = scores.masked_fill(hidden, float("-inf"))
        yield ids, scores


def _excluded_mask(
    excluded: ExcludedItems, num_queries: int, start: int, width: int
) -> Tensor:
    """Return the (B, C) bool mask of excluded pairs inside [start, start+width)."""
    column = excluded.item_ids - start  # (E,) int64
    inside = (column >= 0) & (column < width)
    # Pairs outside the chunk all land on one spare slot, dropped below, so the
    # shapes never depend on the data.
    spare = num_queries * width
    flat = torch.where(inside, excluded.user_index * width + column, spare)
    mask = torch.zeros(spare + 1, dtype=torch.bool, device=column.device)
    mask.index_fill_(0, flat, True)
    return mask[:spare].view(num_queries, width)
