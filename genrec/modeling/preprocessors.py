"""Input preprocessing: item embeddings -> the sequence the encoder reads.

Shape legend: T history elements of the batch (jagged), D embedding dim.
"""

from __future__ import annotations

import abc
import math

import gin
import torch
from torch import Tensor, nn

from genrec.modeling import jagged
from genrec.modeling.batch import SequenceBatch
from genrec.modeling.embeddings import truncated_normal_
from genrec.modeling.time_buckets import bucketize_time_gaps


class InputPreprocessor(nn.Module, abc.ABC):
    """Turns (T, D) jagged item embeddings into (T, D) encoder inputs."""

    @abc.abstractmethod
    def forward(self, item_embeddings: Tensor, batch: SequenceBatch) -> Tensor:
        """Return the (T, D) encoder input for ``batch``."""


@gin.configurable
class LearnablePositionalPreprocessor(InputPreprocessor):
    """Scaled item embeddings plus learned positions, optional rating/time features.

    Position 0 is the oldest kept item of each history, so the representation of
    a position never depends on how many items follow it. Ratings enter through
    a linear map of the raw value; time through the bucketed log gap to the
    previous item of the same user (0 for the first).
    """

    def __init__(
        self,
        max_length: int = 200,
        embedding_dim: int = 50,
        dropout: float = 0.2,
        scale_embeddings: bool = True,
        use_ratings: bool = False,
        time_buckets: int = 0,
        time_log_step: float = 0.301,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.max_length = max_length
        self.scale = math.sqrt(embedding_dim) if scale_embeddings else 1.0
        self.position = nn.Embedding(max_length, embedding_dim)
        truncated_normal_(self.position.weight, init_std)
        self.rating = nn.Linear(1, embedding_dim) if use_ratings else None
        self.time_buckets = time_buckets
        self.time_log_step = time_log_step
        self.time = None
        if time_buckets > 0:
            self.time = nn.Embedding(time_buckets + 1, embedding_dim)
            truncated_normal_(self.time.weight, init_std)
        self.dropout = nn.Dropout(dropout)

    def forward(self, item_embeddings: Tensor, batch: SequenceBatch) -> Tensor:
        if batch.max_length > self.max_length:
            raise ValueError(
                f"batch holds a history of {batch.max_length} items but the "
                f"preprocessor max_length is {self.max_length}; truncate when batching"
            )
        position = jagged.positions(batch.offsets, batch.total)  # (T,) int64
        x = item_embeddings * self.scale + self.position(position)  # (T, D)
        if self.rating is not None:
            if batch.ratings is None:
                raise ValueError("use_ratings=True but the batch carries no ratings")
            x = x + self.rating(batch.ratings.to(x.dtype).unsqueeze(-1))
        if self.time is not None:
            x = x + self.time(self._time_buckets(batch, position))
        x = self.dropout(x)
        real = (batch.item_ids != 0).unsqueeze(-1)  # (T, 1) bool
        return x * real

    def _time_buckets(self, batch: SequenceBatch, position: Tensor) -> Tensor:
        timestamps = batch.timestamps  # (T,) int64 epoch seconds
        previous = torch.cat([timestamps[:1], timestamps[:-1]])  # (T,)
        gaps_s = torch.where(position > 0, timestamps - previous, 0)  # (T,) int64
        return bucketize_time_gaps(gaps_s, self.time_buckets, self.time_log_step)
