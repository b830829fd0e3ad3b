"""HSTU: Hierarchical Sequential Transduction Units (Zhai et al., ICML 2024).

Each block computes, for the inputs X of one user (N positions, width D):

    U, V, Q, K = Split(SiLU(f1(Norm(X))))
    A = SiLU(Q K^T + rab^{p,t}) / n,  masked causally, no softmax
    Y = X + Dropout(f2(Norm(A V) * U))

Paper symbol -> name here:
    X -> ``x`` (jagged, (T, D)); f1 -> ``HSTUBlock.uvqk``; f2 -> ``HSTUBlock.output``;
    U, V, Q, K -> ``gate``, ``value``, ``query``, ``key``;
    rab^{p,t} -> ``RelativeAttentionBias`` (position difference + time bucket);
    n -> ``HSTUEncoder.max_length``; d_qk -> ``attention_dim``; d_v -> ``linear_dim``.

Normalizer n: the pointwise weights are divided by the configured maximum
history length, a constant, as in the reference implementation (which pads every
batch to that length). Dividing by each user's own length would let the number of
later items change earlier outputs; dividing by the padded length of the batch
would make a user's output depend on the other users in the batch.

Time gaps: the bias for query i and key j uses the bucketed log of
t_i - t_j (seconds), i.e. the query's own timestamp, so no future timestamp is read.
Gaps stay int64 and are compared with integer bucket boundaries computed once
from the float64 formula, so the (B, N, N) pairs need no float64 tensor.

Shape legend: B users, N padded length (``batch.max_length``), T history elements,
D embedding dim, H heads, Dqk = attention_dim, Dv = linear_dim.
"""

from __future__ import annotations

import gin
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genrec.modeling import jagged
from genrec.modeling.batch import SequenceBatch
from genrec.modeling.encoders.base import SequenceEncoder
from genrec.modeling.time_buckets import bucket_boundaries, bucketize_integer_gaps

#: bias of query/key pairs hidden by the causal mask: SiLU of anything at or
#: below about -110 is exactly 0 in float32 and bfloat16 (and its gradient too).
#: It assumes |q . k| of a masked pair stays below about 2.9e4, so the logit
#: lands in [-6e4, -110]: still 0 after SiLU, and inside float16's range (an
#: overflow to -inf would make SiLU return NaN).
MASKED_LOGIT = -3.0e4


class RelativeAttentionBias(nn.Module):
    """Learned bias from the position difference i - j and the bucketed time gap.

    rab(i, j) = position_weight[i - j] + time_weight[bucket(t_i - t_j)]. Both
    terms are read with one gather from their outer sum, a small
    (buckets + 1, max_length + 1) table whose last column holds
    ``MASKED_LOGIT``: pairs with j > i point there, so the same gather applies
    the causal mask.
    """

    def __init__(self, max_length: int, num_time_buckets: int) -> None:
        super().__init__()
        self.position_weight = nn.Parameter(torch.empty(max_length).normal_(0, 0.02))
        self.time_weight = nn.Parameter(
            torch.empty(num_time_buckets + 1).normal_(0, 0.02)
        )

    def forward(self, pair_index: Tensor) -> Tensor:
        """Return the (B, N, N) bias for (B, N, N) indices from ``bias_pair_index``."""
        table = self.time_weight.unsqueeze(1) + self.position_weight.unsqueeze(0)
        masked = table.new_full((table.shape[0], 1), MASKED_LOGIT)
        table = torch.cat([table, masked], dim=1)  # (buckets+1, max_length+1)
        bias = table.view(-1).index_select(0, pair_index.reshape(-1))
        return bias.view(pair_index.shape)


def bias_pair_index(
    timestamps: Tensor, max_length: int, time_boundaries: Tensor
) -> Tensor:
    """Return (B, N, N) int32 indices into the flattened bias table of each pair.

    Args:
        timestamps: (B, N) int64 padded epoch seconds.
        max_length: the bias table's position range (the encoder's max_length).
        time_boundaries: (num_time_buckets,) int64 from ``bucket_boundaries``.
    """
    n = timestamps.shape[1]
    # int64: int32 seconds overflow for spans over 68 years and after 2038.
    gaps_s = timestamps.unsqueeze(2) - timestamps.unsqueeze(1)  # (B, N, N) int64
    pair_index = bucketize_integer_gaps(gaps_s, time_boundaries)  # (B, N, N) int32
    arange = torch.arange(n, device=timestamps.device, dtype=torch.int32)
    difference = arange.view(n, 1) - arange.view(1, n)  # (N, N) int32, i - j
    position = difference.masked_fill(difference < 0, max_length)  # future: mask
    return pair_index.mul_(max_length + 1).add_(position)


class HSTUBlock(nn.Module):
    """One HSTU layer over jagged inputs; attention runs on a padded view."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        attention_dim: int,
        linear_dim: int,
        max_length: int,
        num_time_buckets: int,
        linear_dropout: float,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attention_dim = attention_dim
        self.linear_dim = linear_dim
        self.max_length = max_length
        self.attention_dropout = attention_dropout
        self.input_norm = nn.LayerNorm(embedding_dim)
        width = num_heads * (2 * linear_dim + 2 * attention_dim)
        self.uvqk = nn.Linear(embedding_dim, width)
        self.bias = RelativeAttentionBias(max_length, num_time_buckets)
        self.output_norm = nn.LayerNorm(num_heads * linear_dim)
        self.output = nn.Linear(num_heads * linear_dim, embedding_dim)
        self.dropout = nn.Dropout(linear_dropout)
        # The reference implementation's initialization (small normal U, V, Q,
        # K projection; Xavier output), which its published numbers rest on.
        nn.init.normal_(self.uvqk.weight, mean=0.0, std=0.02)
        nn.init.zeros_(self.uvqk.bias)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(
        self, x: Tensor, offsets: Tensor, padded_length: int, pair_index: Tensor
    ) -> Tensor:
        """Apply the block to (T, D) jagged ``x``; returns (T, D).

        Args:
            x: (T, D) jagged inputs.
            offsets: (B+1,) int64.
            padded_length: N, the padded length of this batch (not the
                normalizer ``self.max_length``).
            pair_index: (B, N, N) int32 bias indices from ``bias_pair_index``.
        """
        h, dv = self.num_heads, self.linear_dim
        projected = F.silu(self.uvqk(self.input_norm(x)))  # (T, H*(2Dv+2Dqk))
        gate, vqk = projected.split([h * dv, projected.shape[1] - h * dv], dim=-1)
        padded = jagged.to_padded(vqk, offsets, padded_length)  # (B, N, H*(Dv+2Dqk))
        attended = self._attend(padded, self.bias(pair_index))  # (B, N, H*Dv)
        attended = jagged.from_padded(attended, offsets, x.shape[0])  # (T, H*Dv)
        mixed = self.output_norm(attended) * gate  # (T, H*Dv)
        return x + self.dropout(self.output(mixed))

    def _attend(self, padded: Tensor, bias: Tensor) -> Tensor:
        """Pointwise causal attention: (B, N, H*(Dv+2Dqk)) -> (B, N, H*Dv)."""
        h, dv, dqk = self.num_heads, self.linear_dim, self.attention_dim
        batch, n = padded.shape[0], padded.shape[1]
        value, query, key = padded.split([h * dv, h * dqk, h * dqk], dim=-1)
        query = _heads_first(query, h)  # (B*H, N, Dqk)
        key = _heads_first(key, h)  # (B*H, N, Dqk)
        value = _heads_first(value, h)  # (B*H, N, Dv)
        bias = bias.to(query.dtype).unsqueeze(1).expand(batch, h, n, n)
        logits = torch.baddbmm(
            bias.reshape(batch * h, n, n), query, key.transpose(1, 2)
        )  # (B*H, N, N); future pairs hold about MASKED_LOGIT
        weights = F.silu(logits)  # exactly 0 on future pairs
        weights = F.dropout(weights, self.attention_dropout, self.training)
        # Dividing A V by n equals dividing A, on an N/Dv times smaller tensor.
        attended = torch.bmm(weights, value).div_(self.max_length)  # (B*H, N, Dv)
        return attended.view(batch, h, n, dv).transpose(1, 2).reshape(batch, n, h * dv)


def _heads_first(x: Tensor, num_heads: int) -> Tensor:
    """(B, N, H*d) -> (B*H, N, d); a view when H = 1."""
    batch, n, width = x.shape
    heads = x.view(batch, n, num_heads, width // num_heads).transpose(1, 2)
    return heads.reshape(batch * num_heads, n, width // num_heads)


@gin.configurable
class HSTUEncoder(SequenceEncoder):
    """A stack of HSTU blocks with relative position and time biases."""

    time_boundaries: Tensor  # a buffer, registered in __init__

    def __init__(
        self,
        embedding_dim: int = 50,
        num_blocks: int = 2,
        num_heads: int = 1,
        attention_dim: int = 25,
        linear_dim: int = 25,
        max_length: int = 200,
        num_time_buckets: int = 128,
        time_log_step: float = 0.301,
        linear_dropout: float = 0.2,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.max_length = max_length
        self.num_time_buckets = num_time_buckets
        self.time_log_step = time_log_step
        # Not in the state dict: derived from the two settings above.
        self.register_buffer(
            "time_boundaries",
            bucket_boundaries(num_time_buckets, time_log_step),
            persistent=False,
        )
        self.blocks = nn.ModuleList(
            HSTUBlock(
                embedding_dim,
                num_heads,
                attention_dim,
                linear_dim,
                max_length,
                num_time_buckets,
                linear_dropout,
                attention_dropout,
            )
            for _ in range(num_blocks)
        )

    def forward(self, x: Tensor, batch: SequenceBatch) -> Tensor:
        n = batch.max_length
        if n > self.max_length:
            raise ValueError(
                f"batch holds a history of {n} items but HSTUEncoder.max_length "
                f"is {self.max_length}; truncate when batching"
            )
        timestamps = jagged.to_padded(batch.timestamps, batch.offsets, n)  # (B, N)
        # Every block reads the same pairs; only the bias weights differ.
        pair_index = bias_pair_index(
            timestamps, self.max_length, self.time_boundaries
        )  # (B, N, N) int32
        for block in self.blocks:
            x = block(x, batch.offsets, n, pair_index)
        return x
