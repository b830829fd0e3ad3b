import pytest
import torch

from genrec.modeling.losses import BCELoss, SampledSoftmaxLoss


def _inputs(dtype):
    positive = torch.randn(5, dtype=dtype, requires_grad=True)
    negative = torch.randn(5, 4, dtype=dtype, requires_grad=True)
    valid = torch.ones(5, 4, dtype=torch.bool)
    supervised = torch.tensor([True, True, False, True, True])
    return positive, negative, valid, supervised


def test_sampled_softmax_is_cross_entropy_over_supervised_positions():
    positive, negative, valid, supervised = _inputs(torch.float32)
    valid[0, 1] = False
    loss = SampledSoftmaxLoss(temperature=0.5)(positive, negative, valid, supervised)
    per_position = []
    for t in torch.nonzero(supervised).flatten().tolist():
        kept = [negative[t, j] for j in range(4) if valid[t, j]]
        logits = torch.stack([positive[t], *kept]) / 0.5
        per_position.append(-torch.log_softmax(logits, 0)[0])
    torch.testing.assert_close(loss, torch.stack(per_position).mean())


def test_bce_with_one_negative_is_the_logistic_loss():
    positive, negative, valid, supervised = _inputs(torch.float32)
    negative, valid = negative[:, :1], valid[:, :1]
    loss = BCELoss()(positive, negative, valid, supervised)
    sp = torch.nn.functional.softplus
    expected = (sp(-positive) + sp(negative[:, 0]))[supervised].mean()
    torch.testing.assert_close(loss, expected)


def test_bce_draws_one_valid_negative_per_position_from_shared_rows():
    # Shared negatives as the in-batch sampler gives them: one sorted row for
    # every position, padding first (slot 0) and a repeat (slot 3) invalid.
    positions, slots = 3_000, 5
    positive = torch.randn(positions, requires_grad=True)
    negative = torch.randn(positions, slots, requires_grad=True)
    valid = torch.tensor([False, True, True, False, True]).expand(positions, -1)
    valid = valid.clone()
    valid[:10] = False  # positions with no valid negative keep the positive term
    supervised = torch.ones(positions, dtype=torch.bool)

    loss = BCELoss(temperature=0.5)(positive, negative, valid, supervised)
    loss.backward()
    used = negative.grad != 0  # (T, X)
    assert torch.equal(used.sum(1), valid.any(1).long())  # one slot where possible
    assert not used[~valid].any()
    counts = used.sum(0).tolist()  # uniform over the three valid slots
    assert counts[0] == counts[3] == 0
    assert all(abs(counts[j] - (positions - 10) / 3) < 150 for j in (1, 2, 4))

    slot = used.float().argmax(1)  # the drawn slot (0 where none was)
    sp = torch.nn.functional.softplus
    drawn = negative.detach().gather(1, slot[:, None]).squeeze(1)
    expected = sp(-positive.detach() / 0.5) + sp(drawn / 0.5).where(valid.any(1), 0.0)
    torch.testing.assert_close(loss, expected.mean())


@pytest.mark.parametrize("loss_cls", [SampledSoftmaxLoss, BCELoss])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_loss_is_finite_when_every_negative_is_the_positive(loss_cls, dtype):
    positive, negative, valid, supervised = _inputs(dtype)
    # Accidental hits are masked out: every negative slot is invalid.
    valid[:] = False
    loss = loss_cls()(positive * 40, negative * 40, valid, supervised)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(positive.grad.float()).all()
    assert torch.isfinite(negative.grad.float()).all()
    assert negative.grad.abs().sum() == 0


@pytest.mark.parametrize("loss_cls", [SampledSoftmaxLoss, BCELoss])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_loss_is_zero_with_zero_gradients_when_nothing_is_supervised(loss_cls, dtype):
    positive, negative, valid, supervised = _inputs(dtype)
    supervised[:] = False
    loss = loss_cls()(positive, negative, valid, supervised)
    loss.backward()
    assert loss.item() == 0.0
    assert positive.grad.abs().sum() == 0 and negative.grad.abs().sum() == 0


def test_sampled_softmax_is_finite_for_extreme_bf16_logits():
    positive, negative, valid, supervised = _inputs(torch.bfloat16)
    loss = SampledSoftmaxLoss(temperature=0.05)(
        positive * 1e4, negative * 1e4, valid, supervised
    )
    assert torch.isfinite(loss)
