"""Jagged sequences: flat values plus offsets, padded only where attention needs it.

A batch of B variable-length sequences is stored as ``values`` of shape (T, ...)
holding every element back to back, and ``offsets`` of shape (B+1,) int64 with
``offsets[0] = 0`` and ``offsets[-1] = T``; sequence b is
``values[offsets[b]:offsets[b+1]]``. Padded views are left-aligned: position 0 is
the oldest kept element and padding follows the last real one.

The fbgemm_gpu kernels are used when the package is importable (the ``cpu`` and
``cuda`` extras install it); a pure torch path built from index ops gives the same
numbers otherwise. Both paths keep autograd and never synchronize with the host.

Shape legend: B sequences, N padded length, T total elements, F feature width.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

# fbgemm_gpu announces each of its libraries at INFO on the root logger (14
# lines in every process); INFO is muted while it loads, its errors still show.
logging.disable(logging.INFO)
try:
    import fbgemm_gpu  # noqa: F401  (registers torch.ops.fbgemm.*)

    HAVE_FBGEMM = True
except ImportError:  # pragma: no cover - depends on the installed extra
    HAVE_FBGEMM = False
finally:
    logging.disable(logging.NOTSET)
if not HAVE_FBGEMM:  # pragma: no cover - depends on the installed extra
    logger.info("fbgemm_gpu not importable; jagged ops use the torch fallback")


def lengths_to_offsets(lengths: Tensor) -> Tensor:
    """Return the (B+1,) int64 offsets of sequences with the given (B,) lengths."""
    lengths = lengths.to(torch.int64)
    if HAVE_FBGEMM:
        return torch.ops.fbgemm.asynchronous_complete_cumsum(lengths)
    return torch.nn.functional.pad(torch.cumsum(lengths, dim=0), (1, 0))


def offsets_to_lengths(offsets: Tensor) -> Tensor:
    """Return the (B,) lengths of the sequences delimited by (B+1,) offsets."""
    return offsets[1:] - offsets[:-1]


def segment_ids(offsets: Tensor, total: int) -> Tensor:
    """Return the (T,) int64 index of the sequence each element belongs to."""
    lengths = offsets_to_lengths(offsets)
    sequence_index = torch.arange(lengths.numel(), device=offsets.device)
    return torch.repeat_interleave(sequence_index, lengths, output_size=total)


def positions(offsets: Tensor, total: int) -> Tensor:
    """Return the (T,) int64 position of each element inside its own sequence."""
    flat = torch.arange(total, device=offsets.device)
    return flat - offsets[segment_ids(offsets, total)]


def to_padded(
    values: Tensor, offsets: Tensor, max_length: int, padding_value: float = 0.0
) -> Tensor:
    """Pad jagged values to a dense, left-aligned tensor.

    Elements beyond ``max_length`` in a sequence are dropped; callers truncate to
    the most recent elements beforehand (see ``keep_most_recent``).

    Args:
        values: (T,) or (T, F).
        offsets: (B+1,) int64.
        max_length: N, the padded length.
        padding_value: value written into padded slots.

    Returns:
        (B, N) or (B, N, F), same dtype as ``values``.
    """
    # Integer tensors (timestamps, ids) take the index path: it needs no
    # autograd and does not depend on which dtypes a kernel build covers.
    if HAVE_FBGEMM and values.is_floating_point():
        return torch.ops.fbgemm.jagged_to_padded_dense(
            values, [offsets], [max_length], padding_value=padding_value
        )
    return _to_padded_torch(values, offsets, max_length, padding_value)


def from_padded(dense: Tensor, offsets: Tensor, total: int) -> Tensor:
    """Gather the real elements of a left-aligned padded tensor back to jagged form.

    Args:
        dense: (B, N, F).
        offsets: (B+1,) int64.
        total: T, the number of real elements (passed to avoid a host sync).

    Returns:
        (T, F).
    """
    if HAVE_FBGEMM:
        values, _ = torch.ops.fbgemm.dense_to_jagged(dense, [offsets], total_L=total)
        return values
    batch, max_length = dense.shape[0], dense.shape[1]
    flat_index = _flat_index(offsets, total, max_length)
    return dense.reshape(batch * max_length, -1).index_select(0, flat_index)


def padding_mask(offsets: Tensor, max_length: int) -> Tensor:
    """Return the (B, N) bool mask that is True on real (non-padded) positions."""
    lengths = offsets_to_lengths(offsets)
    arange = torch.arange(max_length, device=offsets.device)
    return arange.unsqueeze(0) < lengths.unsqueeze(1)


def last_element(values: Tensor, offsets: Tensor) -> Tensor:
    """Return each sequence's last element, zeros for empty sequences.

    Args:
        values: (T, F).
        offsets: (B+1,) int64.

    Returns:
        (B, F).
    """
    lengths = offsets_to_lengths(offsets)
    last_index = (offsets[1:] - 1).clamp(min=0)  # (B,) int64
    if values.shape[0] == 0:
        return values.new_zeros(lengths.numel(), *values.shape[1:])
    last = values.index_select(0, last_index)
    non_empty = (lengths > 0).view(-1, *([1] * (values.dim() - 1)))
    return torch.where(non_empty, last, torch.zeros_like(last))


def keep_most_recent(
    lengths: Tensor, values: list[Tensor], max_length: int
) -> tuple[Tensor, list[Tensor]]:
    """Truncate every sequence to its ``max_length`` most recent (last) elements.

    Args:
        lengths: (B,) int64 lengths of chronologically ordered sequences.
        values: jagged tensors sharing those lengths, each (T, ...).
        max_length: the longest sequence kept.

    Returns:
        The new (B,) lengths and the truncated jagged tensors, each (T', ...).
        Meant for batch collation: the boolean selection synchronizes with the host.
    """
    lengths = lengths.to(torch.int64)
    offsets = lengths_to_offsets(lengths)
    total = values[0].shape[0] if values else int(offsets[-1])
    new_lengths = lengths.clamp(max=max_length)
    # An element is kept when fewer than max_length elements follow it.
    remaining = offsets[1:][segment_ids(offsets, total)] - torch.arange(
        total, device=lengths.device
    )
    keep = remaining <= max_length  # (T,) bool
    return new_lengths, [v[keep] for v in values]


def _flat_index(offsets: Tensor, total: int, max_length: int) -> Tensor:
    """Return the (T,) row of each element in a (B*N, F) view of the padded tensor."""
    seg = segment_ids(offsets, total)
    pos = torch.arange(total, device=offsets.device) - offsets[seg]
    return seg * max_length + pos


def _to_padded_torch(
    values: Tensor, offsets: Tensor, max_length: int, padding_value: float
) -> Tensor:
    batch = offsets.numel() - 1
    total = values.shape[0]
    flat_index = _flat_index(offsets, total, max_length)  # (T,) int64
    in_range = positions(offsets, total) < max_length  # (T,) bool
    # Overlong elements go to a scratch row that is dropped after the copy.
    scratch = batch * max_length
    flat_index = torch.where(in_range, flat_index, torch.full_like(flat_index, scratch))
    width = values.shape[1:]
    dense = values.new_full((scratch + 1, *width), padding_value)
    dense = dense.index_copy(0, flat_index, values)
    return dense[:scratch].reshape(batch, max_length, *width)
