r"""Conjugate gradients on the Tikhonov-regularised normal equations, for any linear blur.

.. math:: \min_x \tfrac12 \|A x - y\|^2 + \tfrac{\lambda}{2} \|D x\|^2
          \iff (A^T A + \lambda D^T D)\, x = A^T y

with ``A`` any :class:`~deblur.operators.base.LinearOperator` (uniform, kernel field, basis) and ``D``
the forward differences inside the latent (none across its border, so nothing periodic is assumed).
The system is symmetric positive semi-definite; conjugate gradients (Hestenes & Stiefel 1952) solve it
with one ``A`` and one ``A^T`` per step, independently for every image and channel, from the observation
replicated onto the latent grid:

.. math::

    \alpha = \frac{r^T r}{p^T N p}, \quad x \leftarrow x + \alpha p, \quad
    r \leftarrow r - \alpha N p, \quad p \leftarrow r + \frac{r_+^T r_+}{r^T r} p,
    \qquad N = A^T A + \lambda D^T D,

stopping after ``iterations`` steps or once every residual ``||r||`` is below ``tol ||A^T y||``. Under
``valid`` the latent is larger than ``y`` and its unseen border is estimated (kept smooth by ``D``);
the window aligned with ``y`` is returned, unclipped. Differentiable with respect to the operator's
kernel (or field) through the unrolled steps.

References:
    Hestenes, Stiefel, "Methods of conjugate gradients for solving linear systems", J. Res. NBS 1952.
    Tikhonov, Arsenin, "Solutions of ill-posed problems", 1977.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deblur.checks import count, positive
from deblur.operators.base import LinearOperator, OperatorBuilder, build_operator
from deblur.solvers._common import cast_operand, check_observation, embed, forward_builder, operator_for

__all__ = ["ConjugateGradient", "cg_deconvolve"]

DEFAULT_WEIGHT = 2e-3


def _gram_gradient(x: torch.Tensor) -> torch.Tensor:
    """``D^T D x`` for the forward differences inside the image (the Neumann Laplacian, negated)."""
    gx = x[..., :, 1:] - x[..., :, :-1]
    gy = x[..., 1:, :] - x[..., :-1, :]
    return F.pad(gx, (1, 0)) - F.pad(gx, (0, 1)) + F.pad(gy, (0, 0, 1, 0)) - F.pad(gy, (0, 0, 0, 1))


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum((-2, -1), keepdim=True)


def cg_deconvolve(
    y: torch.Tensor,
    k: torch.Tensor | LinearOperator,
    *,
    weight: float = DEFAULT_WEIGHT,
    iterations: int = 100,
    tol: float = 1e-5,
    boundary: str | None = None,
) -> torch.Tensor:
    """Deconvolve ``y`` (B, C, H, W) by the blur ``A``; returns the window aligned with y, (B, C, H, W).

    Args:
        k: a kernel (B|1, 1, h, w), blurred as ``UniformBlur(k, boundary)``, or any
            :class:`~deblur.operators.base.LinearOperator`, which brings its own boundary.
        weight: ``lambda``, the weight of the gradient penalty (about ``4 sigma^2`` for noise of std
            sigma; with few iterations early stopping regularises too).
        iterations: at most this many CG steps.
        tol: stop once every residual is below ``tol`` times ``||A^T y||`` (0: run all steps).
        boundary: for a kernel: "valid" (the default), "same" or "circular"; for an operator: None or
            its own boundary.
    """
    op = operator_for(y, k, boundary)
    weight = positive("weight", weight, allow_zero=True)
    count("iterations", iterations, 1)
    tol = positive("tol", tol, allow_zero=True)
    H, W = y.shape[-2:]
    top, left = op.window_offset((H, W))

    def normal(v: torch.Tensor) -> torch.Tensor:
        return op.adjoint(op.forward(v)) + weight * _gram_gradient(v)

    x = embed(y, top, left, op.latent_shape((H, W)), "replicate")
    b = op.adjoint(y)
    r = b - normal(x)
    p, rr = r, _dot(r, r)
    tiny = torch.finfo(y.dtype).tiny
    stop = tol**2 * _dot(b, b)
    for _ in range(int(iterations)):
        if bool((rr <= stop).all()):
            break
        q = normal(p)
        alpha = rr / _dot(p, q).clamp_min(tiny)
        x = x + alpha * p
        r = r - alpha * q
        rr_next = _dot(r, r)
        p = r + (rr_next / rr.clamp_min(tiny)) * p
        rr = rr_next
    return x[..., top : top + H, left : left + W]


class ConjugateGradient:
    """:func:`cg_deconvolve` with fixed settings, callable as ``(y, k) -> x``.

    ``k`` (a kernel, a kernel field, a pair ``(kernels, weights)``, or a built operator) is cast to y's
    device and dtype and built by ``forward`` (default :class:`~deblur.operators.UniformBlur`; the
    pipeline's ``forward`` slot); ``boundary`` set here is bound into that builder.
    """

    def __init__(
        self,
        weight: float = DEFAULT_WEIGHT,
        iterations: int = 100,
        tol: float = 1e-5,
        boundary: str | None = None,
        forward: OperatorBuilder | None = None,
    ) -> None:
        self.weight = positive("weight", weight, allow_zero=True)
        self.iterations = count("iterations", iterations, 1)
        self.tol = positive("tol", tol, allow_zero=True)
        self.forward = forward_builder(forward, boundary)

    def __call__(
        self, y: torch.Tensor, k: torch.Tensor | LinearOperator | tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        check_observation(y)
        op = build_operator(self.forward, cast_operand(k, y))
        return cg_deconvolve(y, op, weight=self.weight, iterations=self.iterations, tol=self.tol)

    def __repr__(self) -> str:
        return (
            f"ConjugateGradient(weight={self.weight:g}, iterations={self.iterations}, tol={self.tol:g}, "
            f"forward={self.forward!r})"
        )
