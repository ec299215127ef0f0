"""Core's explicit simplex kernel representation, built through the registry like any plugin's."""

from __future__ import annotations

import pytest
import torch

from deblur.errors import InputError
from deblur.operators.uniform import convolve
from deblur.registry import Registry


def test_registered_builder_makes_kernels_on_the_simplex(registry: Registry) -> None:
    builder = registry.get("kernel_representation", "simplex").record.load_factory()(init="uniform")
    rep = builder(7)
    k = rep()
    assert k.shape == (1, 1, 7, 7) and torch.allclose(k.sum(), torch.tensor(1.0))


def test_projected_gradient_steps_fit_a_kernel_and_stay_on_the_simplex() -> None:
    from deblur.kernels import gaussian_kernel
    from deblur.kernels.representation import SimplexKernel

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 40, 40, generator=gen)
    truth = gaussian_kernel(5, 1.2, 0.6, angle=0.5)
    y = convolve(x, truth, boundary="valid")
    rep = SimplexKernel(5, init="delta")
    optimiser = torch.optim.Adam(rep.parameters(), lr=0.02)
    losses = []
    for _ in range(200):
        optimiser.zero_grad()
        loss = (convolve(x, rep(), boundary="valid") - y).square().mean()
        loss.backward()
        optimiser.step()
        rep.constrain()
        losses.append(loss.item())
    k = rep().detach()
    assert (k >= 0).all() and abs(float(k.sum()) - 1) < 1e-5
    assert losses[-1] < 0.01 * losses[0]
    assert float((k - truth).abs().sum()) < 0.1


def test_bad_arguments() -> None:
    from deblur.kernels.representation import SimplexKernel, simplex_kernel

    with pytest.raises(InputError, match="odd"):
        SimplexKernel(4)
    with pytest.raises(InputError, match="unknown kernel init 'zeros'"):
        simplex_kernel(init="zeros")
