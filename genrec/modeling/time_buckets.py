"""Bucketed log time gaps, shared by the input preprocessor and the HSTU bias.

A gap of g seconds falls in bucket floor(ln(max(|g|, 1)) / log_step), clamped
to [0, num_buckets]: gaps up to a second share bucket 0 and each next bucket
spans a factor of exp(log_step) in duration. The arithmetic is float64, exact
for epoch seconds, so buckets agree with a scalar reference to the last bit.
"""

from __future__ import annotations

import torch
from torch import Tensor


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
