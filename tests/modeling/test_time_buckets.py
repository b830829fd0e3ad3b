import math

import torch

from genrec.modeling.time_buckets import bucketize_time_gaps


def test_buckets_follow_the_log_formula_and_clamp():
    gaps = torch.tensor([-50, 0, 1, 2, 3, 59, 3_600, 86_400, 10**9, 2**62])
    buckets = bucketize_time_gaps(gaps, num_buckets=60, log_step=0.301)
    expected = [min(int(math.log(max(abs(g), 1)) / 0.301), 60) for g in gaps.tolist()]
    assert buckets.tolist() == expected
    assert buckets.dtype == torch.int64
    assert buckets[-1] == 60


def test_int32_output_and_input_left_untouched():
    gaps = torch.tensor([[5.0, -7.0]], dtype=torch.float64)
    buckets = bucketize_time_gaps(gaps, 10, 1.0, dtype=torch.int32)
    assert buckets.dtype == torch.int32 and buckets.tolist() == [[1, 1]]
    assert gaps.tolist() == [[5.0, -7.0]]
