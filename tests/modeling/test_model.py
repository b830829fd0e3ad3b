import gin
import pytest
import torch
from torch import Tensor

import genrec.modeling  # noqa: F401  (registers the configurables)
from genrec.modeling import retrieval
from genrec.modeling.embeddings import LocalEmbedding
from genrec.modeling.encoders import SASRecEncoder
from genrec.modeling.losses import BCELoss, RetrievalLoss, SampledSoftmaxLoss
from genrec.modeling.model import RetrievalModel
from genrec.modeling.negatives import (
    InBatchNegativeSampler,
    Negatives,
    NegativeSampler,
    UniformNegativeSampler,
)
from genrec.modeling.postprocessors import L2NormPostprocessor
from genrec.modeling.preprocessors import LearnablePositionalPreprocessor
from genrec.modeling.similarity import DotProductSimilarity

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


def test_top_k_also_excludes_items_older_than_the_window(make_batch):
    model = _build("hstu-dot-uniform").eval()
    batch = make_batch([MAX_LENGTH, 3], NUM_ITEMS, with_targets=True)
    _, before = model.top_k(batch, 6)
    # Pretend each user's two best items were seen before the kept window.
    older = before[:, :2]  # (B, 2)
    also = retrieval.ExcludedItems(
        user_index=torch.arange(batch.batch_size).repeat_interleave(2),
        item_ids=older.reshape(-1),
    )
    scores, after = model.top_k(batch, 4, chunk_size=7, also_excluded=also)
    assert torch.equal(after, before[:, 2:])
    assert torch.isfinite(scores).all()
    offsets = batch.offsets.tolist()
    for user in range(batch.batch_size):
        history = set(batch.item_ids[offsets[user] : offsets[user + 1]].tolist())
        assert history.isdisjoint(after[user].tolist())


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


# Accidental hits end to end: a catalogue of three items makes most sampled
# negatives equal their position's positive.
TINY_CATALOGUE = 3


class _RecordingSampler(NegativeSampler):
    """Draws with ``inner`` and keeps the last draw for the reference."""

    def __init__(self, inner: NegativeSampler) -> None:
        super().__init__()
        self.inner = inner
        self.last: Negatives | None = None

    def forward(self, positive_ids, num_items):
        self.last = self.inner(positive_ids, num_items)
        return self.last


class _ProbedLoss(RetrievalLoss):
    """Runs ``inner`` and keeps its inputs, retaining the negative logits' grad."""

    def __init__(self, inner: RetrievalLoss) -> None:
        super().__init__()
        self.inner = inner
        self.inputs: tuple | None = None

    def forward(self, positive_logits, negative_logits, negative_valid, supervised):
        negative_logits.retain_grad()
        self.inputs = (positive_logits, negative_logits, negative_valid, supervised)
        return self.inner(positive_logits, negative_logits, negative_valid, supervised)


SAMPLERS = {
    "uniform-per-position": lambda: UniformNegativeSampler(num_negatives=16),
    "uniform-shared": lambda: UniformNegativeSampler(num_negatives=16, shared=True),
    "in-batch": lambda: InBatchNegativeSampler(),
}


def _tiny_model(sampler: str, loss: RetrievalLoss) -> RetrievalModel:
    return RetrievalModel(
        embedding=LocalEmbedding(TINY_CATALOGUE, DIM),
        preprocessor=LearnablePositionalPreprocessor(MAX_LENGTH, DIM, dropout=0.0),
        encoder=SASRecEncoder(embedding_dim=DIM, dropout=0.0),
        postprocessor=L2NormPostprocessor(),
        similarity=DotProductSimilarity(),
        loss=_ProbedLoss(loss),
        negative_sampler=_RecordingSampler(SAMPLERS[sampler]()),
    ).eval()


def _dropped_slots(model: RetrievalModel, batch) -> tuple[Tensor, Tensor]:
    """(T, X) ids of the recorded negatives and whether the reference drops each."""
    negatives = model.negative_sampler.last
    ids = negatives.ids.expand(batch.total, -1)  # (T, X) int64
    dropped = ids == batch.next_item_ids.unsqueeze(1)
    if negatives.valid is not None:
        dropped |= ~negatives.valid.expand(batch.total, -1)
    return ids, dropped


def _softmax_reference(positive, negative, dropped, supervised, temperature):
    """Mean over supervised positions of the cross-entropy over kept slots only."""
    losses = []
    for t in torch.nonzero(supervised).flatten().tolist():
        kept = [negative[t, j] for j in range(negative.shape[1]) if not dropped[t, j]]
        logits = torch.stack([positive[t], *kept]).float() / temperature
        losses.append(-torch.log_softmax(logits, dim=0)[0])
    return torch.stack(losses).mean()


def _reference_loss(model: RetrievalModel, batch, ids, dropped):
    """The sampled softmax recomputed from scratch, dropped slots left out."""
    queries = model.postprocessor(model.encode(batch))  # (T, D)
    table = model.postprocessor.items(model.embedding.table.weight)  # (I+1, D)
    positive = (queries * table[batch.next_item_ids]).sum(-1)  # (T,)
    negative = torch.einsum("td,txd->tx", queries, table[ids])  # (T, X)
    supervised = batch.next_item_ids != 0
    temperature = model.loss.inner.temperature
    return _softmax_reference(positive, negative, dropped, supervised, temperature)


@pytest.mark.parametrize(
    ("sampler", "path"),
    [
        ("uniform-per-position", "catalogue"),
        ("uniform-per-position", "samples"),
        ("uniform-shared", "samples"),  # one shared row always gathers
        ("in-batch", "samples"),
    ],
)
def test_accidental_hits_are_dropped_from_the_loss_and_its_gradients(
    make_batch, monkeypatch, sampler, path
):
    model = _tiny_model(sampler, SampledSoftmaxLoss(temperature=0.1))
    if path == "samples":
        monkeypatch.setattr(model, "_scores_whole_catalogue", lambda ids: False)
    batch = make_batch([MAX_LENGTH, 4, 0, 1, 6], TINY_CATALOGUE, with_targets=True)
    loss = model(batch)
    loss.backward()
    ids, dropped = _dropped_slots(model, batch)
    assert model._scores_whole_catalogue(model.negative_sampler.last.ids) == (
        path == "catalogue"
    )
    supervised = batch.next_item_ids != 0
    assert dropped[supervised].any() and (~dropped[supervised]).any()

    negative_grad = model.loss.inputs[1].grad  # (T, X)
    assert torch.equal(negative_grad[dropped], torch.zeros_like(negative_grad[dropped]))
    assert negative_grad[~dropped & supervised.unsqueeze(1)].abs().min() > 0

    model_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    reference = _reference_loss(model, batch, ids, dropped)
    reference.backward()
    torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-6)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(
            model_grads[name], parameter.grad, rtol=1e-4, atol=1e-6, msg=name
        )


@pytest.mark.parametrize("loss_cls", [SampledSoftmaxLoss, BCELoss])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_accidental_hits_stay_finite_with_zero_gradient(
    make_batch, sampler, dtype, loss_cls
):
    model = _tiny_model(sampler, loss_cls())
    batch = make_batch([MAX_LENGTH, 4, 0, 1, 6], TINY_CATALOGUE, with_targets=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        loss = model(batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    _, dropped = _dropped_slots(model, batch)
    positive, negative, valid, supervised = model.loss.inputs
    assert torch.equal(valid, ~dropped)
    negative_grad = negative.grad  # (T, X)
    assert torch.equal(negative_grad[dropped], torch.zeros_like(negative_grad[dropped]))
    if loss_cls is SampledSoftmaxLoss:
        # The loss the model got from its own logits, with the dropped slots left
        # out by hand, is the loss it returned (in bf16 too: logits are fp32).
        expected = _softmax_reference(
            positive, negative, dropped, supervised, model.loss.inner.temperature
        )
        torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    else:
        # BCE draws one kept slot per supervised position that has one.
        used = negative_grad != 0  # (T, X)
        has_kept = (~dropped).any(1) & supervised
        assert torch.equal(used.sum(1), has_kept.long())
