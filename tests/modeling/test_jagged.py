import pytest
import torch

from genrec.modeling import jagged


def _offsets(lengths):
    return jagged.lengths_to_offsets(torch.tensor(lengths))


def test_offsets_are_the_complete_cumulative_sum():
    assert _offsets([2, 0, 3]).tolist() == [0, 2, 2, 5]


def test_positions_restart_in_every_sequence():
    assert jagged.positions(_offsets([2, 0, 3]), 5).tolist() == [0, 1, 0, 1, 2]


@pytest.mark.parametrize("use_fbgemm", [True, False])
def test_padding_round_trip_keeps_values_and_gradients(monkeypatch, use_fbgemm):
    if use_fbgemm and not jagged.HAVE_FBGEMM:
        pytest.skip("fbgemm_gpu is not installed")
    monkeypatch.setattr(jagged, "HAVE_FBGEMM", use_fbgemm)
    offsets = _offsets([2, 0, 3, 1])
    values = torch.randn(6, 4, requires_grad=True)

    dense = jagged.to_padded(values, offsets, 3)  # (4, 3, 4)
    assert dense.shape == (4, 3, 4)
    assert torch.equal(dense[2, :3], values[2:5].detach())
    assert torch.equal(dense[1], torch.zeros(3, 4))
    assert torch.equal(dense[0, 2], torch.zeros(4))
    back = jagged.from_padded(dense, offsets, 6)
    assert torch.equal(back, values.detach())

    back.sum().backward()
    assert torch.equal(values.grad, torch.ones(6, 4))


def test_torch_fallback_matches_fbgemm(monkeypatch):
    if not jagged.HAVE_FBGEMM:
        pytest.skip("fbgemm_gpu is not installed")
    offsets = _offsets([5, 1, 0, 4])
    values = torch.randn(10, 3)
    expected = jagged.to_padded(values, offsets, 4)  # truncates the 5-long one
    monkeypatch.setattr(jagged, "HAVE_FBGEMM", False)
    assert torch.equal(jagged.to_padded(values, offsets, 4), expected)


def test_keep_most_recent_drops_the_oldest_items():
    lengths = torch.tensor([4, 1, 0, 3])
    values = torch.arange(8)
    new_lengths, (kept,) = jagged.keep_most_recent(lengths, [values], 2)
    assert new_lengths.tolist() == [2, 1, 0, 2]
    assert kept.tolist() == [2, 3, 4, 6, 7]


def test_last_element_is_zero_for_empty_sequences():
    offsets = _offsets([2, 0, 1])
    values = torch.tensor([[1.0], [2.0], [3.0]])
    assert jagged.last_element(values, offsets).flatten().tolist() == [2.0, 0.0, 3.0]
