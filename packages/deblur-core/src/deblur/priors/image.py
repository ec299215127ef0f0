"""Sparse gradient priors on images: total variation, hyper-Laplacian and L0.

Each prior is ``penalty(x) = weight * sum_i phi((D x)_i)`` over the horizontal and vertical forward
differences ``D x`` of every channel, and offers ``shrink(v, beta)``, the element-wise proximal map

    shrink(v, beta) = argmin_w  weight * phi(w) + beta / 2 * (w - v) ** 2,

which is the ``w`` step of half-quadratic splitting (see :mod:`deblur.solvers.hqs`).

``penalty`` uses the differences inside the image (no wrap-around); :func:`gradient` and
:func:`gradient_adjoint` are the circular pair that Fourier-domain solvers need.

References:
    Rudin, Osher, Fatemi, "Nonlinear total variation based noise removal algorithms", 1992.
    Krishnan, Fergus, "Fast image deconvolution using hyper-Laplacian priors", NIPS 2009.
    Xu, Lu, Xu, Jia, "Image smoothing via L0 gradient minimization", SIGGRAPH Asia 2011.
    Pan, Hu, Su, Yang, "Deblurring text images via L0-regularized intensity and gradient prior", CVPR 2014.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod

import torch

from deblur.checks import positive
from deblur.errors import InputError

_TABLE_SIZE = 4097
_TABLE_LOG_SPAN = 20.0

__all__ = [
    "HyperLaplacian",
    "L0Gradient",
    "TotalVariation",
    "gradient",
    "gradient_adjoint",
    "interior_gradient",
]


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Circular forward differences, stacked on a new dim -3: ``(..., H, W) -> (..., 2, H, W)``.

    ``out[..., 0, i, j] = x[i, j+1] - x[i, j]`` (horizontal) and ``out[..., 1, i, j] = x[i+1, j] - x[i, j]``
    (vertical), indices modulo the size.
    """
    return torch.stack((x.roll(-1, -1) - x, x.roll(-1, -2) - x), dim=-3)


def gradient_adjoint(g: torch.Tensor) -> torch.Tensor:
    """Adjoint of :func:`gradient` (minus the circular divergence): ``(..., 2, H, W) -> (..., H, W)``."""
    gx, gy = g.unbind(-3)
    return gx.roll(1, -1) - gx + gy.roll(1, -2) - gy


def interior_gradient(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences inside the image: ``(..., H, W-1)`` horizontal and ``(..., H-1, W)`` vertical."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


class _GradientPrior(ABC):
    """Shared ``penalty`` of the gradient priors: ``weight * sum phi(D x)`` over interior differences."""

    weight: float

    @abstractmethod
    def phi(self, w: torch.Tensor) -> torch.Tensor:
        """The element-wise penalty of one difference."""

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        gx, gy = interior_gradient(x)
        return self.weight * (self.phi(gx).sum() + self.phi(gy).sum())


class TotalVariation(_GradientPrior):
    """Anisotropic total variation, ``phi(w) = |w|``; ``shrink`` soft-thresholds at ``weight / beta``.

    The default weight suits non-blind deconvolution of low-noise photos in [0, 1] (Levin benchmark).
    """

    def __init__(self, weight: float = 2e-4) -> None:
        self.weight = positive("prior weight", weight, allow_zero=True)

    def __repr__(self) -> str:
        return f"TotalVariation(weight={self.weight:g})"

    def phi(self, w: torch.Tensor) -> torch.Tensor:
        return w.abs()

    def shrink(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        """``sign(v) * max(|v| - weight / beta, 0)``."""
        return v.sign() * (v.abs() - self.weight / beta).clamp_min(0)


class L0Gradient(_GradientPrior):
    """L0 of the gradients, ``phi(w) = [w != 0]``; ``shrink`` hard-thresholds at ``sqrt(2 weight / beta)``.

    The penalty counts non-zero differences; it is piecewise constant, so its autograd gradient is zero.
    The default weight suits the sharp intermediate latent of blind kernel estimation (Pan et al. 2014);
    non-blind deconvolution of low-noise photos wants far less (about 3e-6).
    """

    def __init__(self, weight: float = 2e-3) -> None:
        self.weight = positive("prior weight", weight, allow_zero=True)

    def __repr__(self) -> str:
        return f"L0Gradient(weight={self.weight:g})"

    def phi(self, w: torch.Tensor) -> torch.Tensor:
        return w.abs().sign()

    def shrink(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        """``v * [v**2 > 2 weight / beta]``: keep ``v`` where that costs less than ``weight``."""
        return v * (v.square() > 2.0 * self.weight / beta).to(v.dtype)


class HyperLaplacian(_GradientPrior):
    """Hyper-Laplacian gradient prior, ``phi(w) = |w| ** alpha``, ``0 < alpha <= 1`` (Krishnan & Fergus 2009).

    ``shrink`` solves ``min_w weight |w|^alpha + beta / 2 (w - v)^2`` exactly. With ``b = beta / weight``
    and the scale ``s = b^(-1 / (2 - alpha))`` the problem becomes ``min_z |z|^alpha + (z - u)^2 / 2`` with
    ``w = s z``, ``u = |v| / s``, whose solution depends on ``alpha`` only: ``z = 0`` up to the threshold
    ``u* = z* + alpha z*^(alpha-1)``, ``z* = (2 (1 - alpha))^(1 / (2 - alpha))`` (where both minima cost the
    same), beyond it the largest root of ``g(z) = alpha z^(alpha-1) + z - u``. That root is found in
    closed form for ``alpha = 1/2`` (a cubic in ``sqrt z``) and ``alpha = 2/3`` (a quartic in
    ``z^(1/3)``, by Ferrari's resolvent cubic), otherwise by interpolating a per-``alpha`` lookup table of
    ``u - z`` on a log grid of ``u`` (Krishnan & Fergus' approach). A final Newton step on ``g`` (with
    autograd) makes the table result exact to rounding and gives ``shrink`` the implicit-function
    derivative ``1 / (1 + alpha (alpha-1) z^(alpha-2))``.

    ``penalty`` uses ``phi(w) = (w^2 + eps^2)^(alpha/2) - eps^alpha`` (``eps = 1e-6``), finite under autograd.
    The default weight suits non-blind deconvolution of low-noise photos in [0, 1] (Levin benchmark).
    """

    eps = 1e-6

    def __init__(self, weight: float = 1e-4, alpha: float = 0.8) -> None:
        self.weight = positive("prior weight", weight, allow_zero=True)
        alpha = float(alpha)
        if not 0 < alpha <= 1:
            raise InputError(f"hyper-Laplacian alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha

    def __repr__(self) -> str:
        return f"HyperLaplacian(weight={self.weight:g}, alpha={self.alpha:g})"

    def phi(self, w: torch.Tensor) -> torch.Tensor:
        return (w.square() + self.eps**2).pow(self.alpha / 2) - self.eps**self.alpha

    def shrink(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        a = self.alpha
        if self.weight == 0:
            return v
        if a == 1:
            return v.sign() * (v.abs() - self.weight / beta).clamp_min(0)
        s = (beta / self.weight) ** (-1 / (2 - a))
        z_star, u_star = _threshold(a)
        u = v.abs() / s
        keep = (u > u_star).to(v.dtype)
        u = u.clamp_min(u_star)
        with torch.no_grad():
            z = _root_guess(u, a).clamp_min(z_star)
        za1 = z.pow(a - 1)
        z = z - (a * za1 + z - u) / (a * (a - 1) * za1 / z + 1)
        return v.sign() * s * keep * z


def _threshold(a: float) -> tuple[float, float]:
    """``(z*, u*)``: the smallest non-zero minimiser and the input where it starts to win over 0."""
    z = (2 * (1 - a)) ** (1 / (2 - a))
    return z, z + a * z ** (a - 1)


@functools.lru_cache(maxsize=16)
def _correction_table(a: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``u - z(u)`` and its increments at ``u = u* exp(t)``, ``t`` uniform in ``[0, _TABLE_LOG_SPAN]``."""
    z_star, u_star = _threshold(a)
    u = u_star * torch.linspace(0, _TABLE_LOG_SPAN, _TABLE_SIZE, dtype=torch.float64).exp()
    z = u.clone()
    for _ in range(100):  # Newton from the right is monotone (g is convex and increasing there)
        za1 = z.pow(a - 1)
        z = (z - (a * za1 + z - u) / (a * (a - 1) * za1 / z + 1)).clamp_min(z_star)
    c = u - z
    return c, torch.cat([c[1:] - c[:-1], c.new_zeros(1)])


def _root_guess(u: torch.Tensor, a: float) -> torch.Tensor:
    """The largest root of ``a z^(a-1) + z = u`` for ``u >= u*``: exact for a = 1/2, 2/3, else to ~1e-6."""
    if math.isclose(a, 0.5):
        # z = t^2: t^3 - u t + 1/2 = 0 has three real roots for u >= u* = 1.5; the largest is
        # t = 2 sqrt(u/3) cos(acos(-(3 / (4u)) sqrt(3/u)) / 3)
        t = 2 * (u / 3).sqrt() * torch.cos(torch.acos(-0.75 / u * (3 / u).sqrt()) / 3)
        return t.square()
    if math.isclose(a, 2 / 3):
        # z = t^3: t^4 - u t + 2/3 = 0. Ferrari: m^3 - 2/3 m - u^2/8 = 0 has one real root for u >= u*,
        # m = cbrt(A + S) + cbrt(A - S) with A = u^2/16, S = sqrt(A^2 - 8/729) (Cardano, A - S written
        # stably); then the largest root is t = (sqrt(2m) + sqrt(2u / sqrt(2m) - 2m)) / 2
        big = u.square() / 16
        root = (big.square() - 8 / 729).clamp_min(0).sqrt()
        m = (big + root).pow(1 / 3) + ((8 / 729) / (big + root)).pow(1 / 3)
        r = (2 * m).sqrt()
        return ((r + (2 * u / r - 2 * m).clamp_min(0).sqrt()) / 2).pow(3)
    value, step = (t.to(dtype=u.dtype, device=u.device) for t in _correction_table(a))
    _, u_star = _threshold(a)
    pos = (u / u_star).log().clamp(0, _TABLE_LOG_SPAN) * ((_TABLE_SIZE - 1) / _TABLE_LOG_SPAN)
    i = pos.floor()
    f = pos - i
    i = i.long().flatten()
    # u - z decreases in u, so beyond the table its last value leaves z slightly left of the root
    return u - (value.index_select(0, i) + step.index_select(0, i) * f.flatten()).view(u.shape)
