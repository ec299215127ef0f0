from __future__ import annotations

import pytest
import torch

from deblur.nn import ConvBlock, DIPGenerator, ResidualBlock, SinusoidalTimeEmbedding, UNet, dip_input


def grads_flow(module: torch.nn.Module, out: torch.Tensor) -> bool:
    out.square().mean().backward()
    return all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in module.parameters())


def test_conv_and_residual_blocks():
    x = torch.rand(2, 3, 10, 12)
    block = ConvBlock(3, 8, stride=2, norm="group", act="leaky")
    assert block(x).shape == (2, 8, 5, 6)
    res = ResidualBlock(3, norm="none", emb_dim=4)
    y = res(x, torch.rand(2, 4))
    assert y.shape == x.shape and grads_flow(res, y)
    with pytest.raises(ValueError, match="needs an embedding"):
        res(x)


@pytest.mark.parametrize("skip", [True, False])
def test_unet_shapes_any_size_and_gradients(skip):
    net = UNet(2, 3, widths=(8, 16, 16), skip=skip)
    y = net(torch.rand(2, 2, 19, 26))
    assert y.shape == (2, 3, 19, 26) and grads_flow(net, y)


def test_unet_time_conditioning_and_softmax_head():
    net = UNet(1, 1, widths=(8, 16), norm="group", act="silu", time_dim=8, out_act="softmax")
    x = torch.rand(2, 1, 9, 9)
    a, b = net(x, torch.tensor([1.0, 1.0])), net(x, torch.tensor([1.0, 400.0]))
    assert torch.allclose(a.sum((-2, -1)), torch.ones(2, 1)) and bool((a >= 0).all())
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="needs t"):
        net(x)


def test_sinusoidal_embedding():
    emb = SinusoidalTimeEmbedding(7)(torch.tensor([0.0, 3.0]))
    assert emb.shape == (2, 7)
    assert torch.equal(emb[0, :3], torch.ones(3)) and torch.equal(emb[0, 3:], torch.zeros(4))
    assert emb[1, 0] == pytest.approx(float(torch.cos(torch.tensor(3.0))))


def test_dip_generator_shape_range_and_gradients():
    net = DIPGenerator(in_ch=4, out_ch=3, channels_down=(8, 8, 16), skip_channels=(2, 0, 2))
    z = dip_input(4, (21, 30), torch.Generator().manual_seed(0))
    assert float(z.min()) >= 0 and float(z.max()) <= 0.1
    y = net(z)
    assert y.shape == (1, 3, 21, 30) and float(y.detach().min()) > 0 and float(y.detach().max()) < 1
    assert grads_flow(net, y)


def test_dip_mc_random_layers_follow_the_generator():
    net = DIPGenerator(in_ch=4, channels_down=(8, 8), dropout=0.3, input_noise=0.05)
    z = dip_input(4, (16, 16), torch.Generator().manual_seed(0))

    def sample(seed: int, **kw) -> torch.Tensor:
        return net(z, generator=torch.Generator().manual_seed(seed), **kw)

    assert torch.equal(sample(1), sample(1)) and not torch.equal(sample(1), sample(2))
    # Deterministic without the random layers: eval mode, stochastic=False, or rates set to zero.
    assert torch.equal(sample(1, stochastic=False), sample(2, stochastic=False))
    net.eval()
    assert torch.equal(net(z), net(z))
    assert not torch.equal(net(z), net(z, stochastic=True))  # MC sampling at inference
    net.dropout, net.input_noise = 0.0, 0.0  # a schedule may switch them off
    assert torch.equal(net(z), net(z, stochastic=True))
