import pytest
import torch
import torch.nn.functional as F

from genrec.modeling import jagged
from genrec.modeling.similarity import DotProductSimilarity, MixtureOfLogitsSimilarity

DIM = 6


def _shape_cases():
    """(queries, items, row of the candidates for each query) for the three cases."""
    shared = (torch.randn(5, DIM), torch.randn(1, 7, DIM), [0] * 5)
    grouped = (torch.randn(6, DIM), torch.randn(3, 7, DIM), [0, 0, 1, 1, 2, 2])
    per_row = (torch.randn(4, DIM), torch.randn(4, 7, DIM), [0, 1, 2, 3])
    return {"shared": shared, "grouped": grouped, "per_row": per_row}


@pytest.mark.parametrize("case", ["shared", "grouped", "per_row"])
def test_dot_product_shape_cases_match_einsum(case):
    queries, items, rows = _shape_cases()[case]
    expected = torch.einsum("qd,qxd->qx", queries, items[rows])
    scores = DotProductSimilarity()(queries, items)
    assert scores.shape == (queries.shape[0], items.shape[1])
    torch.testing.assert_close(scores, expected, rtol=1e-6, atol=1e-6)


def test_dot_product_rejects_rows_that_do_not_divide_the_queries():
    with pytest.raises(ValueError, match="cannot be split evenly"):
        DotProductSimilarity()(torch.randn(5, DIM), torch.randn(2, 3, DIM))


def _mol(**overrides) -> MixtureOfLogitsSimilarity:
    settings = dict(
        embedding_dim=DIM,
        query_components=3,
        item_components=2,
        component_dim=4,
        hidden_dim=10,
        gating_hidden_dim=8,
        l2_normalize=True,
        temperature=0.5,
    )
    settings.update(overrides)
    return MixtureOfLogitsSimilarity(**settings)


def _slow_mol(mol: MixtureOfLogitsSimilarity, query, item):
    """The MoL score of one (query, item) pair, one component pair at a time."""
    dc = mol.component_dim
    query_flat, item_flat = mol.query_mlp(query), mol.item_mlp(item)
    logits = []
    for p in range(mol.query_components):
        f_p = query_flat[p * dc : (p + 1) * dc]
        for k in range(mol.item_components):
            g_k = item_flat[k * dc : (k + 1) * dc]
            if mol.l2_normalize:
                f_p, g_k = f_p / f_p.norm(), g_k / g_k.norm()
            logits.append(torch.dot(f_p, g_k))
    logits = torch.stack(logits)
    gate_logits = (
        mol.query_gate(query) + mol.item_gate(item) + mol.interaction_gate(logits)
    )
    gates = torch.softmax(gate_logits, dim=0)
    return (gates * logits).sum() / mol.temperature


@pytest.mark.parametrize("case", ["shared", "grouped", "per_row"])
@pytest.mark.parametrize("l2_normalize", [True, False])
def test_mixture_of_logits_matches_slow_reference(case, l2_normalize):
    queries, items, rows = _shape_cases()[case]
    mol = _mol(l2_normalize=l2_normalize)
    with torch.no_grad():
        fast = mol(queries, items)
        slow = torch.stack(
            [
                torch.stack([_slow_mol(mol, q, x) for x in items[row]])
                for q, row in zip(queries, rows, strict=True)
            ]
        )
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_mixture_of_logits_scores_are_bounded_cosines_with_l2_norm():
    mol = _mol(temperature=0.25)
    scores = mol(torch.randn(8, DIM), torch.randn(1, 9, DIM))
    assert scores.abs().max() <= 4.0 + 1e-5


def test_gradients_reach_every_mixture_of_logits_parameter():
    mol = _mol()
    queries = torch.randn(4, DIM, requires_grad=True)
    items = torch.randn(2, 5, DIM, requires_grad=True)
    F.logsigmoid(mol(queries, items)).sum().backward()
    for name, parameter in mol.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name
    assert queries.grad is not None and items.grad is not None


@pytest.mark.parametrize("kind", ["dot", "mol"])
def test_catalogue_logits_match_scoring_the_gathered_items(kind):
    similarity = DotProductSimilarity() if kind == "dot" else _mol()
    table = torch.randn(30, DIM, requires_grad=True)
    queries = torch.randn(9, DIM, requires_grad=True)
    ids = torch.randint(0, 30, (9, 5))
    ids[0] = 4  # repeated ids accumulate their gradients

    fast = similarity.catalogue_logits(queries, table, ids)
    weights = torch.randn_like(fast)
    fast_grads = torch.autograd.grad((fast * weights).sum(), [queries, table])
    slow = similarity(queries, table[ids], ids)
    slow_grads = torch.autograd.grad((slow * weights).sum(), [queries, table])

    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    for fast_grad, slow_grad in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(fast_grad, slow_grad, rtol=1e-5, atol=1e-5)


def test_mixture_of_logits_matches_reference_on_a_jagged_batch(make_batch):
    """Per-position queries of users with 0, 1 and max items, own candidates each."""
    batch = make_batch([0, 1, 6, 3], num_items=20)
    mol = _mol()
    states = torch.randn(batch.total, DIM)  # one query per history position
    candidates = torch.randn(batch.total, 4, DIM)  # (T, X, D)
    last = jagged.last_element(states, batch.offsets)  # (B, D), zeros if empty
    shared = torch.randn(1, 5, DIM)
    with torch.no_grad():
        per_position = mol(states, candidates)
        per_user = mol(last, shared)
        slow_position = torch.stack(
            [
                torch.stack([_slow_mol(mol, q, x) for x in row])
                for q, row in zip(states, candidates, strict=True)
            ]
        )
        slow_user = torch.stack(
            [torch.stack([_slow_mol(mol, q, x) for x in shared[0]]) for q in last]
        )
    assert per_position.shape == (batch.total, 4) and per_user.shape == (4, 5)
    torch.testing.assert_close(per_position, slow_position, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(per_user, slow_user, rtol=1e-5, atol=1e-5)
