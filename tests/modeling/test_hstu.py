"""HSTU against a plain per-user, per-position reference written here."""

import math

import pytest
import torch
import torch.nn.functional as F

from genrec.modeling import jagged
from genrec.modeling.encoders.hstu import HSTUBlock, HSTUEncoder, bias_pair_index

MAX_LENGTH = 8
DIM = 12


def _encoder(**overrides) -> HSTUEncoder:
    settings = dict(
        embedding_dim=DIM,
        num_blocks=2,
        num_heads=2,
        attention_dim=4,
        linear_dim=3,
        max_length=MAX_LENGTH,
        num_time_buckets=16,
        time_log_step=0.7,
        linear_dropout=0.0,
        attention_dropout=0.0,
    )
    settings.update(overrides)
    encoder = HSTUEncoder(**settings)
    # Non-trivial norms and biases so the reference exercises every term.
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return encoder.eval()


def _time_bucket(gap_s: int, num_buckets: int, log_step: float) -> int:
    bucket = int(math.log(max(abs(gap_s), 1)) / log_step)
    return min(max(bucket, 0), num_buckets)


def _slow_block(block: HSTUBlock, x, timestamps, log_step, num_buckets):
    """One HSTU block for one user, looping over positions and heads."""
    h, dv, dqk = block.num_heads, block.linear_dim, block.attention_dim
    projected = F.silu(block.uvqk(block.input_norm(x)))
    gate = projected[:, : h * dv]
    value = projected[:, h * dv : 2 * h * dv]
    query = projected[:, 2 * h * dv : 2 * h * dv + h * dqk]
    key = projected[:, 2 * h * dv + h * dqk :]
    out = []
    for i in range(x.shape[0]):
        heads = []
        for head in range(h):
            q_i = query[i, head * dqk : (head + 1) * dqk]
            acc = torch.zeros(dv)
            for j in range(i + 1):
                k_j = key[j, head * dqk : (head + 1) * dqk]
                gap = int(timestamps[i] - timestamps[j])
                bias = (
                    block.bias.position_weight[i - j]
                    + block.bias.time_weight[_time_bucket(gap, num_buckets, log_step)]
                )
                weight = F.silu(torch.dot(q_i, k_j) + bias) / block.max_length
                acc = acc + weight * value[j, head * dv : (head + 1) * dv]
            heads.append(acc)
        attended = torch.cat(heads)
        mixed = block.output_norm(attended) * gate[i]
        out.append(x[i] + block.output(mixed))
    return torch.stack(out) if out else x


def _slow_encoder(encoder: HSTUEncoder, x, batch):
    outputs = []
    offsets = batch.offsets.tolist()
    for b in range(batch.batch_size):
        start, end = offsets[b], offsets[b + 1]
        user_x, user_t = x[start:end], batch.timestamps[start:end]
        for block in encoder.blocks:
            user_x = _slow_block(
                block, user_x, user_t, encoder.time_log_step, encoder.num_time_buckets
            )
        outputs.append(user_x)
    return torch.cat(outputs)


def test_hstu_matches_slow_reference_on_lengths_zero_one_and_max(make_batch):
    batch = make_batch([5, 0, 1, MAX_LENGTH, 3], num_items=50)
    encoder = _encoder()
    x = torch.randn(batch.total, DIM)
    with torch.no_grad():
        fast = encoder(x, batch)
        slow = _slow_encoder(encoder, x, batch)
    assert fast.shape == (batch.total, DIM)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_hstu_output_is_causal(make_batch):
    batch = make_batch([MAX_LENGTH, 6], num_items=50)
    encoder = _encoder()
    x = torch.randn(batch.total, DIM)
    t = 3
    changed_x = x.clone()
    changed_x[t + 1 : MAX_LENGTH] = torch.randn(MAX_LENGTH - t - 1, DIM)
    changed_batch = make_batch([MAX_LENGTH, 6], num_items=50, seed=1)
    changed_batch.timestamps = batch.timestamps.clone()
    changed_batch.timestamps[t + 1 : MAX_LENGTH] += 10**7
    with torch.no_grad():
        before = encoder(x, batch)
        after = encoder(changed_x, changed_batch)
    torch.testing.assert_close(before[: t + 1], after[: t + 1], rtol=0, atol=0)
    assert not torch.allclose(before[t + 1 : MAX_LENGTH], after[t + 1 : MAX_LENGTH])
    torch.testing.assert_close(before[MAX_LENGTH:], after[MAX_LENGTH:])


def test_hstu_user_output_does_not_depend_on_the_rest_of_the_batch(make_batch):
    encoder = _encoder()
    batch = make_batch([3, MAX_LENGTH], num_items=50)
    alone = jagged.lengths_to_offsets(torch.tensor([3]))
    x = torch.randn(batch.total, DIM)
    with torch.no_grad():
        together = encoder(x, batch)[:3]
        batch.offsets, batch.max_length = alone, 3
        batch.item_ids, batch.timestamps = batch.item_ids[:3], batch.timestamps[:3]
        solo = encoder(x[:3], batch)
    torch.testing.assert_close(together, solo, rtol=1e-6, atol=1e-6)


def test_gradients_reach_every_hstu_parameter(make_batch):
    batch = make_batch([MAX_LENGTH, 2, 5], num_items=50)
    encoder = _encoder(linear_dropout=0.1, attention_dropout=0.1).train()
    encoder(torch.randn(batch.total, DIM), batch).pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_hstu_rejects_histories_longer_than_max_length(make_batch):
    batch = make_batch([MAX_LENGTH + 1], num_items=50)
    with pytest.raises(ValueError, match="max_length"):
        _encoder()(torch.randn(batch.total, DIM), batch)


def test_bias_pair_index_is_time_bucket_then_position_or_the_mask_column():
    timestamps = torch.tensor(
        [[0, 0, 59, 3_600, 10**9 + 7], [1_600_000_000, 1_600_086_400, 0, 0, 0]]
    )
    encoder = _encoder()
    pair_index = bias_pair_index(timestamps, MAX_LENGTH, encoder.time_boundaries)
    assert pair_index.dtype == torch.int32 and pair_index.shape == (2, 5, 5)
    for b in range(2):
        for i in range(5):
            for j in range(5):
                gap = int(timestamps[b, i] - timestamps[b, j])
                bucket = _time_bucket(gap, 16, 0.7)
                column = i - j if j <= i else MAX_LENGTH
                assert pair_index[b, i, j] == bucket * (MAX_LENGTH + 1) + column


def test_time_boundaries_stay_out_of_the_state_dict():
    assert "time_boundaries" not in _encoder().state_dict()
