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
    that preprocessing writes (``genres`` for ML-1M, a list of genre codes);
    see ``read_item_categories`` for how values become rows. Row 0 is padding:
    zero, and it never receives a gradient.
    """

    item_to_category: Tensor  # (num_items+1,) int64 buffer, registered in __init__

    def __init__(
        self,
        num_items: int,
        embedding_dim: int = 50,
        init_std: float = 0.02,
        *,
        item_to_category: Sequence[int] | Tensor | None = None,
        items_path: str | Path | None = None,
        category_column: str = "genres",
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
    items_path: str | Path, num_items: int, category_column: str = "genres"
) -> Tensor:
    """Read the (num_items+1,) int64 item -> category map from items.parquet.

    A scalar column (any type) gives each item its value. A list column, such
    as ML-1M's ``genres`` (genre codes in the order movies.dat lists them),
    gives each item its first element: one category per item, so the table
    stays one row per category. Distinct values are numbered 1..C in sorted
    order; items with no value (null or an empty list) share the extra
    category C+1; row 0 (padding) maps to 0.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(items_path)
    schema = pq.read_schema(path)
    if category_column not in schema.names:
        raise ValueError(
            f"{path}: no column {category_column!r} (columns: {schema.names}); "
            "set CategoricalEmbedding.category_column"
        )
    table = pq.read_table(path, columns=["item_id", category_column])
    item_ids = table.column("item_id").to_pylist()
    values = table.column(category_column).to_pylist()
    column_type = schema.field(category_column).type
    if pa.types.is_list(column_type) or pa.types.is_large_list(column_type):
        values = [value[0] if value else None for value in values]
    if len(item_ids) != num_items or sorted(item_ids) != list(range(1, num_items + 1)):
        raise ValueError(
            f"{path}: column item_id must hold exactly the ids 1..{num_items}, "
            f"found {len(item_ids)} rows"
        )
    distinct = sorted({v for v in values if v is not None})
    code = {value: index + 1 for index, value in enumerate(distinct)}
    missing = len(distinct) + 1
    categories = [0] * (num_items + 1)
    for item_id, value in zip(item_ids, values, strict=True):
        categories[item_id] = code[value] if value is not None else missing
    logger.info(
        "read %d categories of %s for %d items from %s",
        len(distinct),
        category_column,
        num_items,
        path,
    )
    return torch.tensor(categories, dtype=torch.int64)


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
