import numpy as np
import pytest
import torch

from genrec.training.dataset import SequenceDataset
from genrec.training.sequences import read_sequences

HISTORIES = [[1, 2, 3, 4, 5, 6, 7], [8, 9], [3], [], [4, 5, 6], list(range(1, 21))]


def _dataset(history_folder, **kwargs):
    return SequenceDataset(history_folder(HISTORIES), **kwargs)


def _per_user(values: torch.Tensor, offsets: torch.Tensor) -> list[list]:
    return [
        values[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:], strict=True)
    ]


def test_training_window_is_latest_items_supervised_by_the_next(history_folder):
    dataset = _dataset(history_folder, protocol="reference", max_sequence_length=4)
    rows = np.arange(len(HISTORIES))
    batch = dataset.training_batch(rows, np.random.default_rng(0))

    # Slow reference: all but the last item, keep the latest L + 1, shift by one.
    expected_inputs, expected_next = [], []
    for history in HISTORIES:
        window = history[:-1][-5:]
        expected_inputs.append(window[:-1])
        expected_next.append(window[1:])
    assert _per_user(batch.item_ids, batch.offsets) == expected_inputs
    assert _per_user(batch.next_item_ids, batch.offsets) == expected_next
    assert batch.max_length == 4
    assert batch.target_ids is None
    assert batch.item_ids.dtype == torch.int64


def test_evaluation_history_is_latest_items_before_the_target(history_folder):
    dataset = _dataset(history_folder, protocol="valid_test", max_sequence_length=3)
    for split, held_out in [("valid", 2), ("test", 1)]:
        rows = dataset.evaluation_rows(split)
        batch = dataset.evaluation_batch(rows, split)
        expected_rows = [i for i, h in enumerate(HISTORIES) if len(h) - held_out >= 1]
        assert rows.tolist() == expected_rows
        expected = [HISTORIES[i][: len(HISTORIES[i]) - held_out][-3:] for i in rows]
        assert _per_user(batch.item_ids, batch.offsets) == expected
        targets = [HISTORIES[i][len(HISTORIES[i]) - held_out] for i in rows]
        assert batch.target_ids.tolist() == targets
        assert batch.user_ids.tolist() == [i + 1 for i in rows]
        assert not batch.next_item_ids.any()


def test_sampling_keeps_ids_ratings_and_timestamps_aligned(history_folder):
    histories = [list(range(1, 301)), list(range(50, 120))]
    dataset = SequenceDataset(
        history_folder(histories),
        protocol="reference",
        max_sequence_length=400,
        sampling_ratio=0.5,
    )
    batch = dataset.training_batch(np.array([0, 1]), np.random.default_rng(3))
    items = batch.item_ids.numpy()
    # The fixture stores timestamp = 1000 * item + position and rating = item / 10.
    assert np.array_equal(batch.timestamps.numpy() // 1000, items)
    assert np.allclose(batch.ratings.numpy(), items / 10)
    kept = [len(window) + 1 for window in _per_user(batch.item_ids, batch.offsets)]
    assert 0.35 < kept[0] / 299 < 0.65
    # The latest training item is always kept, as the last supervised target.
    assert _per_user(batch.next_item_ids, batch.offsets)[0][-1] == 299
    assert all(np.all(np.diff(u) > 0) for u in _per_user(batch.item_ids, batch.offsets))


def test_sampling_is_reproducible_from_the_generator(history_folder):
    dataset = _dataset(history_folder, protocol="reference", sampling_ratio=0.6)
    rows = np.arange(len(HISTORIES))
    first = dataset.training_batch(rows, np.random.default_rng(11))
    again = dataset.training_batch(rows, np.random.default_rng(11))
    assert torch.equal(first.item_ids, again.item_ids)
    assert torch.equal(first.offsets, again.offsets)


def test_users_without_two_training_items_are_not_trained_on(history_folder):
    dataset = _dataset(history_folder, protocol="valid_test")
    lengths = [len(h) for h in HISTORIES]
    assert dataset.training_rows().tolist() == [
        i for i, n in enumerate(lengths) if n - 2 >= 2
    ]


@pytest.mark.parametrize("ratio", [0.0, 1.5])
def test_sampling_ratio_outside_unit_interval_is_rejected(history_folder, ratio):
    with pytest.raises(ValueError, match="sampling_ratio"):
        _dataset(history_folder, sampling_ratio=ratio)


def test_random_batches_match_a_slow_reference(history_folder):
    rng = np.random.default_rng(5)
    histories = [
        rng.integers(1, 50, size=n).tolist() for n in rng.integers(0, 30, size=40)
    ]
    folder = history_folder(histories, num_items=50)
    dataset = SequenceDataset(folder, protocol="valid_test", max_sequence_length=7)
    table = read_sequences(folder)
    rows = rng.permutation(dataset.evaluation_rows("test"))
    batch = dataset.evaluation_batch(rows, "test")
    for user, row in enumerate(rows):
        start, end = table.offsets[row], table.offsets[row + 1]
        items = table.item_ids[start:end].tolist()
        got = batch.item_ids[batch.offsets[user] : batch.offsets[user + 1]].tolist()
        assert got == items[:-1][-7:]


def test_sampled_inputs_are_supervised_by_the_next_kept_item(history_folder):
    histories = [list(range(1, 41)), list(range(100, 130))]
    dataset = SequenceDataset(
        history_folder(histories),
        protocol="reference",
        max_sequence_length=400,
        sampling_ratio=0.4,
    )
    batch = dataset.training_batch(np.array([0, 1]), np.random.default_rng(5))

    inputs = _per_user(batch.item_ids, batch.offsets)
    targets = _per_user(batch.next_item_ids, batch.offsets)
    for history, kept, following in zip(histories, inputs, targets, strict=True):
        # The sampled history is a sequence in its own right: each kept item
        # predicts the next kept one, and the window ends on the latest
        # training item (the reference protocol trains on all but the last).
        assert following[:-1] == kept[1:]
        assert following[-1] == history[-2]
        assert len(kept) < len(history) - 2
