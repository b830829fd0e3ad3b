"""SASRec: causal softmax self-attention (Kang and McAuley, ICDM 2018).

Each block is pre-norm: X + Dropout(MHA(LN(X))), then X + Dropout(FFN(LN(X)))
with FFN = W2 act(W1 x), followed by a final layer norm over the stack.
Projections and the feed-forward run on jagged (T, D) values; only attention
sees the padded (B, N, D) view, where a causal mask alone hides padding because
padding always follows the real positions.

Shape legend: B users, N padded length, T history elements, D embedding dim,
H heads, Dh = D / H.
"""

from __future__ import annotations

import gin
import torch.nn.functional as F
from torch import Tensor, nn

from genrec.modeling import jagged
from genrec.modeling.batch import SequenceBatch
from genrec.modeling.encoders.base import SequenceEncoder

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class SASRecBlock(nn.Module):
    """Pre-norm causal multi-head self-attention plus a point-wise feed-forward."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        ffn_dim: int,
        activation: str,
        dropout: float,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        if embedding_dim % num_heads:
            raise ValueError(
                f"SASRec: embedding_dim {embedding_dim} is not divisible by "
                f"num_heads {num_heads}"
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"SASRec: activation must be one of {sorted(_ACTIVATIONS)}, "
                f"got {activation!r}"
            )
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.attention_norm = nn.LayerNorm(embedding_dim)
        self.qkv = nn.Linear(embedding_dim, 3 * embedding_dim)
        self.attention_output = nn.Linear(embedding_dim, embedding_dim)
        self.ffn_norm = nn.LayerNorm(embedding_dim)
        self.ffn_in = nn.Linear(embedding_dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, embedding_dim)
        self.activation = _ACTIVATIONS[activation]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offsets: Tensor, max_length: int) -> Tensor:
        """Apply the block to (T, D) jagged ``x``; returns (T, D)."""
        x = x + self.dropout(self._attend(self.attention_norm(x), offsets, max_length))
        hidden = self.dropout(self.activation(self.ffn_in(self.ffn_norm(x))))
        return x + self.dropout(self.ffn_out(hidden))

    def _attend(self, x: Tensor, offsets: Tensor, max_length: int) -> Tensor:
        qkv = jagged.to_padded(self.qkv(x), offsets, max_length)  # (B, N, 3D)
        batch, n, width = qkv.shape
        h = self.num_heads
        qkv = qkv.view(batch, n, 3, h, width // (3 * h)).permute(2, 0, 3, 1, 4)
        query, key, value = qkv.unbind(0)  # each (B, H, N, Dh)
        attended = F.scaled_dot_product_attention(
            query,
            key,
            value,
            dropout_p=self.attention_dropout if self.training else 0.0,
            is_causal=True,
        )  # (B, H, N, Dh)
        attended = attended.transpose(1, 2).reshape(batch, n, width // 3)
        attended = jagged.from_padded(attended, offsets, x.shape[0])  # (T, D)
        return self.attention_output(attended)


@gin.configurable
class SASRecEncoder(SequenceEncoder):
    """A stack of SASRec blocks."""

    def __init__(
        self,
        embedding_dim: int = 50,
        num_blocks: int = 2,
        num_heads: int = 1,
        ffn_dim: int | None = None,
        activation: str = "relu",
        dropout: float = 0.2,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SASRecBlock(
                embedding_dim,
                num_heads,
                ffn_dim or embedding_dim,
                activation,
                dropout,
                attention_dropout,
            )
            for _ in range(num_blocks)
        )
        self.final_norm = nn.LayerNorm(embedding_dim)

    def forward(self, x: Tensor, batch: SequenceBatch) -> Tensor:
        for block in self.blocks:
            x = block(x, batch.offsets, batch.max_length)
        return self.final_norm(x)
