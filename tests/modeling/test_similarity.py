import pytest
import torch

from genrec.modeling.similarity import DotProductSimilarity, MixtureOfLogitsSimilarity

DIM = 6


@pytest.mark.parametrize("case", ["shared", "grouped", "per_row"])
def test_dot_product_shape_cases_match_einsum(shape_cases, case):
    queries, items, rows = shape_cases[case]
    expected = torch.einsum("qd,qxd->qx", queries, items[rows])
    scores = DotProductSimilarity()(queries, items)
    assert scores.shape == (queries.shape[0], items.shape[1])
    torch.testing.assert_close(scores, expected, rtol=1e-6, atol=1e-6)


def test_dot_product_rejects_rows_that_do_not_divide_the_queries():
    with pytest.raises(ValueError, match="cannot be split evenly"):
        DotProductSimilarity()(torch.randn(5, DIM), torch.randn(2, 3, DIM))


@pytest.mark.parametrize("kind", ["dot", "mol"])
def test_catalogue_logits_match_scoring_the_gathered_items(kind):
    similarity = DotProductSimilarity()
    if kind == "mol":
        similarity = MixtureOfLogitsSimilarity(
            DIM, 3, 2, component_dim=4, hidden_dim=10, gating_hidden_dim=8
        )
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


def test_dot_catalogue_logits_backward_twice_with_retain_graph_equals_autograd():
    table = torch.randn(30, DIM, requires_grad=True)
    queries = torch.randn(9, DIM, requires_grad=True)
    ids = torch.randint(0, 30, (9, 5))
    ids[0] = 4
    fast = DotProductSimilarity().catalogue_logits(queries, table, ids)
    slow = (queries @ table.T).gather(1, ids)  # autograd's own gather backward

    # Two different upstream gradients through one retained graph: the second
    # must not see what the first left in the reused buffer.
    for weights in (torch.randn_like(fast), torch.randn_like(fast)):
        fast_grads = torch.autograd.grad(
            fast, [queries, table], weights, retain_graph=True
        )
        slow_grads = torch.autograd.grad(
            slow, [queries, table], weights, retain_graph=True
        )
        for fast_grad, slow_grad in zip(fast_grads, slow_grads, strict=True):
            torch.testing.assert_close(fast_grad, slow_grad, rtol=1e-5, atol=1e-5)

    (fast * 2).sum().backward(retain_graph=True)
    (fast * 3).sum().backward()
    expected = torch.autograd.grad((slow * 5).sum(), [queries, table])
    torch.testing.assert_close(queries.grad, expected[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(table.grad, expected[1], rtol=1e-5, atol=1e-5)
