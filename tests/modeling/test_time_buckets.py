import math

import pytest
import torch

from genrec.modeling.time_buckets import (
    bucket_boundaries,
    bucketize_integer_gaps,
    bucketize_time_gaps,
)


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


@pytest.mark.parametrize(("num_buckets", "log_step"), [(128, 0.301), (16, 0.7)])
def test_integer_boundaries_give_the_float64_formulas_buckets(num_buckets, log_step):
    boundaries = bucket_boundaries(num_buckets, log_step)
    assert boundaries.dtype == torch.int64 and boundaries.shape == (num_buckets,)
    reachable = boundaries[boundaries < 2**62]
    around = (reachable.unsqueeze(1) + torch.arange(-3, 4)).flatten()
    gaps = torch.cat(
        [
            torch.arange(-5_000, 5_000),
            around,
            -around,
            torch.randint(-(10**12), 10**12, (20_000,)),
            torch.tensor([2**62, -(2**62)]),
        ]
    )
    expected = bucketize_time_gaps(gaps, num_buckets, log_step, dtype=torch.int32)
    buckets = bucketize_integer_gaps(gaps.clone(), boundaries)
    assert buckets.dtype == torch.int32
    assert torch.equal(buckets, expected)
    scalar = [
        min(int(math.log(max(abs(g), 1)) / log_step), num_buckets)
        for g in around.tolist()
    ]
    assert buckets[10_000 : 10_000 + around.numel()].tolist() == scalar
