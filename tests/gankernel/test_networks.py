"""The networks: the kernel generator (Sec. 3.3), its discriminator, the encoder (Sec. 3.4), inversion."""

from __future__ import annotations

import pytest
import torch

from deblur.errors import InputError
from deblur_gankernel.encoder import EncoderConfig, KernelEncoder
from deblur_gankernel.generator import Discriminator, GeneratorConfig, KernelGenerator, level_sizes
from deblur_gankernel.inversion import invert, l1_distance


def test_level_sizes_halve_down_to_four() -> None:
    assert level_sizes(31) == [4, 8, 16, 31]
    assert level_sizes(55) == [4, 7, 14, 28, 55]
    with pytest.raises(InputError, match="odd integer"):
        level_sizes(32)


@pytest.mark.parametrize("size", [9, 31, 55])
def test_generator_outputs_kernels_on_the_simplex(size: int) -> None:
    g = torch.Generator().manual_seed(0)
    net = KernelGenerator(GeneratorConfig(size, width=4), g).eval()
    k = net(torch.randn(3, 100, generator=g))
    assert k.shape == (3, 1, size, size)
    assert bool((k >= 0).all())
    torch.testing.assert_close(k.sum((-2, -1)), torch.ones(3, 1))


def test_g1_and_synthesis_compose_to_the_generator() -> None:
    g = torch.Generator().manual_seed(1)
    config = GeneratorConfig(31, width=4)
    net = KernelGenerator(config, g).eval()
    z = torch.randn(2, 100, generator=g)
    w = net.g1(z)
    assert w.shape == (2, *config.feature_shape) == (2, 16, 4, 4)
    torch.testing.assert_close(net.synthesis(w), net(z))


def test_networks_are_a_function_of_the_generator_seed() -> None:
    config = GeneratorConfig(9, width=4, disc_width=4)
    a = [KernelGenerator(config, torch.Generator().manual_seed(3)).state_dict() for _ in range(2)]
    d = [Discriminator(config, torch.Generator().manual_seed(3)) for _ in range(2)]
    assert all(torch.equal(a[0][name], a[1][name]) for name in a[0])
    k = torch.rand(4, 1, 9, 9)
    torch.testing.assert_close(d[0](k), d[1](k))
    assert d[0](k).shape == (4,)


def test_encoder_maps_crops_of_any_size_to_codes() -> None:
    net = KernelEncoder(EncoderConfig(width=4, crop=32), torch.Generator().manual_seed(0)).eval()
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 100)
    assert net(torch.rand(1, 1, 48, 40)).shape == (1, 100)
    # standardised input: exposure does not change the code
    y = torch.rand(1, 1, 32, 32)
    torch.testing.assert_close(net(y), net(0.5 * y + 0.2), atol=1e-4, rtol=1e-4)


def test_inversion_recovers_a_generated_kernel() -> None:
    g = torch.Generator().manual_seed(2)
    net = KernelGenerator(GeneratorConfig(9, width=4), g).eval().requires_grad_(False)
    target = net(torch.randn(2, 100, generator=g))
    z0 = torch.randn(2, 100, generator=g)  # (z = 0 is a dead point of an untrained generator's ReLUs)
    start = l1_distance(net(z0), target)
    z = invert(net, target, steps=100, z=z0)
    assert bool((l1_distance(net(z), target) < 0.5 * start).all())
