import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from genrec.modeling.embeddings import (
    CategoricalEmbedding,
    LocalEmbedding,
    read_item_categories,
    truncated_normal_,
)


def test_truncated_normal_never_leaves_two_standard_deviations():
    std = 0.5
    weight = truncated_normal_(torch.empty(200_000), std)
    assert weight.abs().max() <= 2 * std
    assert 0.8 * std < weight.std() < std  # truncation narrows the spread


def test_padding_row_is_zero_and_gets_no_gradient():
    embedding = LocalEmbedding(num_items=10, embedding_dim=4, init_std=0.1)
    assert torch.equal(embedding.table.weight[0], torch.zeros(4))
    assert embedding.table.weight[1:].abs().max() <= 0.2

    out = embedding(torch.tensor([[0, 3, 0, 3]]))
    assert torch.equal(out[0, 0], torch.zeros(4))
    out.pow(2).sum().backward()
    grad = embedding.table.weight.grad
    assert torch.equal(grad[0], torch.zeros(4))
    assert grad[3].abs().sum() > 0


def test_categorical_embedding_shares_rows_within_a_category(tmp_path):
    path = tmp_path / "items.parquet"
    table = pa.table(
        {
            "item_id": pa.array([1, 2, 3, 4], pa.int32()),
            "category": ["drama", "comedy", "drama", None],
        }
    )
    pq.write_table(table, path)
    assert read_item_categories(path, 4).tolist() == [0, 2, 1, 2, 3]

    embedding = CategoricalEmbedding(4, 3, items_path=path)
    out = embedding(torch.tensor([0, 1, 2, 3, 4]))
    assert torch.equal(out[1], out[3])
    assert not torch.equal(out[1], out[2])
    assert torch.equal(out[0], torch.zeros(3))


def test_categorical_map_with_wrong_size_names_the_problem():
    with pytest.raises(ValueError, match="num_items\\+1=4"):
        CategoricalEmbedding(3, 2, item_to_category=[0, 1, 1])
