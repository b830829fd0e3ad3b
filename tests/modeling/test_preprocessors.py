import math

import pytest
import torch

from genrec.modeling.batch import SequenceBatch
from genrec.modeling.preprocessors import LearnablePositionalPreprocessor


def test_scaled_embeddings_plus_positions_counted_from_the_oldest_item():
    pre = LearnablePositionalPreprocessor(max_length=4, embedding_dim=3, dropout=0.0)
    batch = SequenceBatch.from_sequences([[7, 8, 9], [5]])
    embeddings = torch.randn(4, 3)
    out = pre(embeddings, batch)
    positions = pre.position.weight[[0, 1, 2, 0]]
    torch.testing.assert_close(out, embeddings * math.sqrt(3) + positions)


def test_rating_and_time_features_change_the_input():
    batch = SequenceBatch.from_sequences(
        [[1, 2, 3]], [[0, 10, 10_000]], ratings=[[1.0, 3.0, 5.0]]
    )
    embeddings = torch.zeros(3, 4)
    plain = LearnablePositionalPreprocessor(8, 4, dropout=0.0)
    rich = LearnablePositionalPreprocessor(
        8, 4, dropout=0.0, use_ratings=True, time_buckets=20
    )
    rich.position.load_state_dict(plain.position.state_dict())
    difference = rich(embeddings, batch) - plain(embeddings, batch)
    rating_part = rich.rating(batch.ratings.unsqueeze(-1))
    time_part = rich.time(torch.tensor([0, 7, 20]))  # ln(10)/.301; 30 clamped to 20
    torch.testing.assert_close(difference, rating_part + time_part)


def test_ratings_are_required_when_configured():
    pre = LearnablePositionalPreprocessor(8, 4, use_ratings=True)
    with pytest.raises(ValueError, match="no ratings"):
        pre(torch.zeros(2, 4), SequenceBatch.from_sequences([[1, 2]]))


def test_histories_longer_than_max_length_are_rejected():
    pre = LearnablePositionalPreprocessor(max_length=2, embedding_dim=4)
    with pytest.raises(ValueError, match="truncate when batching"):
        pre(torch.zeros(3, 4), SequenceBatch.from_sequences([[1, 2, 3]]))
