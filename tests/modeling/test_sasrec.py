import pytest
import torch
import torch.nn.functional as F

from genrec.modeling.encoders.sasrec import NORM_PLACEMENTS, SASRecEncoder

DIM = 8


def _encoder(**overrides) -> SASRecEncoder:
    settings = dict(
        embedding_dim=DIM, num_blocks=2, num_heads=2, ffn_dim=16, dropout=0.0
    )
    settings.update(overrides)
    return SASRecEncoder(**settings).eval()


@pytest.mark.parametrize("norm_placement", NORM_PLACEMENTS)
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_sasrec_output_is_causal(make_batch, activation, norm_placement):
    batch = make_batch([7, 4], num_items=30)
    encoder = _encoder(activation=activation, norm_placement=norm_placement)
    x = torch.randn(batch.total, DIM)
    t = 2
    changed = x.clone()
    changed[t + 1 : 7] = torch.randn(7 - t - 1, DIM)
    with torch.no_grad():
        before, after = encoder(x, batch), encoder(changed, batch)
    torch.testing.assert_close(before[: t + 1], after[: t + 1], rtol=0, atol=1e-7)
    assert not torch.allclose(before[t + 1 : 7], after[t + 1 : 7])
    torch.testing.assert_close(before[7:], after[7:])


def test_sasrec_first_position_attends_only_to_itself(make_batch):
    batch = make_batch([5, 1], num_items=30)
    encoder = _encoder(num_blocks=1, norm_placement="pre_norm")
    x = torch.randn(batch.total, DIM)
    with torch.no_grad():
        out = encoder(x, batch)
        block = encoder.blocks[0]
        first = x[0]
        # Softmax over one key is 1, so attention returns that key's value.
        value = block.qkv(block.attention_norm(first))[2 * DIM :]
        h = first + block.attention_output(value)
        h = h + block.ffn_out(torch.relu(block.ffn_in(block.ffn_norm(h))))
        expected = encoder.final_norm(h)
    torch.testing.assert_close(out[0], expected, rtol=1e-5, atol=1e-5)


def test_original_sasrec_reads_raw_values_and_adds_onto_normalized_ones(make_batch):
    batch = make_batch([5, 1], num_items=30)
    encoder = _encoder(num_blocks=1, norm_placement="original")
    x = 3.0 * torch.randn(batch.total, DIM) + 1.0  # far from normalized
    with torch.no_grad():
        out = encoder(x, batch)
        block = encoder.blocks[0]
        for t in (0, 5):  # the first position of each user sees only itself
            first = x[t]
            query = F.layer_norm(first, (DIM,), eps=1e-8)
            # Softmax over one key is 1: attention returns the raw input's value.
            value = block.qkv(first)[2 * DIM :]
            h = F.layer_norm(query + block.attention_output(value), (DIM,), eps=1e-8)
            expected = h + block.ffn_out(torch.relu(block.ffn_in(h)))
            torch.testing.assert_close(out[t], expected, rtol=1e-5, atol=1e-5)


def test_the_two_norm_placements_differ_with_the_same_weights(make_batch):
    batch = make_batch([6, 3], num_items=30)
    original = _encoder(norm_placement="original")
    pre_norm = _encoder(norm_placement="pre_norm")
    pre_norm.load_state_dict(original.state_dict(), strict=False)
    x = torch.randn(batch.total, DIM)
    with torch.no_grad():
        assert not torch.allclose(original(x, batch), pre_norm(x, batch))


def test_original_is_the_default_and_has_no_norm_parameters():
    encoder = SASRecEncoder(embedding_dim=DIM, num_heads=2)
    assert all(block.norm_placement == "original" for block in encoder.blocks)
    assert not any("norm" in name for name, _ in encoder.named_parameters())


@pytest.mark.parametrize("norm_placement", NORM_PLACEMENTS)
def test_gradients_reach_every_sasrec_parameter(make_batch, norm_placement):
    batch = make_batch([6, 0, 3], num_items=30)
    encoder = _encoder(
        dropout=0.1, attention_dropout=0.1, norm_placement=norm_placement
    ).train()
    encoder(torch.randn(batch.total, DIM), batch).pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_sasrec_rejects_heads_that_do_not_divide_the_dim():
    with pytest.raises(ValueError, match="divisible"):
        SASRecEncoder(embedding_dim=10, num_heads=3)


def test_sasrec_rejects_an_unknown_norm_placement():
    with pytest.raises(ValueError, match="norm_placement"):
        SASRecEncoder(embedding_dim=DIM, norm_placement="post_norm")
