import gin
import pytest
import torch

import genrec.modeling  # noqa: F401  (registers the configurables)
from genrec.modeling.model import RetrievalModel

NUM_ITEMS = 40
DIM = 8
MAX_LENGTH = 10

BASE_CONFIG = f"""
RetrievalModel.embedding = @LocalEmbedding()
LocalEmbedding.num_items = {NUM_ITEMS}
LocalEmbedding.embedding_dim = {DIM}
RetrievalModel.preprocessor = @LearnablePositionalPreprocessor()
LearnablePositionalPreprocessor.embedding_dim = {DIM}
LearnablePositionalPreprocessor.max_length = {MAX_LENGTH}
LearnablePositionalPreprocessor.use_ratings = True
LearnablePositionalPreprocessor.time_buckets = 8
RetrievalModel.postprocessor = @L2NormPostprocessor()
RetrievalModel.loss = @SampledSoftmaxLoss()
HSTUEncoder.embedding_dim = {DIM}
HSTUEncoder.max_length = {MAX_LENGTH}
HSTUEncoder.attention_dim = 4
HSTUEncoder.linear_dim = 4
SASRecEncoder.embedding_dim = {DIM}
MixtureOfLogitsSimilarity.embedding_dim = {DIM}
MixtureOfLogitsSimilarity.hidden_dim = 8
UniformNegativeSampler.num_negatives = 16
"""

VARIANTS = {
    "hstu-dot-uniform": [
        "HSTUEncoder",
        "DotProductSimilarity",
        "UniformNegativeSampler",
    ],
    "sasrec-dot-inbatch": [
        "SASRecEncoder",
        "DotProductSimilarity",
        "InBatchNegativeSampler",
    ],
    "hstu-mol-uniform": [
        "HSTUEncoder",
        "MixtureOfLogitsSimilarity",
        "UniformNegativeSampler",
    ],
}


def _build(variant: str, extra: str = "") -> RetrievalModel:
    encoder, similarity, sampler = VARIANTS[variant]
    gin.clear_config()
    gin.parse_config(
        BASE_CONFIG
        + f"RetrievalModel.encoder = @{encoder}()\n"
        + f"RetrievalModel.similarity = @{similarity}()\n"
        + f"RetrievalModel.negative_sampler = @{sampler}()\n"
        + extra
    )
    try:
        return RetrievalModel()
    finally:
        gin.clear_config()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_one_backward_reaches_every_parameter(make_batch, variant):
    model = _build(variant)
    batch = make_batch([MAX_LENGTH, 0, 1, 6], NUM_ITEMS, with_targets=True)
    loss = model(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name


def test_catalogue_scoring_gives_the_same_loss_as_gathering_samples(
    make_batch, monkeypatch
):
    model = _build("hstu-dot-uniform").eval()
    batch = make_batch([MAX_LENGTH, 3, 7], NUM_ITEMS, with_targets=True)
    assert model._scores_whole_catalogue(torch.ones(batch.total, 16, dtype=torch.long))
    torch.manual_seed(5)
    dense = model(batch)
    monkeypatch.setattr(model, "_scores_whole_catalogue", lambda ids: False)
    torch.manual_seed(5)
    sampled = model(batch)
    torch.testing.assert_close(dense, sampled, rtol=1e-5, atol=1e-6)


def test_a_batch_without_supervision_gives_zero_loss(make_batch):
    model = _build("hstu-dot-uniform")
    batch = make_batch([4, 2], NUM_ITEMS)
    batch.next_item_ids.zero_()
    loss = model(batch)
    loss.backward()
    assert loss.item() == 0.0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.parameters())


@pytest.mark.parametrize("variant", ["hstu-dot-uniform", "hstu-mol-uniform"])
def test_rank_and_top_k_agree_with_brute_force(make_batch, variant):
    model = _build(variant).eval()
    batch = make_batch([MAX_LENGTH, 1, 5, 9], NUM_ITEMS, with_targets=True)
    with torch.no_grad():
        queries = model.query_embeddings(batch)  # (B, D)
        all_ids = torch.arange(NUM_ITEMS + 1)
        (items,) = model.item_vectors(all_ids.unsqueeze(0))
        scores = model.similarity(queries, items)  # (B, I+1)
    scores[:, 0] = float("-inf")
    target_scores = scores.gather(1, batch.target_ids[:, None])
    offsets = batch.offsets.tolist()
    for user in range(batch.batch_size):
        scores[user, batch.item_ids[offsets[user] : offsets[user + 1]]] = float("-inf")
    others = scores.clone()
    others[torch.arange(batch.batch_size), batch.target_ids] = float("-inf")
    expected_ranks = (others > target_scores).sum(1) + 1

    ranks = model.rank_targets(batch, chunk_size=7)
    assert torch.equal(ranks, expected_ranks)
    top_scores, top_ids = model.top_k(batch, 5, chunk_size=7)
    assert torch.equal(top_ids, scores.topk(5, dim=1).indices)
    for user in range(batch.batch_size):
        history = set(batch.item_ids[offsets[user] : offsets[user + 1]].tolist())
        assert history.isdisjoint(top_ids[user].tolist())


def test_ranks_without_exclusion_count_history_items(make_batch):
    model = _build("hstu-dot-uniform").eval()
    batch = make_batch([MAX_LENGTH, 8], NUM_ITEMS, with_targets=True)
    excluded = model.rank_targets(batch)
    included = model.rank_targets(batch, exclude_history=False)
    assert (included >= excluded).all()


def test_training_step_under_bf16_autocast_is_finite(make_batch):
    model = _build("hstu-dot-uniform")
    batch = make_batch([MAX_LENGTH, 4, 0, 7], NUM_ITEMS, with_targets=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(batch)
        ranks = model.rank_targets(batch)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert ranks.min() >= 1 and ranks.max() <= NUM_ITEMS
