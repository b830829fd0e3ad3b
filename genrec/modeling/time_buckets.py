"""Bucketed log time gaps, shared by the input preprocessor and the HSTU bias.

A gap of g seconds falls in bucket floor(ln(max(|g|, 1)) / log_step), clamped
to [0, num_buckets]: gaps up to a second share bucket 0 and each next bucket
spans a factor of exp(log_step) in duration. The arithmetic is float64, exact
for epoch seconds, so buckets agree with a scalar reference to the last bit.

For the (B, N, N) gaps of attention, ``bucket_boundaries`` turns the formula
into integer thresholds once, and ``bucketize_integer_gaps`` compares int64
gaps against them: the same buckets, with no float tensor of that size.
"""

from __future__ import annotations

import torch
from torch import Tensor

_INT64_MAX = torch.iinfo(torch.int64).max


def bucketize_time_gaps(
    gaps_s: Tensor,
    num_buckets: int,
    log_step: float,
    *,
    dtype: torch.dtype = torch.int64,
) -> Tensor:
    """Map time gaps in seconds (any shape) to bucket indices of the same shape.

    Args:
        gaps_s: gaps in seconds, int64 or float64.
        num_buckets: the last bucket index (num_buckets + 1 buckets in all).
        log_step: width of a bucket in natural-log units, > 0.
        dtype: integer dtype of the result (int32 halves the memory).
    """
    if log_step <= 0:
        raise ValueError(f"log_step must be > 0, got {log_step}")
    magnitude = torch.abs(gaps_s.to(torch.float64))  # a new tensor: safe in place
    buckets = magnitude.clamp_(min=1.0).log_().div_(log_step)
    return buckets.clamp_(max=num_buckets).to(dtype)  # truncation = floor (>= 0)


def bucket_boundaries(num_buckets: int, log_step: float) -> Tensor:
    """Return (num_buckets,) int64: entry b-1 is the smallest gap in bucket >= b.

    Found by bisection on ``bucketize_time_gaps`` itself (float64, on CPU), so
    thresholding integer gaps reproduces its buckets exactly; the formula is
    monotone in the gap. A bucket no int64 gap reaches gets the int64 maximum.
    """
    targets = torch.arange(1, num_buckets + 1, dtype=torch.int64)  # (num_buckets,)
    low = torch.ones_like(targets)  # bucket(1 s) = 0 < every target
    high = torch.full_like(targets, 2**62)
    reachable = bucketize_time_gaps(high, num_buckets, log_step) >= targets
    while bool((high - low > 1).any()):
        middle = low + (high - low) // 2
        inside = bucketize_time_gaps(middle, num_buckets, log_step) >= targets
        high = torch.where(inside, middle, high)
        low = torch.where(inside, low, middle)
    return torch.where(reachable, high, _INT64_MAX)


def bucketize_integer_gaps(
    gaps_s: Tensor, boundaries: Tensor, *, dtype: torch.dtype = torch.int32
) -> Tensor:
    """Bucket int64 gaps (any shape) by ``bucket_boundaries``; overwrites ``gaps_s``.

    Args:
        gaps_s: int64 gaps in seconds; replaced by their magnitudes.
        boundaries: (num_buckets,) int64 from ``bucket_boundaries``, same device.
        dtype: torch.int32 or torch.int64.
    """
    magnitude = gaps_s.abs_()
    return torch.searchsorted(
        boundaries, magnitude, right=True, out_int32=dtype == torch.int32
    )
