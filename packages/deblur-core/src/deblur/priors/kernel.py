"""Priors on blur kernels ``k`` of shape ``(B, 1, h, w)`` (non-negative, summing to 1).

``penalty(k)`` is a scalar summed over the batch; ``log_prob(k)`` is one (unnormalised unless stated)
log density per batch item, ``-penalty`` of that item up to a constant.

References:
    Levin, Weiss, Durand, Freeman, "Efficient marginal likelihood optimization in blind deconvolution",
    CVPR 2011 (sparse kernel prior ``sum k^p``).
    Cho, Lee, "Fast motion deblurring", SIGGRAPH Asia 2009 (Tikhonov kernel prior ``||k||^2``).
"""

from __future__ import annotations

import math

import torch

from deblur.checks import positive
from deblur.errors import InputError

__all__ = ["Dirichlet", "KernelL2", "KernelSparsity"]


def _check_kernel(k: torch.Tensor) -> None:
    if not isinstance(k, torch.Tensor) or k.ndim != 4 or k.shape[1] != 1:
        shape = tuple(k.shape) if isinstance(k, torch.Tensor) else type(k).__name__
        raise InputError(f"kernel must be a (B, 1, h, w) tensor, got {shape}")


class KernelL2:
    """Quadratic (Tikhonov) kernel prior, ``penalty(k) = weight * ||k||_2^2`` (a Gaussian on ``k``)."""

    def __init__(self, weight: float = 1e-3) -> None:
        self.weight = positive("kernel prior weight", weight, allow_zero=True)

    def __repr__(self) -> str:
        return f"KernelL2(weight={self.weight:g})"

    def penalty(self, k: torch.Tensor) -> torch.Tensor:
        _check_kernel(k)
        return self.weight * k.square().sum()

    def log_prob(self, k: torch.Tensor) -> torch.Tensor:
        """``-weight * ||k_b||^2`` per batch item."""
        _check_kernel(k)
        return -self.weight * k.square().flatten(1).sum(1)


class KernelSparsity:
    """Sparse kernel prior, ``penalty(k) = weight * sum_u (|k(u)| + eps)^p - eps^p`` with ``0 < p <= 1``.

    On the simplex (``k >= 0``, ``sum k = 1``) the ``p = 1`` term is constant, and ``p < 1`` favours few
    large taps. ``eps = 1e-6`` keeps the autograd gradient finite at zero taps.
    """

    eps = 1e-6

    def __init__(self, weight: float = 1e-3, p: float = 0.5) -> None:
        self.weight = positive("kernel prior weight", weight, allow_zero=True)
        p = float(p)
        if not 0 < p <= 1:
            raise InputError(f"kernel sparsity exponent p must be in (0, 1], got {p}")
        self.p = p

    def __repr__(self) -> str:
        return f"KernelSparsity(weight={self.weight:g}, p={self.p:g})"

    def _terms(self, k: torch.Tensor) -> torch.Tensor:
        _check_kernel(k)
        return ((k.abs() + self.eps).pow(self.p) - self.eps**self.p).flatten(1).sum(1)

    def penalty(self, k: torch.Tensor) -> torch.Tensor:
        return self.weight * self._terms(k).sum()

    def log_prob(self, k: torch.Tensor) -> torch.Tensor:
        """``-weight * sum_u (|k(u)| + eps)^p - eps^p`` per batch item."""
        return -self.weight * self._terms(k)


class Dirichlet:
    r"""Symmetric Dirichlet prior on the ``n = h w`` kernel taps with concentration ``a``.

    .. math:: \log p(k) = \log\Gamma(n a) - n \log\Gamma(a) + (a - 1) \sum_u \log k(u)

    (normalised on the simplex). ``a < 1`` favours sparse kernels, ``a = 1`` is uniform on the simplex.
    Taps are clamped to ``eps = 1e-8`` before the log. ``penalty(k) = weight * (1 - a) * sum log k``
    summed over the batch, which is ``-weight * log_prob`` up to a constant.
    """

    eps = 1e-8

    def __init__(self, concentration: float = 0.5, weight: float = 1.0) -> None:
        self.concentration = positive("Dirichlet concentration", concentration)
        self.weight = positive("Dirichlet weight", weight, allow_zero=True)

    def __repr__(self) -> str:
        return f"Dirichlet(concentration={self.concentration:g}, weight={self.weight:g})"

    def _sum_log(self, k: torch.Tensor) -> torch.Tensor:
        _check_kernel(k)
        return k.clamp_min(self.eps).log().flatten(1).sum(1)

    def log_prob(self, k: torch.Tensor) -> torch.Tensor:
        """Normalised log density per batch item, shape ``(B,)``."""
        a = self.concentration
        n = k.shape[-2] * k.shape[-1]
        const = math.lgamma(n * a) - n * math.lgamma(a)
        return const + (a - 1) * self._sum_log(k)

    def penalty(self, k: torch.Tensor) -> torch.Tensor:
        return self.weight * (1 - self.concentration) * self._sum_log(k).sum()
