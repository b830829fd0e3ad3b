"""Mixture-of-Logits against a plain per-query, per-item reference written here."""

import pytest
import torch
import torch.nn.functional as F

from genrec.modeling import jagged
from genrec.modeling.batch import SequenceBatch
from genrec.modeling.similarity import MixtureOfLogitsSimilarity

DIM = 6
MAX_LENGTH = 6  # the configured history limit of the jagged-batch test


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


def _slow_mlp(mlp: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Linear -> SiLU -> Linear of one vector, from the layers' weights alone."""
    first, last = mlp[0], mlp[2]
    hidden = first.weight @ x + first.bias
    hidden = hidden * torch.sigmoid(hidden)
    return last.weight @ hidden + last.bias


def _slow_mol(mol: MixtureOfLogitsSimilarity, query, item):
    """The MoL score of one (query, item) pair, one component pair at a time.

    Re-uses from the module only its settings (component counts and dim,
    l2_normalize, temperature) and the weight and bias tensors of its five
    two-layer MLPs; the MLP arithmetic, the split into components, their norms,
    the pair logits, the gate sum, its softmax and the weighted sum are all
    recomputed here.
    """
    dc = mol.component_dim
    query_flat = _slow_mlp(mol.query_mlp, query)
    item_flat = _slow_mlp(mol.item_mlp, item)
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
        _slow_mlp(mol.query_gate, query)
        + _slow_mlp(mol.item_gate, item)
        + _slow_mlp(mol.interaction_gate, logits)
    )
    gates = torch.exp(gate_logits - gate_logits.max())
    gates = gates / gates.sum()
    return (gates * logits).sum() / mol.temperature


@pytest.mark.parametrize("case", ["shared", "grouped", "per_row"])
@pytest.mark.parametrize("l2_normalize", [True, False])
def test_mixture_of_logits_matches_slow_reference(shape_cases, case, l2_normalize):
    queries, items, rows = shape_cases[case]
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


def test_mixture_of_logits_matches_reference_on_a_jagged_batch():
    """Queries of users with 0, 1 and MAX_LENGTH items (one cut down to it)."""
    generator = torch.Generator().manual_seed(3)
    histories = [
        torch.randint(1, 21, (length,), generator=generator).tolist()
        for length in (0, 1, MAX_LENGTH, MAX_LENGTH + 4, 3)
    ]
    batch = SequenceBatch.from_sequences(histories, max_length=MAX_LENGTH)
    assert batch.lengths.tolist() == [0, 1, MAX_LENGTH, MAX_LENGTH, 3]
    mol = _mol()
    states = torch.randn(batch.total, DIM)  # one query per history position
    candidates = torch.randn(batch.total, 4, DIM)  # (T, X, D), own per position
    shared = torch.randn(1, 5, DIM)  # scored against each user's last state
    offsets = batch.offsets.tolist()
    with torch.no_grad():
        per_position = mol(states, candidates)  # (T, X)
        last = jagged.last_element(states, batch.offsets)  # (B, D), as the model
        per_user = mol(last, shared)  # (B, 5)

        slow_position, slow_user = [], []
        for user in range(batch.batch_size):
            start, end = offsets[user], offsets[user + 1]
            for t in range(start, end):
                row = [_slow_mol(mol, states[t], x) for x in candidates[t]]
                slow_position.append(torch.stack(row))
            # The model queries an empty history with a zero vector.
            query = states[end - 1] if end > start else torch.zeros(DIM)
            slow_user.append(torch.stack([_slow_mol(mol, query, x) for x in shared[0]]))
    assert per_position.shape == (batch.total, 4) and per_user.shape == (5, 5)
    torch.testing.assert_close(
        per_position, torch.stack(slow_position), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(per_user, torch.stack(slow_user), rtol=1e-5, atol=1e-5)


def test_work_per_score_covers_what_backward_keeps_per_score():
    # Q and X are primes that divide no layer width, so a saved tensor whose
    # size is a multiple of Q * X holds per-score values.
    mol = _mol()
    num_queries, num_candidates = 7, 11
    queries = torch.randn(num_queries, DIM, requires_grad=True)
    items = torch.randn(1, num_candidates, DIM, requires_grad=True)
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes() // tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        mol(queries, items)
    scores = num_queries * num_candidates
    per_score = sum(n // scores for n in storages.values() if n % scores == 0)
    # The interaction MLP alone keeps its hidden layer twice per score.
    assert per_score >= 2 * 8
    assert mol.work_per_score >= per_score
