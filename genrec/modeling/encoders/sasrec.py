"""SASRec: causal softmax self-attention (Kang and McAuley, ICDM 2018).

Two block layouts (``norm_placement``), with A = causal multi-head attention
taking (query input, key/value input) and FFN = W2 act(W1 x):

    "original":  Q = LN(X);  H = LN(Q + A(Q, X));  Y = H + Dropout(FFN(H))
    "pre_norm":  H = X + Dropout(A(LN(X), LN(X)));  Y = H + Dropout(FFN(LN(H)))

"original" is the layout of the paper's code and of the reference
implementation whose numbers genrec reproduces: only the query input is
normalized, keys and values read the raw X, both residuals add onto normalized
values, its layer norms have no learned scale or shift (eps 1e-8), the
attention output is not dropped out and there is no final norm. (The reference
also drops attention weights at the dropout rate: set ``attention_dropout``.)
"pre_norm" is the usual pre-norm transformer, with learned layer norms and a
final layer norm over the stack.

Projections and the feed-forward run on jagged (T, D) values; only attention
sees the padded (B, N, D) view, where a causal mask alone hides padding because
padding always follows the real positions.

Shape legend: B users, N padded length, T history elements, D embedding dim,
H heads, Dh = D / H.
"""

from __future__ import annotations

from collections.abc import Callable

import gin
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genrec.modeling import jagged
from genrec.modeling.batch import SequenceBatch
from genrec.modeling.encoders.base import SequenceEncoder

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}
NORM_PLACEMENTS = ("original", "pre_norm")


class SASRecBlock(nn.Module):
    """Causal multi-head self-attention plus a point-wise feed-forward."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        ffn_dim: int,
        activation: str,
        dropout: float,
        attention_dropout: float,
        norm_placement: str = "original",
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
        if norm_placement not in NORM_PLACEMENTS:
            raise ValueError(
                f"SASRec: norm_placement must be one of {NORM_PLACEMENTS}, "
                f"got {norm_placement!r}"
            )
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.norm_placement = norm_placement
        self.attention_norm = _layer_norm(embedding_dim, norm_placement)
        self.qkv = nn.Linear(embedding_dim, 3 * embedding_dim)
        self.attention_output = nn.Linear(embedding_dim, embedding_dim)
        self.ffn_norm = _layer_norm(embedding_dim, norm_placement)
        self.ffn_in = nn.Linear(embedding_dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, embedding_dim)
        self.activation = _ACTIVATIONS[activation]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offsets: Tensor, padded_length: int) -> Tensor:
        """Apply the block to (T, D) jagged ``x``; returns (T, D)."""
        if self.norm_placement == "pre_norm":
            normed = self.attention_norm(x)
            x = x + self.dropout(self._attend(normed, normed, offsets, padded_length))
            return x + self._feed_forward(self.ffn_norm(x))
        query = self.attention_norm(x)
        attended = self._attend(query, x, offsets, padded_length)
        hidden = self.ffn_norm(query + attended)
        return hidden + self._feed_forward(hidden)

    def _feed_forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(self.activation(self.ffn_in(x)))
        return self.dropout(self.ffn_out(hidden))

    def _attend(
        self, query_input: Tensor, key_input: Tensor, offsets: Tensor, padded: int
    ) -> Tensor:
        """Attention of (T, D) queries over (T, D) keys/values of the same users."""
        if query_input is key_input:
            qkv = self.qkv(query_input)  # (T, 3D)
        else:
            dim = query_input.shape[-1]
            weight, bias = self.qkv.weight, self.qkv.bias
            query = F.linear(query_input, weight[:dim], bias[:dim])  # (T, D)
            key_value = F.linear(key_input, weight[dim:], bias[dim:])  # (T, 2D)
            qkv = torch.cat([query, key_value], dim=-1)  # (T, 3D)
        qkv = jagged.to_padded(qkv, offsets, padded)  # (B, N, 3D)
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
        attended = jagged.from_padded(attended, offsets, query_input.shape[0])
        return self.attention_output(attended)  # (T, D)


def _layer_norm(embedding_dim: int, norm_placement: str) -> nn.LayerNorm:
    if norm_placement == "original":
        return nn.LayerNorm(embedding_dim, eps=1e-8, elementwise_affine=False)
    return nn.LayerNorm(embedding_dim)


@gin.configurable
class SASRecEncoder(SequenceEncoder):
    """A stack of SASRec blocks; ``norm_placement`` picks the block layout."""

    def __init__(
        self,
        embedding_dim: int = 50,
        num_blocks: int = 2,
        num_heads: int = 1,
        ffn_dim: int | None = None,
        activation: str = "relu",
        dropout: float = 0.2,
        attention_dropout: float = 0.0,
        norm_placement: str = "original",
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
                norm_placement,
            )
            for _ in range(num_blocks)
        )
        self.final_norm: nn.Module = (
            nn.LayerNorm(embedding_dim)
            if norm_placement == "pre_norm"
            else nn.Identity()
        )

    def forward(self, x: Tensor, batch: SequenceBatch) -> Tensor:
        for block in self.blocks:
            x = block(x, batch.offsets, batch.max_length)
        return self.final_norm(x)
