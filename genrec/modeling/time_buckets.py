"""Bucketed log time gaps, shared by the input preprocessor and the HSTU bias."""

from __future__ import annotations

import torch
from torch import Tensor


def bucketize_time_gaps(gaps_s: Tensor, num_buckets: int, log_step: float) -> Tensor:
    """Map time gaps in seconds to buckets on a log scale.

    Bucket ``floor(ln(max(|gap|, 1)) / log_step)`` clamped to [0, num_buckets], so
    gaps up to a second share bucket 0 and each next bucket spans a factor of
    ``exp(log_step)`` in duration.

    Args:
        gaps_s: int64 gaps in seconds, any shape.
        num_buckets: the last bucket index (num_buckets + 1 buckets in all).
        log_step: width of a bucket in natural-log units.

    Returns:
        int64 bucket indices, same shape as ``gaps_s``.
    """
    magnitude = gaps_s.abs().clamp(min=1).to(torch.float32)
    buckets = (torch.log(magnitude) / log_step).to(torch.int64)
    return buckets.clamp(min=0, max=num_buckets)
