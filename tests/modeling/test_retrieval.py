import torch

from genrec.modeling import retrieval
from genrec.modeling.similarity import MixtureOfLogitsSimilarity

NUM_ITEMS = 200_000
DIM = 16


def _catalogue():
    table = torch.randn(NUM_ITEMS + 1, DIM)
    table[0] = 0.0
    queries = torch.randn(6, DIM)
    return table, queries


def _scorer(table, queries):
    return lambda ids: queries @ table[ids].T  # (B, C)


def _exclusions(full_scores, per_user=25):
    """Exclude, for every user, items from its true top list and random ones."""
    users, items = [], []
    top = full_scores[:, 1:].topk(per_user, dim=1).indices + 1  # (B, per_user)
    for user in range(full_scores.shape[0]):
        chosen = torch.cat([top[user, ::2], torch.randint(1, NUM_ITEMS + 1, (10,))])
        users.append(torch.full_like(chosen, user))
        items.append(chosen)
    return retrieval.ExcludedItems(torch.cat(users), torch.cat(items))


def test_chunked_top_k_equals_one_full_topk_and_skips_excluded_items():
    table, queries = _catalogue()
    full = queries @ table.T  # (B, I+1)
    excluded = _exclusions(full)
    full[:, 0] = float("-inf")
    full[excluded.user_index, excluded.item_ids] = float("-inf")
    expected = full.topk(100, dim=1)

    scores, ids = retrieval.top_k(
        _scorer(table, queries),
        queries.shape[0],
        NUM_ITEMS,
        100,
        excluded=excluded,
        chunk_size=7_777,
        device=queries.device,
    )
    assert torch.equal(ids, expected.indices)
    torch.testing.assert_close(scores, expected.values)
    for user in range(queries.shape[0]):
        banned = set(excluded.item_ids[excluded.user_index == user].tolist())
        assert banned.isdisjoint(ids[user].tolist())
        assert 0 not in ids[user].tolist()


def test_top_k_pads_with_id_zero_when_candidates_run_out():
    table = torch.randn(4, 3)
    queries = torch.randn(2, 3)
    excluded = retrieval.ExcludedItems(torch.tensor([0, 0]), torch.tensor([1, 2]))
    scores, ids = retrieval.top_k(
        _scorer(table, queries),
        2,
        3,
        3,
        excluded=excluded,
        chunk_size=2,
        device=queries.device,
    )
    assert ids[0].tolist()[0] == 3 and ids[0].tolist()[1:] == [0, 0]
    assert torch.isinf(scores[0, 1:]).all()
    assert sorted(ids[1].tolist()) == [1, 2, 3]


def test_rank_counts_strictly_higher_non_excluded_candidates():
    table, queries = _catalogue()
    full = queries @ table.T
    excluded = _exclusions(full)
    targets = torch.randint(1, NUM_ITEMS + 1, (queries.shape[0],))
    targets[0] = full[0, 1:].argmax() + 1  # best item: rank 1 unless excluded
    target_scores = full.gather(1, targets[:, None]).squeeze(1)

    ranks = retrieval.rank_targets(
        _scorer(table, queries),
        target_scores,
        targets,
        NUM_ITEMS,
        excluded=excluded,
        chunk_size=50_000,
    )
    candidates = full.clone()
    candidates[:, 0] = float("-inf")
    candidates[excluded.user_index, excluded.item_ids] = float("-inf")
    candidates[torch.arange(queries.shape[0]), targets] = float("-inf")
    expected = (candidates > target_scores[:, None]).sum(1) + 1
    assert torch.equal(ranks, expected)
    assert ranks.dtype == torch.int64


def test_chunked_mixture_of_logits_top_k_is_exact():
    num_items = 3_000
    mol = MixtureOfLogitsSimilarity(embedding_dim=DIM, hidden_dim=16)
    table = torch.randn(num_items + 1, DIM)
    queries = torch.randn(5, DIM)
    with torch.no_grad():
        full = mol(queries, table.unsqueeze(0))
        full[:, 0] = float("-inf")
        expected = full.topk(20, dim=1)
        scores, ids = retrieval.top_k(
            lambda ids: mol(queries, table[ids].unsqueeze(0)),
            5,
            num_items,
            20,
            excluded=None,
            chunk_size=retrieval.chunk_size_for(5, mol.work_per_score, 2**14),
            device=queries.device,
        )
    assert torch.equal(ids, expected.indices)
    torch.testing.assert_close(scores, expected.values)
