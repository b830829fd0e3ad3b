from collections import Counter

import numpy as np
import pytest

from genrec.training.dataset import SequenceDataset
from genrec.training.popularity import popularity_metrics, popularity_ranks


def _slow_ranks(histories, num_items, held_out, max_length):
    """Rank each target by popularity (ties: larger id first) among unseen items."""
    counts = Counter()
    for history in histories:
        counts.update(history[: len(history) - held_out])
    ranks = []
    for history in histories:
        target_index = len(history) - held_out
        if target_index < 1:
            continue
        target = history[target_index]
        seen = set(history[:target_index][-max_length:]) - {target}
        candidates = [i for i in range(1, num_items + 1) if i not in seen]
        candidates.sort(key=lambda item: (-counts[item], -item))
        ranks.append(candidates.index(target) + 1)
    return ranks


@pytest.mark.parametrize("full_history", [True, False])
@pytest.mark.parametrize(
    ("protocol", "split", "held_out"),
    [("reference", "test", 1), ("valid_test", "valid", 2), ("valid_test", "test", 1)],
)
def test_popularity_ranks_match_a_slow_reference(
    history_folder, protocol, split, held_out, full_history
):
    rng = np.random.default_rng(2)
    # Skewed ids so counts differ and ties occur.
    histories = [
        (rng.zipf(1.6, size=n) % 40 + 1).tolist() for n in rng.integers(0, 25, size=60)
    ]
    dataset = SequenceDataset(
        history_folder(histories, num_items=45),
        protocol=protocol,
        max_sequence_length=6,
        exclude_full_history=full_history,
    )
    expected = _slow_ranks(histories, 45, held_out, 10**6 if full_history else 6)
    assert popularity_ranks(dataset, split).tolist() == expected


def test_most_popular_unseen_target_has_rank_one(history_folder):
    histories = [[1, 2, 3], [2, 3, 1], [4, 2, 5], [4, 3, 2]]
    dataset = SequenceDataset(
        history_folder(histories, num_items=5), protocol="reference"
    )
    # Visible counts: 2 -> 3, then 4 and 3 (tied: larger id first); user 4 saw 4, 3.
    assert popularity_ranks(dataset, "test").tolist()[3] == 1
    metrics = popularity_metrics(dataset, "test")
    assert set(metrics) >= {"hr@10", "ndcg@10", "mrr"}
