import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from genrec.data.preprocess import run_preprocess
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
    assert read_item_categories(path, 4, "category").tolist() == [0, 2, 1, 2, 3]

    embedding = CategoricalEmbedding(4, 3, items_path=path, category_column="category")
    out = embedding(torch.tensor([0, 1, 2, 3, 4]))
    assert torch.equal(out[1], out[3])
    assert not torch.equal(out[1], out[2])
    assert torch.equal(out[0], torch.zeros(3))


def test_categorical_map_with_wrong_size_names_the_problem():
    with pytest.raises(ValueError, match="num_items\\+1=4"):
        CategoricalEmbedding(3, 2, item_to_category=[0, 1, 1])


# ML-1M's own file formats. Movie 4 is rated but absent from movies.dat, so
# preprocessing gives it an empty genre list.
ML_1M_RATINGS = (
    "1::3::5::978300760\n"
    "1::1::3::978300760\n"
    "2::2::4::978298413\n"
    "2::4::2::978299000\n"
    "3::1::5::978300100\n"
)
ML_1M_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n3::F::35::1::95370\n"
ML_1M_MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Heat (1995)::Action|Crime|Thriller\n"
    "3::Star Wars (1977)::Action|Sci-Fi\n"
)


@pytest.fixture
def ml_1m_items(tmp_path):
    """items.parquet exactly as the data layer writes it for an ML-1M folder."""
    raw = tmp_path / "ml-1m"
    raw.mkdir()
    (raw / "ratings.dat").write_bytes(ML_1M_RATINGS.encode("latin-1"))
    (raw / "users.dat").write_bytes(ML_1M_USERS.encode("latin-1"))
    (raw / "movies.dat").write_bytes(ML_1M_MOVIES.encode("latin-1"))
    stats = run_preprocess("ml-1m", tmp_path / "out", raw)
    return tmp_path / "out" / "items.parquet", stats["num_items"]


def test_ml_1m_genres_map_each_movie_to_its_first_listed_genre(ml_1m_items):
    path, num_items = ml_1m_items
    genres = pq.read_table(path).column("genres")
    assert pa.types.is_list(genres.type) and num_items == 4
    # Genre codes: Action 1, Animation 2, ... (the data layer's ranks). First
    # listed: Toy Story -> Animation (2), Heat and Star Wars -> Action (1);
    # the unlisted movie 4 has none and gets the extra category 3.
    assert genres.to_pylist() == [[2, 3, 4], [1, 5, 7], [1, 6], []]
    assert read_item_categories(path, num_items).tolist() == [0, 2, 1, 1, 3]

    embedding = CategoricalEmbedding(num_items, 3, items_path=path)
    assert embedding.num_categories == 3
    out = embedding(torch.tensor([1, 2, 3, 4]))
    assert torch.equal(out[1], out[2])
    assert not torch.equal(out[0], out[1]) and not torch.equal(out[3], out[1])


def test_categorical_padding_row_is_zero_and_gets_no_gradient(ml_1m_items):
    path, num_items = ml_1m_items
    embedding = CategoricalEmbedding(num_items, 4, init_std=0.1, items_path=path)
    assert torch.equal(embedding.table.weight[0], torch.zeros(4))
    assert embedding.table.weight[1:].abs().max() <= 0.2

    out = embedding(torch.tensor([[0, 2, 0, 4]]))
    assert torch.equal(out[0, 0], torch.zeros(4))
    out.pow(2).sum().backward()
    grad = embedding.table.weight.grad
    assert torch.equal(grad[0], torch.zeros(4))
    assert grad[1].abs().sum() > 0 and grad[3].abs().sum() > 0
    assert torch.equal(grad[2], torch.zeros(4))  # no item of category 2 was read


def test_missing_category_column_names_the_columns(ml_1m_items):
    path, num_items = ml_1m_items
    with pytest.raises(ValueError, match="no column 'category'.*genres"):
        read_item_categories(path, num_items, "category")
