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

from deblur.errors import InputError

_TABLE_SIZE = 4097
_TABLE_SPAN = 16.0

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


def _check_weight(weight: float) -> float:
    weight = float(weight)
    if not math.isfinite(weight) or weight < 0:
        raise InputError(f"prior weight must be a finite number >= 0, got {weight}")
    return weight


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
    """Anisotropic total variation, ``phi(w) = |w|``; ``shrink`` soft-thresholds at ``weight / beta``."""

    def __init__(self, weight: float = 2e-3) -> None:
        self.weight = _check_weight(weight)

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
    """

    def __init__(self, weight: float = 2e-3) -> None:
        self.weight = _check_weight(weight)

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
    same), beyond it the largest root of ``alpha z^(alpha-1) + z - u = 0``. That root is found in closed
    form for ``alpha = 1/2`` (a cubic in ``sqrt z``) and ``alpha = 2/3`` (a quartic in ``z^(1/3)``, by
    Ferrari's resolvent) and otherwise by interpolating a per-``alpha`` lookup table (Krishnan & Fergus'
    approach) refined by Newton steps, which converge monotonically from the right because the
    stationarity function is convex and increasing there. A last Newton step with autograd from the
    detached root gives ``shrink`` the implicit-function derivative ``1 / (1 + alpha (alpha-1) z^(alpha-2))``.

    ``penalty`` smooths ``|w|`` to ``sqrt(w^2 + eps^2)`` (``eps = 1e-4``) so autograd stays finite at 0.
    """

    eps = 1e-4

    def __init__(self, weight: float = 2e-3, alpha: float = 0.8) -> None:
        self.weight = _check_weight(weight)
        alpha = float(alpha)
        if not 0 < alpha <= 1:
            raise InputError(f"hyper-Laplacian alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha

    def __repr__(self) -> str:
        return f"HyperLaplacian(weight={self.weight:g}, alpha={self.alpha:g})"

    def phi(self, w: torch.Tensor) -> torch.Tensor:
        return (w.square() + self.eps**2).pow(self.alpha / 2)

    def shrink(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        a = self.alpha
        if self.weight == 0:
            return v
        if a == 1:
            return v.sign() * (v.abs() - self.weight / beta).clamp_min(0)
        s = (beta / self.weight) ** (-1 / (2 - a))
        u = v.abs() / s
        with torch.no_grad():
            z = _normalised_root(u, a)
        # one Newton step with autograd: exact value, implicit-function derivative w.r.t. v
        nz = z > 0
        z = torch.where(nz, z, torch.ones_like(z))
        za1 = z.pow(a - 1)
        z = z - (a * za1 + z - u) / (a * (a - 1) * za1 / z + 1)
        return v.sign() * s * torch.where(nz, z, torch.zeros_like(z))


def _threshold(a: float) -> tuple[float, float]:
    """``(z*, u*)``: the smallest non-zero minimiser and the input where it starts to win over 0."""
    z = (2 * (1 - a)) ** (1 / (2 - a))
    return z, z + a * z ** (a - 1)


@functools.lru_cache(maxsize=16)
def _root_table(a: float, size: int = _TABLE_SIZE, span: float = _TABLE_SPAN) -> torch.Tensor:
    """Roots ``z(u)`` of ``a z^(a-1) + z = u`` on ``size`` points ``u`` in ``[u*, u* + span]`` (float64)."""
    z_star, u_star = _threshold(a)
    u = u_star + torch.linspace(0, span, size, dtype=torch.float64)
    z = u.clone()
    for _ in range(100):  # monotone Newton from the right; quadratic once close, far more than enough
        za1 = z.pow(a - 1)
        z = (z - (a * za1 + z - u) / (a * (a - 1) * za1 / z + 1)).clamp_min(z_star)
    return z


def _normalised_root(u: torch.Tensor, a: float) -> torch.Tensor:
    """The minimiser ``z >= 0`` of ``|z|^a + (z - u)^2 / 2`` for ``u >= 0`` (no autograd)."""
    z_star, u_star = _threshold(a)
    keep = u > u_star
    u = torch.where(keep, u, torch.full_like(u, 2 * u_star))  # harmless stand-in where z = 0
    if math.isclose(a, 0.5):
        # z = t^2: t^3 - u t + 1/2 = 0, the minimiser is the largest root
        z = _largest_cubic_root(-u, torch.full_like(u, 0.5)).square()
    elif math.isclose(a, 2 / 3):
        # z = t^3: t^4 - u t + 2/3 = 0; Ferrari's resolvent m^3 - 2/3 m - u^2 / 8 = 0 has a root m > 0,
        # then the largest root is t = (sqrt(2m) + sqrt(2u / sqrt(2m) - 2m)) / 2
        m = _largest_cubic_root(torch.full_like(u, -2 / 3), -u.square() / 8)
        r = (2 * m).sqrt()
        z = ((r + (2 * u / r - 2 * m).clamp_min(0).sqrt()) / 2).pow(3)
    else:
        table = _root_table(a).to(dtype=u.dtype, device=u.device)
        pos = (u - u_star) * ((table.numel() - 1) / _TABLE_SPAN)
        i = pos.floor().clamp(max=table.numel() - 2)
        f = pos - i
        i = i.long()
        inside = (table[i] * (1 - f) + table[i + 1] * f).maximum(torch.full_like(u, z_star))
        # beyond the table: z = u - a u^(a-1) lies right of the root (the stationarity function is > 0)
        z = torch.where(pos <= table.numel() - 1, inside, u - a * u.pow(a - 1))
        for _ in range(2):
            za1 = z.pow(a - 1)
            z = (z - (a * za1 + z - u) / (a * (a - 1) * za1 / z + 1)).clamp_min(z_star)
    return torch.where(keep, z, torch.zeros_like(z))


def _largest_cubic_root(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Largest real root of ``t^3 + p t + q = 0`` (trigonometric form with three roots, else Cardano)."""
    disc = (q / 2).square() + (p / 3).pow(3)
    three = disc < 0
    # three real roots (then p < 0): t = 2 sqrt(-p/3) cos(acos(3q/(2p) sqrt(-3/p)) / 3)
    p_neg = torch.where(three, p, -torch.ones_like(p))
    arg = (1.5 * q / p_neg * (-3 / p_neg).sqrt()).clamp(-1, 1)
    trig = 2 * (-p_neg / 3).sqrt() * torch.cos(torch.acos(arg) / 3)
    sq = disc.clamp_min(0).sqrt()
    u = -q / 2
    cardano = _cbrt(u + sq) + _cbrt(u - sq)
    return torch.where(three, trig, cardano)


def _cbrt(t: torch.Tensor) -> torch.Tensor:
    return t.sign() * t.abs().pow(1 / 3)
