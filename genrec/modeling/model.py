"""RetrievalModel: a generative retrieval model assembled from swappable parts.

    item ids -> embedding -> preprocessor -> encoder -> postprocessor -> queries
    queries x (postprocessed) item embeddings -> similarity -> scores

Training is autoregressive: the state at every position is a query whose
positive is the next item of the same user (``batch.next_item_ids``), contrasted
with sampled negatives. Retrieval uses the state at each user's last position.

Shape legend: B users, T history elements (jagged), D embedding dim, D' query
dim (= D for every postprocessor here), X negatives, R negative rows (1 or T),
K results per user.
"""

from __future__ import annotations

import gin
import torch
from torch import Tensor, nn

from genrec.modeling import jagged, retrieval
from genrec.modeling.batch import SequenceBatch
from genrec.modeling.embeddings import ItemEmbedding
from genrec.modeling.encoders.base import SequenceEncoder
from genrec.modeling.losses.base import RetrievalLoss
from genrec.modeling.negatives.base import NegativeSampler
from genrec.modeling.postprocessors import EmbeddingPostprocessor
from genrec.modeling.preprocessors import InputPreprocessor
from genrec.modeling.similarity.base import Similarity


@gin.configurable
class RetrievalModel(nn.Module):
    """Sequential retrieval model; ``num_items`` is taken from the embedding."""

    def __init__(
        self,
        embedding: ItemEmbedding,
        preprocessor: InputPreprocessor,
        encoder: SequenceEncoder,
        postprocessor: EmbeddingPostprocessor,
        similarity: Similarity,
        loss: RetrievalLoss,
        negative_sampler: NegativeSampler,
    ) -> None:
        super().__init__()
        self.embedding = embedding
        self.preprocessor = preprocessor
        self.encoder = encoder
        self.postprocessor = postprocessor
        self.similarity = similarity
        self.loss = loss
        self.negative_sampler = negative_sampler

    @property
    def num_items(self) -> int:
        return self.embedding.num_items

    def forward(self, batch: SequenceBatch) -> Tensor:
        """Return the scalar training loss averaged over supervised positions."""
        states = self.encode(batch)  # (T, D), autocast dtype
        positive_ids = batch.next_item_ids  # (T,) int64, 0 = unsupervised
        negatives = self.negative_sampler(positive_ids, self.num_items)

        # Scores are float32 even under bf16 autocast: at temperature 0.05 a
        # bf16 cosine (8-bit mantissa) would blur positives and negatives.
        with _autocast_off(states):
            queries = self.postprocessor(states.float())  # (T, D')
            if self._scores_whole_catalogue(negatives.ids):
                positive_logits, negative_logits = self._logits_from_catalogue(
                    queries, positive_ids, negatives.ids
                )
            else:
                positive_logits, negative_logits = self._logits_from_samples(
                    queries, positive_ids, negatives.ids
                )
        negative_valid = negatives.ids != positive_ids.unsqueeze(1)  # (T, X) bool
        if negatives.valid is not None:
            negative_valid = negative_valid & negatives.valid
        return self.loss(
            positive_logits, negative_logits, negative_valid, positive_ids != 0
        )

    def _scores_whole_catalogue(self, negative_ids: Tensor) -> bool:
        """Whether scoring every item costs no more memory than the sampled ones.

        Per query, the sampled path holds X gathered embeddings of width D; the
        catalogue path holds (num_items + 1) scores of the similarity's work.
        Small catalogues (MovieLens) then train through one dense matrix product
        instead of gathering T * X embeddings; the losses are identical.
        """
        rows, num_negatives = negative_ids.shape
        if rows == 1:
            return False
        sampled = num_negatives * self.embedding.embedding_dim
        catalogue = (self.num_items + 1) * self.similarity.work_per_score
        return catalogue <= sampled

    def _logits_from_catalogue(
        self, queries: Tensor, positive_ids: Tensor, negative_ids: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Score every item once, then pick the (T,) positive and (T, X) negatives."""
        all_ids = torch.arange(self.num_items + 1, device=queries.device)
        (table,) = self.item_vectors(all_ids)  # (I+1, D)
        wanted = torch.cat([positive_ids.unsqueeze(1), negative_ids], dim=1)
        logits = self.similarity.catalogue_logits(queries, table, wanted)  # (T, 1+X)
        return logits[:, 0], logits[:, 1:]

    def _logits_from_samples(
        self, queries: Tensor, positive_ids: Tensor, negative_ids: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Gather the sampled embeddings and score them: (T,) and (T, X) logits."""
        positive_items, negative_items = self.item_vectors(
            positive_ids.unsqueeze(1), negative_ids
        )  # (T, 1, D), (R, X, D)
        positive_logits = self.similarity(
            queries, positive_items, positive_ids.unsqueeze(1)
        ).squeeze(1)  # (T,)
        negative_logits = self.similarity(queries, negative_items, negative_ids)
        return positive_logits, negative_logits

    def encode(self, batch: SequenceBatch) -> Tensor:
        """Return the (T, D) encoder state at every history position."""
        x = self.embedding(batch.item_ids)  # (T, D)
        x = self.preprocessor(x, batch)
        return self.encoder(x, batch)

    def query_embeddings(self, batch: SequenceBatch) -> Tensor:
        """Return the (B, D') query at each user's last position (0 if empty)."""
        states = self.encode(batch)  # (T, D)
        return self.postprocessor(jagged.last_element(states, batch.offsets))

    def item_vectors(self, *item_ids: Tensor) -> tuple[Tensor, ...]:
        """Return postprocessed item embeddings for each id tensor, shape (..., D).

        When the ids outnumber the catalogue, the whole table is postprocessed
        once and gathered: the same numbers for less work and memory.
        """
        requested = sum(ids.numel() for ids in item_ids)
        if requested <= self.num_items + 1:
            return tuple(self.postprocessor.items(self.embedding(i)) for i in item_ids)
        all_ids = torch.arange(self.num_items + 1, device=item_ids[0].device)
        table = self.postprocessor.items(self.embedding(all_ids))  # (I+1, D)
        # index_select's backward is one index_add, much faster on CPU than
        # the sort-based embedding backward for millions of ids.
        return tuple(
            table.index_select(0, ids.reshape(-1)).view(*ids.shape, -1)
            for ids in item_ids
        )

    @torch.no_grad()
    def rank_targets(
        self,
        batch: SequenceBatch,
        *,
        exclude_history: bool = True,
        chunk_size: int | None = None,
        also_excluded: retrieval.ExcludedItems | None = None,
    ) -> Tensor:
        """Return the (B,) int64 full-catalogue 1-based rank of ``batch.target_ids``.

        Candidates are items 1..num_items, minus each user's history when
        ``exclude_history`` and minus ``also_excluded`` (e.g. history older than
        the batch's window); see ``genrec.modeling.retrieval`` for tie handling.
        """
        if batch.target_ids is None:
            raise ValueError("rank_targets needs a batch with target_ids")
        queries = self.query_embeddings(batch).float()  # (B, D')
        targets = batch.target_ids
        with _autocast_off(queries):
            (target_items,) = self.item_vectors(targets.unsqueeze(1))  # (B, 1, D)
            target_scores = self.similarity(
                queries, target_items.float(), targets.unsqueeze(1)
            ).squeeze(1)  # (B,)
            return retrieval.rank_targets(
                self._chunk_scorer(queries),
                target_scores.float(),
                targets,
                self.num_items,
                excluded=_merge_excluded(
                    self._excluded(batch) if exclude_history else None, also_excluded
                ),
                chunk_size=chunk_size or self._default_chunk(queries.shape[0]),
            )

    @torch.no_grad()
    def top_k(
        self,
        batch: SequenceBatch,
        k: int,
        *,
        exclude_history: bool = True,
        chunk_size: int | None = None,
        also_excluded: retrieval.ExcludedItems | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Return the exact top ``k`` items per user: scores (B, K), item_ids (B, K).

        Candidates are items 1..num_items, minus each user's history when
        ``exclude_history`` and minus ``also_excluded`` (e.g. history older than
        the batch's window). Where fewer than K candidates remain, trailing
        slots hold -inf and id 0.
        """
        queries = self.query_embeddings(batch).float()  # (B, D')
        with _autocast_off(queries):
            return retrieval.top_k(
                self._chunk_scorer(queries),
                queries.shape[0],
                self.num_items,
                k,
                excluded=_merge_excluded(
                    self._excluded(batch) if exclude_history else None, also_excluded
                ),
                chunk_size=chunk_size or self._default_chunk(queries.shape[0]),
                device=queries.device,
            )

    def _chunk_scorer(self, queries: Tensor) -> retrieval.ChunkScorer:
        def score(ids: Tensor) -> Tensor:
            (items,) = self.item_vectors(ids.unsqueeze(0))  # (1, C, D)
            return self.similarity(queries, items.float(), ids.unsqueeze(0))

        return score

    def _default_chunk(self, num_queries: int) -> int:
        return retrieval.chunk_size_for(num_queries, self.similarity.work_per_score)

    @staticmethod
    def _excluded(batch: SequenceBatch) -> retrieval.ExcludedItems:
        return retrieval.ExcludedItems(
            user_index=jagged.segment_ids(batch.offsets, batch.total),
            item_ids=batch.item_ids,
        )


def _merge_excluded(
    *parts: retrieval.ExcludedItems | None,
) -> retrieval.ExcludedItems | None:
    present = [part for part in parts if part is not None]
    if len(present) < 2:
        return present[0] if present else None
    return retrieval.ExcludedItems(
        user_index=torch.cat([part.user_index for part in present]),
        item_ids=torch.cat([part.item_ids for part in present]),
    )


def _autocast_off(reference: Tensor) -> torch.autocast:
    return torch.autocast(device_type=reference.device.type, enabled=False)
