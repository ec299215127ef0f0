"""The randomized image generator G_x and the kernel networks: randomness, shapes, the simplex."""

from __future__ import annotations

import pytest
import torch

from deblur.errors import InputError
from deblur.seeding import seeded
from deblur_dipmc.generators import image_generator
from deblur_dipmc.kernels import fcn_kernel, kernel_net


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def net():
    return image_generator(width=8, levels=2, skip=2)(1, (20, 24), generator=gen(0))


def test_image_generator_shapes_and_range(net) -> None:
    x = net(3, generator=gen(1), stochastic=True).detach()
    assert x.shape == (3, 1, 20, 24)
    assert float(x.min()) > 0 and float(x.max()) < 1
    assert net.z.shape == (1, 8, 20, 24) and float(net.z.min()) >= 0 and float(net.z.max()) <= 0.1


def test_image_generator_draws_differ_only_when_random(net) -> None:
    net.dropout, net.input_noise = 0.3, 0.05
    a, b = net(1, generator=gen(1), stochastic=True), net(1, generator=gen(2), stochastic=True)
    assert not torch.allclose(a, b, atol=1e-4)
    again = net(1, generator=gen(1), stochastic=True)
    assert torch.equal(a, again), "the generator decides every draw"
    det = net(1, stochastic=False)
    assert torch.equal(det, net(1, generator=gen(3), stochastic=False))
    net.dropout, net.input_noise = 0.0, 0.0
    assert torch.equal(net(1, generator=gen(1), stochastic=True), det)


@pytest.mark.parametrize("which", ["noise", "dropout"])
def test_each_random_source_alone_randomizes(net, which: str) -> None:
    net.dropout, net.input_noise = (0.3, 0.0) if which == "dropout" else (0.0, 0.05)
    a, b = net(1, generator=gen(1), stochastic=True), net(1, generator=gen(2), stochastic=True)
    assert not torch.allclose(a, b, atol=1e-4)


def test_image_generator_is_seeded_by_its_generator() -> None:
    build = image_generator(width=8, levels=2, skip=2)
    a, b = build(1, (16, 16), generator=gen(5)), build(1, (16, 16), generator=gen(5))
    assert torch.equal(a.z, b.z)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.z, build(1, (16, 16), generator=gen(6)).z)


def test_small_images_get_fewer_levels() -> None:
    net = image_generator(width=4, levels=6, skip=2)(1, (12, 40))
    assert len(net.net.levels) == 2 and net(1).shape == (1, 1, 12, 40)


def test_image_generator_rejects_bad_settings() -> None:
    with pytest.raises(InputError, match="at least 4x4"):
        image_generator()(1, (3, 20))
    with pytest.raises(InputError, match="width"):
        image_generator(width=0)


@pytest.mark.parametrize("factory", [kernel_net(width=8, levels=3), fcn_kernel(hidden=32)])
def test_kernel_networks_stay_on_the_simplex(factory) -> None:
    rep = seeded(0, factory, 9)
    opt = torch.optim.Adam(rep.parameters(), lr=0.05)
    target = torch.zeros(1, 1, 9, 9)
    target[..., 2, 3] = 1.0
    for _ in range(5):
        k = rep()
        assert k.shape == (1, 1, 9, 9)
        assert float(k.detach().min()) >= 0 and abs(float(k.detach().sum()) - 1) < 1e-5
        loss = (k - target).square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        rep.constrain()
    with torch.no_grad():
        assert float((rep() - target).square().sum()) < float(loss), "the kernel moves towards its target"


@pytest.mark.parametrize("factory", [kernel_net(width=8, levels=3), fcn_kernel(hidden=32)])
@torch.no_grad()
def test_kernel_networks_randomize_on_request(factory) -> None:
    rep = seeded(0, factory, 7)
    fixed = rep()
    rep.dropout, rep.input_noise = 0.3, 0.05
    assert torch.equal(rep(), fixed), "deterministic unless stochastic"
    rep.stochastic, rep.generator = True, gen(1)
    a = rep()
    rep.generator = gen(2)
    b = rep()
    assert not torch.allclose(a, b) and abs(float(a.sum()) - 1) < 1e-5


def test_kernel_factories_check_sizes_and_settings() -> None:
    with pytest.raises(InputError, match="odd"):
        kernel_net()(8)
    with pytest.raises(InputError, match="hidden"):
        fcn_kernel(hidden=0)
