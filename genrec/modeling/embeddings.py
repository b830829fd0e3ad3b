"""Item embedding tables: one row per item id, or one row per item category.

Item ids are dense, 1..num_items; id 0 is padding, its row is zero and never
receives a gradient. Tables start from a normal distribution truncated at two
standard deviations, so no initial value is extreme.

Shape legend: D embedding dim; ``...`` any leading shape of the id tensor.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from pathlib import Path

import gin
import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)


def truncated_normal_(weight: Tensor, std: float) -> Tensor:
    """Fill ``weight`` in place from N(0, std^2) truncated to [-2 std, 2 std]."""
    return nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


class ItemEmbedding(nn.Module, abc.ABC):
    """Maps item ids (0 = padding) to vectors of size ``embedding_dim``."""

    num_items: int
    embedding_dim: int

    @abc.abstractmethod
    def forward(self, item_ids: Tensor) -> Tensor:
        """Embed ids of any shape ``...`` (int64) into (..., D)."""


@gin.configurable
class LocalEmbedding(ItemEmbedding):
    """One learned row per item id."""

    def __init__(
        self, num_items: int, embedding_dim: int = 50, init_std: float = 0.02
    ) -> None:
        super().__init__()
        if num_items < 1:
            raise ValueError(f"LocalEmbedding: num_items must be >= 1, got {num_items}")
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.table = nn.Embedding(num_items + 1, embedding_dim, padding_idx=0)
        _init_table(self.table, init_std)

    def forward(self, item_ids: Tensor) -> Tensor:
        return self.table(item_ids)


@gin.configurable
class CategoricalEmbedding(ItemEmbedding):
    """One learned row per category; every item of a category shares it.

    The item -> category map comes either as a sequence indexed by item id
    (entry 0 is the padding item) or from a column of the ``items.parquet``
    that preprocessing writes. Category values of any type are numbered in
    sorted order from 1; a missing category maps to its own row.
    """

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 50,
        init_std: float = 0.02,
        *,
        item_to_category: Sequence[int] | Tensor | None = None,
        items_path: str | Path | None = None,
        category_column: str = "category",
    ) -> None:
        super().__init__()
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        if item_to_category is None:
            if items_path is None:
                raise ValueError(
                    "CategoricalEmbedding needs item_to_category or items_path"
                )
            item_to_category = read_item_categories(
                items_path, num_items, category_column
            )
        categories = torch.as_tensor(item_to_category, dtype=torch.int64)
        _check_category_map(categories, num_items)
        self.register_buffer("item_to_category", categories, persistent=True)
        self.num_categories = int(categories.max())
        self.table = nn.Embedding(self.num_categories + 1, embedding_dim, padding_idx=0)
        _init_table(self.table, init_std)

    def forward(self, item_ids: Tensor) -> Tensor:
        return self.table(self.item_to_category[item_ids])


def read_item_categories(
    items_path: str | Path, num_items: int, category_column: str = "category"
) -> Tensor:
    """Read the (num_items+1,) int64 item -> category map from items.parquet.

    Categories are numbered 1..C in sorted order of their values; items with a
    null category share one extra category; row 0 (padding) maps to 0.
    """
    import pyarrow.parquet as pq

    path = Path(items_path)
    table = pq.read_table(path, columns=["item_id", category_column])
    item_ids = table.column("item_id").to_pylist()
    values = table.column(category_column).to_pylist()
    if len(item_ids) != num_items or sorted(item_ids) != list(range(1, num_items + 1)):
        raise ValueError(
            f"{path}: column item_id must hold exactly the ids 1..{num_items}, "
            f"found {len(item_ids)} rows"
        )
    distinct = sorted({v for v in values if v is not None})
    code = {value: index + 1 for index, value in enumerate(distinct)}
    missing = len(distinct) + 1
    categories = torch.zeros(num_items + 1, dtype=torch.int64)
    for item_id, value in zip(item_ids, values, strict=True):
        categories[item_id] = code[value] if value is not None else missing
    logger.info(
        "read %d categories for %d items from %s", len(distinct), num_items, path
    )
    return categories


def _check_category_map(categories: Tensor, num_items: int) -> None:
    if categories.shape != (num_items + 1,):
        raise ValueError(
            f"item_to_category must have num_items+1={num_items + 1} entries "
            f"(entry 0 for padding), got shape {tuple(categories.shape)}"
        )
    if int(categories[0]) != 0 or bool((categories[1:] < 1).any()):
        raise ValueError(
            "item_to_category: padding item 0 must map to 0 and items to ids >= 1"
        )


def _init_table(table: nn.Embedding, std: float) -> None:
    with torch.no_grad():
        truncated_normal_(table.weight, std)
        table.weight[0].zero_()
