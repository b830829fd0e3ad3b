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


def test_bce_uses_the_first_negative_only():
    positive, negative, valid, supervised = _inputs(torch.float32)
    loss = BCELoss()(positive, negative, valid, supervised)
    sp = torch.nn.functional.softplus
    expected = (sp(-positive) + sp(negative[:, 0]))[supervised].mean()
    torch.testing.assert_close(loss, expected)


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
