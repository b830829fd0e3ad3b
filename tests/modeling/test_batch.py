import pytest
import torch

from genrec.modeling.batch import SequenceBatch


def test_next_items_shift_within_each_user_and_end_at_the_target():
    batch = SequenceBatch.from_sequences([[5, 6, 7], [], [9]], target_ids=[8, 3, 4])
    assert batch.offsets.tolist() == [0, 3, 3, 4]
    assert batch.next_item_ids.tolist() == [6, 7, 8, 4]
    assert batch.lengths.tolist() == [3, 0, 1]
    assert batch.max_length == 3


def test_last_position_is_unsupervised_without_targets():
    batch = SequenceBatch.from_sequences([[5, 6], [9]])
    assert batch.next_item_ids.tolist() == [6, 0, 0]
    assert batch.target_ids is None


def test_truncation_keeps_the_most_recent_items():
    batch = SequenceBatch.from_sequences(
        [[1, 2, 3, 4, 5], [6]], [[10, 20, 30, 40, 50], [60]], max_length=3
    )
    assert batch.item_ids.tolist() == [3, 4, 5, 6]
    assert batch.timestamps.tolist() == [30, 40, 50, 60]
    assert batch.next_item_ids.tolist() == [4, 5, 0, 0]
    assert batch.max_length == 3


def test_to_moves_every_tensor_and_keeps_python_fields():
    batch = SequenceBatch.from_sequences([[1, 2]], ratings=[[4.0, 5.0]])
    moved = batch.to(torch.device("cpu"))
    assert moved.max_length == 2
    assert moved.ratings is not None and moved.ratings.dtype == torch.float32
    assert moved.item_ids.dtype == torch.int64


def test_mismatched_lists_name_the_user_row():
    with pytest.raises(ValueError, match="user row 1: 2 item ids but 1 timestamps"):
        SequenceBatch.from_sequences([[1], [2, 3]], [[5], [6]])


def test_padding_id_in_a_history_is_rejected_with_its_position():
    with pytest.raises(ValueError, match="user row 0, position 1: item id 0"):
        SequenceBatch.from_sequences([[4, 0]])
