r"""Non-blind deconvolution by half-quadratic splitting with a sparse gradient prior.

Solves, for a :class:`~deblur.priors.base.GradientPrior` ``phi`` (hyper-Laplacian by default),

.. math:: \min_x \tfrac12 \| M (k \circledast x) - y \|^2 + \lambda \sum_i \phi((D x)_i)

with ``x`` on a periodic grid that extends the observation by the kernel's reach (rounded up to an
FFT-friendly size) and ``M`` the mask selecting the observed window, so the "valid" model holds and no
boundary is assumed (Almeida & Figueiredo 2013). Splitting ``u = k * x`` and ``w = D x`` makes every
step diagonal, in Fourier or element-wise:

.. math::

    u &\leftarrow (M^T y + \mu (k \circledast x + d)) / (M^T M + \mu)        \\
    w &\leftarrow \mathrm{shrink}_\phi(D x, \beta)                          \\
    \hat x &\leftarrow \frac{\mu \bar K \widehat{(u - d)} + \beta \widehat{D^T w}}{\mu |K|^2 + \beta |D|^2} \\
    d &\leftarrow d + k \circledast x - u

with ``w`` updated by half-quadratic continuation (``beta`` from ``beta_init`` up to ``beta_max`` by
``beta_rate`` per step, Krishnan & Fergus 2009) and ``u`` by ADMM with the scaled dual ``d``; the data
penalty follows ``mu = mu_ratio * beta`` and ``d`` is divided by ``beta_rate`` when it grows, which keeps
the unscaled multiplier. "circular" uses ``M = I`` on the observation grid; "same" is solved as
"valid" (a same-size blur of a padded image is a valid blur of the padded latent). The result is the
latent's window aligned with ``y``. Every step is a differentiable torch operation, so gradients flow to
the kernel through the fixed number of unrolled iterations.

Any other linear blur (a kernel field, a basis of kernels: :mod:`deblur.operators.spatially_varying`)
is solved by :func:`hqs_operator`: the same splitting of ``w = D x`` and continuation, the quadratic
``x`` step :math:`(A^T M A + \beta D^T D) x = A^T M y + \beta D^T w` solved by conjugate gradients
warm-started from the last ``x`` (``cg_iterations`` steps), on the operator's own latent grid.

References:
    Krishnan, Fergus, "Fast image deconvolution using hyper-Laplacian priors", NIPS 2009.
    Almeida, Figueiredo, "Deconvolving images with unknown boundaries using the alternating direction
    method of multipliers", IEEE TIP 2013.
    Geman, Yang, "Nonlinear image recovery with half-quadratic regularization", IEEE TIP 1995.
"""

from __future__ import annotations

import math

import torch

from deblur.checks import count, positive, within
from deblur.errors import InputError
from deblur.observation import noise_level, saturation_mask
from deblur.operators.base import LinearOperator, OperatorBuilder, build_operator
from deblur.operators.fft import psf2otf
from deblur.priors.base import GradientPrior
from deblur.priors.image import HyperLaplacian, gradient, gradient_adjoint
from deblur.solvers._common import (
    check_inputs,
    embed,
    forward_builder,
    gradient_spectrum,
    latent_window,
    uniform_kernel,
)

__all__ = ["HQSDeconvolver", "hqs_deconvolve", "hqs_operator"]

DEFAULT_WEIGHT = 1e-4


def _continuation_steps(
    iterations: int, beta_init: float, beta_rate: float, beta_max: float, mu_ratio: float
) -> int:
    """The number of ``beta`` values of the continuation; refuses settings that make no schedule."""
    count("iterations", iterations, 1)
    beta, rate = positive("beta_init", beta_init), positive("beta_rate", beta_rate)
    beta_max = positive("beta_max", beta_max)
    positive("mu_ratio", mu_ratio)
    if rate <= 1 or beta_max < beta:
        raise InputError(f"need beta_rate > 1 and beta_max >= beta_init, got {rate}, {beta_max} < {beta}")
    return math.floor(math.log(beta_max / beta) / math.log(rate) + 1e-9) + 1


def _data_weights(
    y: torch.Tensor, prior: GradientPrior, saturation: float | None, noise_weight: float | None
) -> torch.Tensor:
    """The data term's per-pixel weights ``M`` (broadcast against ``y``): 0 on clipped pixels where
    ``saturation`` is set, everywhere scaled down so that the prior weighs at least ``noise_weight``
    times the noise variance of ``y`` where that is set (see :func:`hqs_deconvolve`)."""
    fitted = torch.ones_like(y[:1, :1])
    if saturation is not None:
        level = within("saturation", saturation, 0.0, 1.0)
        fitted = (~saturation_mask(y.flatten(0, 1)[:, None], level).view_as(y)).to(y.dtype)
    if noise_weight is not None and prior.weight > 0:
        wanted = positive("noise_weight", noise_weight) * noise_level(y) ** 2
        fitted = fitted * min(1.0, prior.weight / wanted) if wanted > 0 else fitted
    return fitted


def hqs_deconvolve(
    y: torch.Tensor,
    k: torch.Tensor,
    *,
    prior: GradientPrior | None = None,
    weight: float = DEFAULT_WEIGHT,
    boundary: str = "valid",
    iterations: int = 3,
    beta_init: float = 1e-3,
    beta_rate: float = 2.0,
    beta_max: float = 1.0,
    mu_ratio: float = 10.0,
    saturation: float | None = None,
    noise_weight: float | None = None,
) -> torch.Tensor:
    """Deconvolve ``y`` (B, C, H, W) with the kernel ``k`` (B|1, 1, h, w); returns (B, C, H, W), unclipped.

    Args:
        prior: gradient prior with ``shrink``; default ``HyperLaplacian(weight, alpha=0.8)``.
        weight: hyper-Laplacian weight when ``prior`` is None (ignored otherwise). For images in [0, 1]
            with Gaussian noise of std ``sigma`` about ``4 sigma^2`` works (measured); the default
            ``1e-4`` suits low-noise photos such as the Levin captures.
        boundary: "valid" (y is the interior of a larger scene), "same" or "circular".
        iterations: splitting iterations per ``beta`` value.
        beta_init, beta_rate, beta_max: the continuation ``beta = beta_init * beta_rate ** j <= beta_max``.
        mu_ratio: data-split penalty over ``beta``.
        saturation: pixels of a channel at or above this level (grown by one pixel) are left out of
            ``M``: clipped light sources are not fitted, so they do not ring (the hard outlier mask of
            Cho, Wang & Lee, "Handling outliers in non-blind image deconvolution", ICCV 2011); ``None``
            fits every pixel.
        noise_weight: when set, the prior's weight is raised to at least ``noise_weight * sigma^2``, with
            ``sigma`` the noise of ``y`` (:func:`deblur.observation.noise_level`): the data term is
            scaled down instead, which is the same minimiser. About 4 suits photos (measured on the
            realistic set); ``None`` keeps the prior's weight whatever the noise.
    """
    k = check_inputs(y, k, boundary)
    if prior is None:
        prior = HyperLaplacian(positive("weight", weight, allow_zero=True), alpha=0.8)
    elif not isinstance(prior, GradientPrior):
        raise InputError(f"HQS needs a gradient prior with shrink(v, beta), got {prior!r}")
    steps = _continuation_steps(iterations, beta_init, beta_rate, beta_max, mu_ratio)
    beta, rate = float(beta_init), float(beta_rate)

    H, W = y.shape[-2:]
    top, left, N1, N2 = latent_window((H, W), k.shape[-2:], boundary)
    grid = (N1, N2)
    K = psf2otf(k, grid)
    den = mu_ratio * K.abs().square() + gradient_spectrum(grid, y.dtype, y.device)
    fitted = _data_weights(y, prior, saturation, noise_weight)
    mask = embed(fitted, top, left, grid, "zero")
    My = embed(y * fitted, top, left, grid, "zero")
    x = embed(y, top, left, grid, "replicate")
    Kx = torch.fft.irfft2(torch.fft.rfft2(x) * K, s=grid)
    d = torch.zeros_like(x)
    for _ in range(steps):
        mu = mu_ratio * beta
        for _ in range(int(iterations)):
            u = (My + mu * (Kx + d)) / (mask + mu)
            w = prior.shrink(gradient(x), beta)
            num = mu_ratio * K.conj() * torch.fft.rfft2(u - d) + torch.fft.rfft2(gradient_adjoint(w))
            X = num / den
            x = torch.fft.irfft2(X, s=grid)
            Kx = torch.fft.irfft2(X * K, s=grid)
            d = d + Kx - u
        beta *= rate
        d = d / rate
    return x[..., top : top + H, left : left + W]


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum((-2, -1), keepdim=True)


def hqs_operator(
    y: torch.Tensor,
    op: LinearOperator,
    *,
    prior: GradientPrior,
    iterations: int = 3,
    beta_init: float = 1e-3,
    beta_rate: float = 2.0,
    beta_max: float = 1.0,
    cg_iterations: int = 10,
    saturation: float | None = None,
    noise_weight: float | None = None,
) -> torch.Tensor:
    """HQS for any linear blur ``op`` (module docstring): ``y`` (B, C, H, W) -> the latent's window aligned
    with ``y``, unclipped. The settings are :func:`hqs_deconvolve`'s."""
    steps = _continuation_steps(iterations, beta_init, beta_rate, beta_max, 1.0)
    count("cg_iterations", cg_iterations, 1)
    H, W = y.shape[-2:]
    top, left = op.window_offset((H, W))
    fitted = _data_weights(y, prior, saturation, noise_weight)
    data = op.adjoint(fitted * y)
    x = embed(y, top, left, op.latent_shape((H, W)), "replicate")
    tiny = torch.finfo(y.dtype).tiny
    beta = float(beta_init)
    for _ in range(steps):

        def normal(v: torch.Tensor, beta: float = beta) -> torch.Tensor:
            return op.adjoint(fitted * op.forward(v)) + beta * gradient_adjoint(gradient(v))

        for _ in range(int(iterations)):
            w = prior.shrink(gradient(x), beta)
            r = data + beta * gradient_adjoint(w) - normal(x)
            p, rr = r, _dot(r, r)
            for _ in range(int(cg_iterations)):
                q = normal(p)
                alpha = rr / _dot(p, q).clamp_min(tiny)
                x, r = x + alpha * p, r - alpha * q
                rr_next = _dot(r, r)
                p, rr = r + (rr_next / rr.clamp_min(tiny)) * p, rr_next
        beta *= float(beta_rate)
    return x[..., top : top + H, left : left + W]


class HQSDeconvolver:
    """:func:`hqs_deconvolve` with fixed settings, callable as ``(y, k) -> x``.

    ``HQSDeconvolver(prior=TotalVariation(2e-4), boundary="valid")(y, k)``. The blur model comes from
    ``forward``, a builder ``kernel -> operator`` (default :class:`~deblur.operators.UniformBlur`; the
    pipeline's ``forward`` slot): ``k`` is built into an operator, which must be uniform (HQS inverts
    its ``kernel`` by FFT) or, passed in place of ``k``, any built linear operator (a kernel field, a
    basis), solved by :func:`hqs_operator`; the operator's ``boundary`` is the model solved.
    ``boundary`` set here is bound into the builder (one that binds another boundary is refused), so
    ``boundary=None`` means the operator's own, ``"valid"`` by default.
    """

    def __init__(
        self,
        prior: GradientPrior | None = None,
        *,
        weight: float = DEFAULT_WEIGHT,
        boundary: str | None = None,
        iterations: int = 3,
        beta_init: float = 1e-3,
        beta_rate: float = 2.0,
        beta_max: float = 1.0,
        mu_ratio: float = 10.0,
        saturation: float | None = None,
        noise_weight: float | None = None,
        cg_iterations: int = 10,
        forward: OperatorBuilder | None = None,
    ) -> None:
        if prior is None:
            prior = HyperLaplacian(positive("weight", weight, allow_zero=True), alpha=0.8)
        elif not isinstance(prior, GradientPrior):
            raise InputError(f"HQS needs a gradient prior with shrink(v, beta), got {prior!r}")
        self.forward = forward_builder(forward, boundary)
        _continuation_steps(iterations, beta_init, beta_rate, beta_max, mu_ratio)
        if saturation is not None:
            within("saturation", saturation, 0.0, 1.0)
        if noise_weight is not None:
            positive("noise_weight", noise_weight)
        self.cg_iterations = count("cg_iterations", cg_iterations, 1)
        self.prior = prior
        self.params = {
            "iterations": iterations,
            "beta_init": beta_init,
            "beta_rate": beta_rate,
            "beta_max": beta_max,
            "mu_ratio": mu_ratio,
            "saturation": saturation,
            "noise_weight": noise_weight,
        }

    def __call__(self, y: torch.Tensor, k: torch.Tensor | LinearOperator) -> torch.Tensor:
        op = build_operator(self.forward, k)
        if isinstance(k, LinearOperator) and not isinstance(getattr(op, "kernel", None), torch.Tensor):
            fitted = {name: v for name, v in self.params.items() if name != "mu_ratio"}
            return hqs_operator(y, op, prior=self.prior, cg_iterations=self.cg_iterations, **fitted)
        return hqs_deconvolve(
            y, uniform_kernel(op, "hqs"), prior=self.prior, boundary=op.boundary, **self.params
        )

    def __repr__(self) -> str:
        args = [f"prior={self.prior!r}"] + [f"{key}={value!r}" for key, value in self.params.items()]
        return f"HQSDeconvolver({', '.join(args)}, forward={self.forward!r})"
