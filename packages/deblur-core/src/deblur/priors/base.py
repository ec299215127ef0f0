"""Protocols that priors implement, so solvers can take any prior that offers what they need.

Capabilities (the strings a prior record advertises) map onto these protocols:

- ``"image"`` / ``"kernel"``: what the prior is defined on.
- ``"penalty"``: ``penalty(t) -> scalar tensor``, differentiable with autograd.
- ``"gradient-shrink"`` (image priors, :class:`GradientPrior`): the penalty is a sum of an
  element-wise function of the image's finite differences and ``shrink`` is its proximal map, the
  step half-quadratic splitting needs.
- ``"quadratic"`` (kernel priors, :class:`QuadraticKernelPrior`): the penalty is ``weight * ||k||^2``,
  usable in closed-form least squares.
- ``"log_prob"``: ``log_prob(t)`` returns an (unnormalised) log density per batch item.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Prior(Protocol):
    """Anything with a differentiable penalty (the negative log prior up to a constant)."""

    weight: float

    def penalty(self, t: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class GradientPrior(Prior, Protocol):
    """``penalty(x) = weight * sum phi(D x)`` over horizontal and vertical differences D x."""

    def shrink(self, v: torch.Tensor, beta: float) -> torch.Tensor:
        """Element-wise ``argmin_w weight * phi(w) + beta / 2 * (w - v) ** 2``."""
        ...


@runtime_checkable
class QuadraticKernelPrior(Prior, Protocol):
    """``penalty(k) = weight * ||k||_2^2``."""
