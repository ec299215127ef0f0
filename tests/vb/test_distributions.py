"""The model's terms (Sec. 3.1-3.3): KL divergences, the expected likelihood, the cropped Dirichlet."""

from __future__ import annotations

import pytest
import torch
from deblur_vb.distributions import (
    crop_concentration,
    dirichlet_kl,
    dirichlet_moments,
    expected_sq_error,
    fit_support_crop,
    gaussian_kl,
    prior_concentration,
)

from deblur.data import blur_image, dead_leaves
from deblur.kernels import flip, motion_kernel


def _concentrations(g: torch.Generator, rows: int = 3, taps: int = 25, scale: float = 2e4) -> torch.Tensor:
    p = torch.rand(rows, taps, generator=g, dtype=torch.float64) ** 3
    return scale * p / p.sum(1, keepdim=True) + 0.05


def test_gaussian_kl_matches_torch_and_vanishes_at_equality():
    g = torch.Generator().manual_seed(0)
    mu, x = torch.rand(2, 1, 5, 5, generator=g, dtype=torch.float64).unbind(0)
    var = 1e-6 * (0.5 + torch.rand(1, 5, 5, generator=g, dtype=torch.float64))
    mu, x, var = mu[None], x[None], var[None]
    ours = gaussian_kl(mu, var, x, 1e-6)
    q = torch.distributions.Normal(mu, var.sqrt())
    p = torch.distributions.Normal(x, torch.full_like(x, 1e-3))
    assert torch.allclose(ours, torch.distributions.kl_divergence(q, p).flatten(1).sum(1), rtol=1e-10)
    assert gaussian_kl(x, torch.full_like(x, 1e-6), x, 1e-6).item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dirichlet_kl_matches_torch_in_float64_and_is_non_negative(dtype):
    g = torch.Generator().manual_seed(1)
    xi, alpha = _concentrations(g), _concentrations(g)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Dirichlet(xi), torch.distributions.Dirichlet(alpha)
    )
    ours = dirichlet_kl(xi.to(dtype), alpha.to(dtype))
    assert ours.dtype == dtype
    assert torch.allclose(ours.double(), expected, rtol=1e-6 if dtype == torch.float32 else 1e-9)
    assert bool((dirichlet_kl(xi.to(dtype), xi.to(dtype)) == 0).all())  # exact at equality
    near = xi * (1 + 1e-7 * torch.randn(xi.shape, generator=g, dtype=torch.float64))
    assert bool((dirichlet_kl(near.to(dtype), xi.to(dtype)) >= 0).all())


def test_dirichlet_kl_float32_inputs_keep_precision():
    """At c = 2e4 the log-gamma terms are ~1e5 apart from the divergence: float32 inputs still give it."""
    g = torch.Generator().manual_seed(2)
    xi, alpha = _concentrations(g), _concentrations(g)
    exact = dirichlet_kl(xi, alpha)
    assert torch.allclose(dirichlet_kl(xi.float(), alpha.float()).double(), exact, rtol=1e-5)


def _case(size: int = 7, side: int = 24, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    k = motion_kernel(size, generator=g).double()
    x = dead_leaves(side + size - 1, g).double()
    y = blur_image(x, k, noise_sigma=0.0, generator=g)  # valid: side x side
    r = size // 2
    sharp = x[..., r : r + side, r : r + side]
    return y, sharp, k, g


def test_expected_sq_error_matches_monte_carlo():
    y, sharp, k, g = _case()
    mu = sharp + 0.02 * torch.randn(sharp.shape, generator=g, dtype=torch.float64)
    var = (0.01 + 0.02 * torch.rand(sharp.shape, generator=g, dtype=torch.float64)).square()
    xi = prior_concentration(k, 300.0).double()
    closed = expected_sq_error(y, mu, var, xi)
    torch.manual_seed(3)
    n = 4000
    h = torch.distributions.Dirichlet(xi[0]).sample((n,)).reshape(n, 1, *k.shape[-2:])
    z = mu + var.sqrt() * torch.randn(n, *mu.shape[1:], dtype=torch.float64)
    from deblur.operators import convolve

    r = k.shape[-1] // 2
    inner = y[..., r:-r, r:-r]
    mc = (inner - convolve(z, h)).square().flatten(1).sum(1)
    assert abs(closed.item() - mc.mean().item()) < 4 * mc.std().item() / n**0.5
    # given a fixed kernel (the inner expectation of Eq. 14)
    fixed = expected_sq_error(y, mu, var, None, kernel=k)
    mc_fixed = (inner - convolve(z, k)).square().flatten(1).sum(1)
    assert abs(fixed.item() - mc_fixed.mean().item()) < 4 * mc_fixed.std().item() / n**0.5


def test_true_kernel_beats_its_flip():
    """The likelihood is a true convolution: the asymmetric kernel explains y, its flip does not."""
    y, sharp, k, _ = _case(size=9)
    assert not torch.allclose(k, flip(k))
    var = torch.full_like(sharp, 1e-8)
    right = expected_sq_error(y, sharp, var, prior_concentration(k, 1e8))
    wrong = expected_sq_error(y, sharp, var, prior_concentration(flip(k), 1e8))
    assert right.item() < 1e-4 * wrong.item()


def test_cropped_dirichlet_moments_match_samples():
    g = torch.Generator().manual_seed(4)
    xi = _concentrations(g, rows=1, taps=49, scale=50.0)
    cropped = crop_concentration(xi, 7, 3)
    assert cropped.shape == (1, 9)
    torch.manual_seed(5)
    h = torch.distributions.Dirichlet(xi[0]).sample((20000,)).reshape(-1, 7, 7)
    inner = fit_support_crop(h, 3).reshape(-1, 9)
    inner = inner / inner.sum(1, keepdim=True)
    mean, std = dirichlet_moments(cropped)
    assert torch.allclose(inner.mean(0), mean[0], atol=4e-3)
    assert torch.allclose(inner.std(0), std[0], rtol=0.05, atol=1e-3)
