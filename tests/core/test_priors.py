"""Image and kernel priors: proximal maps against brute force, penalties, protocols, bad parameters."""

from __future__ import annotations

import math

import pytest
import torch

from deblur.errors import InputError
from deblur.priors import (
    Dirichlet,
    GradientPrior,
    HyperLaplacian,
    KernelL2,
    KernelSparsity,
    L0Gradient,
    Prior,
    QuadraticKernelPrior,
    TotalVariation,
    gradient,
    gradient_adjoint,
)

GRADIENT_PRIORS = [
    TotalVariation(0.01),
    L0Gradient(0.01),
    HyperLaplacian(0.01, alpha=0.5),
    HyperLaplacian(0.01, alpha=2 / 3),
    HyperLaplacian(0.01, alpha=0.8),
    HyperLaplacian(0.01, alpha=0.3),
    HyperLaplacian(0.01, alpha=1.0),
]


def _phi(prior: GradientPrior, w: torch.Tensor) -> torch.Tensor:
    """The exact element-wise penalty (no smoothing), for the brute-force check."""
    if isinstance(prior, L0Gradient):
        return (w != 0).to(w.dtype)
    if isinstance(prior, HyperLaplacian):
        return w.abs().pow(prior.alpha)
    return w.abs()


@pytest.mark.parametrize("prior", GRADIENT_PRIORS, ids=repr)
@pytest.mark.parametrize("beta", [0.02, 1.0, 50.0])
def test_shrink_is_the_proximal_map(prior: GradientPrior, beta: float) -> None:
    v = torch.linspace(-0.6, 0.6, 241, dtype=torch.float64)
    grid = torch.cat(
        [torch.linspace(-0.7, 0.7, 14001, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)]
    )

    def cost(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return prior.weight * _phi(prior, w) + beta / 2 * (w - v) ** 2

    best = cost(grid[None, :], v[:, None]).min(1).values
    got = cost(prior.shrink(v, beta), v)
    assert bool((got <= best + 1e-12).all())
    # the grid is 1e-4 fine, so the brute-force minimum is within a quadratic of that of the truth
    assert float((best - got).max()) < beta * 1e-8 + 1e-12


@pytest.mark.parametrize("alpha", [0.5, 2 / 3, 0.8])
def test_hyper_laplacian_shrink_derivative(alpha: float) -> None:
    prior = HyperLaplacian(0.01, alpha=alpha)
    v = torch.linspace(-1, 1, 101, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(prior.shrink(v, 1.0).sum(), v)
    h = 1e-6
    fd = (prior.shrink(v.detach() + h, 1.0) - prior.shrink(v.detach() - h, 1.0)) / (2 * h)
    smooth = fd.abs() < 5  # away from the jump at the threshold
    assert bool(torch.isfinite(grad).all())
    torch.testing.assert_close(grad[smooth], fd[smooth], atol=1e-5, rtol=1e-5)


def test_hyper_laplacian_shrink_float32_matches_float64() -> None:
    prior = HyperLaplacian(2e-3, alpha=0.8)
    v = torch.randn(4, 1, 2, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.1
    torch.testing.assert_close(prior.shrink(v.float(), 0.3).double(), prior.shrink(v, 0.3), atol=1e-5, rtol=0)


def test_gradient_adjoint_identity() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 5, 7, generator=gen, dtype=torch.float64)
    g = torch.randn(2, 3, 2, 5, 7, generator=gen, dtype=torch.float64)
    assert gradient(x).shape == g.shape
    torch.testing.assert_close((gradient(x) * g).sum(), (x * gradient_adjoint(g)).sum())


def test_penalties() -> None:
    x = torch.tensor([[[[0.0, 1.0, 1.0], [0.0, 0.0, 3.0]]]])
    # interior differences: horizontal (1, 0), (0, 3); vertical (0, -1, 2)
    assert float(TotalVariation(0.5).penalty(x)) == pytest.approx(0.5 * (1 + 3 + 1 + 2))
    assert float(L0Gradient(0.5).penalty(x)) == pytest.approx(0.5 * 4)
    hl = HyperLaplacian(0.5, alpha=0.8)
    assert float(hl.penalty(x)) == pytest.approx(0.5 * (1 + 3**0.8 + 1 + 2**0.8), rel=1e-4)
    xg = x.clone().requires_grad_(True)
    hl.penalty(xg).backward()
    assert bool(torch.isfinite(xg.grad).all())


def test_gradient_priors_follow_the_protocol() -> None:
    for prior in GRADIENT_PRIORS:
        assert isinstance(prior, GradientPrior)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TotalVariation(-1.0),
        lambda: L0Gradient(float("nan")),
        lambda: HyperLaplacian(1e-3, alpha=0.0),
        lambda: HyperLaplacian(1e-3, alpha=1.5),
        lambda: KernelL2(-1.0),
        lambda: KernelSparsity(1e-3, p=2.0),
        lambda: Dirichlet(0.0),
    ],
)
def test_bad_parameters(make) -> None:
    with pytest.raises(InputError):
        make()


def _kernels() -> torch.Tensor:
    k = torch.rand(2, 1, 5, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64) + 0.01
    return k / k.sum((-2, -1), keepdim=True)


def test_kernel_l2() -> None:
    k = _kernels()
    prior = KernelL2(0.3)
    assert isinstance(prior, QuadraticKernelPrior)
    torch.testing.assert_close(prior.penalty(k), 0.3 * (k**2).sum())
    torch.testing.assert_close(prior.log_prob(k), -0.3 * (k**2).flatten(1).sum(1))


def test_kernel_sparsity_prefers_sparse_kernels() -> None:
    prior = KernelSparsity(1.0, p=0.5)
    assert isinstance(prior, Prior)
    delta = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    delta[..., 2, 2] = 1
    flat = torch.full_like(delta, 1 / 25)
    assert float(prior.penalty(delta)) == pytest.approx(1.0, abs=1e-3)
    eps = KernelSparsity.eps
    assert float(prior.penalty(flat)) == pytest.approx(25 * ((0.04 + eps) ** 0.5 - eps**0.5))
    assert float(prior.penalty(flat)) > 4.9
    k = _kernels().requires_grad_(True)
    prior.penalty(k).backward()
    assert bool(torch.isfinite(k.grad).all())
    with pytest.raises(InputError):
        prior.penalty(torch.ones(5, 5))


def test_dirichlet_log_prob_matches_torch() -> None:
    k = _kernels()
    prior = Dirichlet(concentration=0.3)
    reference = torch.distributions.Dirichlet(torch.full((25,), 0.3, dtype=torch.float64)).log_prob(
        k.flatten(1)
    )
    torch.testing.assert_close(prior.log_prob(k), reference)
    # penalty is -log_prob up to a constant
    other = _kernels().flip(-1) ** 2
    other = other / other.sum((-2, -1), keepdim=True)
    diff_penalty = prior.penalty(k[:1]) - prior.penalty(other[:1])
    diff_log_prob = prior.log_prob(other[:1]) - prior.log_prob(k[:1])
    assert math.isclose(float(diff_penalty), float(diff_log_prob), rel_tol=1e-9)
