import numpy as np
import pytest

from genrec.training.splits import split_protocol


def test_reference_trains_on_all_but_last_and_tests_the_last():
    protocol = split_protocol("reference")
    lengths = np.array([5, 2, 1])
    assert protocol.train_lengths(lengths).tolist() == [4, 1, 0]
    assert protocol.target_positions(lengths, "test").tolist() == [4, 1, 0]
    assert protocol.selection_split == "test"
    with pytest.raises(ValueError, match="not part of the 'reference' protocol"):
        protocol.target_positions(lengths, "valid")


def test_valid_test_holds_out_the_last_two():
    protocol = split_protocol("valid_test")
    lengths = np.array([5, 3])
    assert protocol.train_lengths(lengths).tolist() == [3, 1]
    assert protocol.target_positions(lengths, "valid").tolist() == [3, 1]
    assert protocol.target_positions(lengths, "test").tolist() == [4, 2]
    assert protocol.selection_split == "valid"


def test_unknown_protocol_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"\['reference', 'valid_test'\]"):
        split_protocol("leave_one_out")
