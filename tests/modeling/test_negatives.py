import torch

from genrec.modeling.negatives import InBatchNegativeSampler, UniformNegativeSampler


def test_uniform_negatives_cover_the_catalogue_and_never_padding():
    positives = torch.tensor([3, 0, 5, 5])
    negatives = UniformNegativeSampler(num_negatives=2000)(positives, num_items=7)
    assert negatives.ids.shape == (4, 2000)
    assert negatives.ids.min() == 1 and negatives.ids.max() == 7
    assert set(negatives.ids.unique().tolist()) == set(range(1, 8))
    assert negatives.valid is None


def test_shared_uniform_negatives_are_one_row():
    negatives = UniformNegativeSampler(num_negatives=16, shared=True)(
        torch.tensor([1, 2, 3]), num_items=100
    )
    assert negatives.ids.shape == (1, 16)


def test_in_batch_negatives_keep_each_distinct_id_once_and_drop_padding():
    positives = torch.tensor([4, 2, 0, 4, 9, 2, 0])
    negatives = InBatchNegativeSampler()(positives, num_items=10)
    assert negatives.ids.shape == (1, 7)
    valid_ids = negatives.ids[negatives.valid].tolist()
    assert sorted(valid_ids) == [2, 4, 9]


def test_in_batch_negatives_can_be_capped():
    positives = torch.arange(1, 101)
    negatives = InBatchNegativeSampler(num_negatives=10)(positives, num_items=100)
    assert negatives.ids.shape == (1, 10)
    assert set(negatives.ids[negatives.valid].tolist()) <= set(range(1, 101))
