r"""Wiener / Tikhonov deconvolution in the Fourier domain, with boundary tapering for real photos.

.. math:: \hat x = \frac{\bar K \hat y}{|K|^2 + \lambda R}

with ``R = |F D_x|^2 + |F D_y|^2`` ("gradient") or ``R = 1`` ("identity"): the minimiser of
``||k * x - y||^2 + lambda ||D x||^2`` (or ``lambda ||x||^2``, the classic Wiener filter for a white
signal spectrum and noise-to-signal ratio ``lambda``) under a periodic boundary. A real photo is not
periodic, so for "valid" and "same" the observation is first extended by replication by ``pad`` pixels
(twice the kernel size by default) onto an FFT-friendly grid and the extension is edge-tapered: blended
with its circular blur by a window built from the kernel's autocorrelation, as MATLAB's ``edgetaper``
does, so the wrap-around is consistent with a circular blur and no ringing starts at the seams; the
deconvolved window aligned with ``y`` is returned. The whole map is differentiable w.r.t. the kernel.

References:
    Wiener, "Extrapolation, interpolation, and smoothing of stationary time series", 1949.
    Tikhonov, Arsenin, "Solutions of ill-posed problems", 1977.
    Reeves, "Fast image restoration without boundary artifacts", IEEE TIP 2005 (why edges matter).
"""

from __future__ import annotations

import torch

from deblur.checks import positive
from deblur.errors import InputError
from deblur.operators.base import LinearOperator, OperatorBuilder, build_operator
from deblur.operators.fft import fast_len, psf2otf
from deblur.solvers._common import (
    check_inputs,
    circular_blur,
    embed,
    forward_builder,
    gradient_spectrum,
    uniform_kernel,
)

__all__ = ["WienerDeconvolver", "edgetaper", "wiener_deconvolve"]

REGULARIZERS = ("gradient", "identity")


def _check_regularizer(regularizer: str) -> str:
    if regularizer not in REGULARIZERS:
        raise InputError(f"unknown regularizer {regularizer!r}; expected one of {', '.join(REGULARIZERS)}")
    return regularizer


def _taper_window(profile: torch.Tensor, n: int) -> torch.Tensor:
    """``1 - a / max(a)`` for the circular autocorrelation ``a`` of a 1-D kernel profile on ``n`` points."""
    spec = torch.fft.rfft(profile, n=n, dim=-1)
    auto = torch.fft.irfft(spec.abs().square(), n=n, dim=-1)
    return 1 - auto / auto.amax(-1, keepdim=True)


def edgetaper(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Blend ``x`` (B, C, H, W) with its circular blur by ``k`` near the borders (MATLAB ``edgetaper``).

    ``out = a x + (1 - a) (k * x)`` with ``a = a_y(i) a_x(j)``; ``a_x = 1 - c_x / max c_x`` where ``c_x`` is
    the circular autocorrelation of the kernel's column sums (likewise ``a_y`` with row sums), so ``a``
    is 0 at the image border and 1 farther than the kernel's reach from it.
    """
    H, W = x.shape[-2:]
    a = _taper_window(k.sum(-1), H).unsqueeze(-1) * _taper_window(k.sum(-2), W).unsqueeze(-2)
    return a * x + (1 - a) * circular_blur(x, psf2otf(k, (H, W)))


def wiener_deconvolve(
    y: torch.Tensor,
    k: torch.Tensor,
    *,
    balance: float = 5e-3,
    regularizer: str = "gradient",
    boundary: str = "valid",
    pad: int | None = None,
) -> torch.Tensor:
    """Deconvolve ``y`` (B, C, H, W) with ``k`` (B|1, 1, h, w) in closed form; returns (B, C, H, W).

    Args:
        balance: regularisation weight ``lambda`` (noise-to-signal ratio for "identity").
        regularizer: "gradient" (Tikhonov on the finite differences) or "identity" (classic Wiener).
        boundary: "valid"/"same" (pad + edge taper, for real photos) or "circular" (no boundary handling).
        pad: extension on each side for "valid"/"same"; default ``2 * max(h, w)``.
    """
    k = check_inputs(y, k, boundary)
    balance = positive("balance", balance, allow_zero=True)
    _check_regularizer(regularizer)
    H, W = y.shape[-2:]
    h, w = k.shape[-2:]
    if boundary == "circular":
        top = left = 0
        z = y
    else:
        p = 2 * max(h, w) if pad is None else int(pad)
        if p < 0:
            raise InputError(f"pad must be >= 0, got {pad}")
        top = left = p
        z = edgetaper(embed(y, p, p, (fast_len(H + 2 * p), fast_len(W + 2 * p)), "replicate"), k)
    grid = z.shape[-2:]
    K = psf2otf(k, grid)
    reg = gradient_spectrum(grid, y.dtype, y.device) if regularizer == "gradient" else 1.0
    X = K.conj() * torch.fft.rfft2(z) / (K.abs().square() + balance * reg)
    x = torch.fft.irfft2(X, s=grid)
    return x[..., top : top + H, left : left + W]


class WienerDeconvolver:
    """:func:`wiener_deconvolve` with fixed settings, callable as ``(y, k) -> x``.

    Like :class:`~deblur.solvers.hqs.HQSDeconvolver`, ``k`` is built into an operator by ``forward``
    (default :class:`~deblur.operators.UniformBlur`), which must be uniform; its ``boundary`` (or the one
    set here, bound into the builder) selects padding + edge taper ("valid", "same") or "circular".
    """

    def __init__(
        self,
        balance: float = 5e-3,
        regularizer: str = "gradient",
        boundary: str | None = None,
        pad: int | None = None,
        forward: OperatorBuilder | None = None,
    ) -> None:
        self.balance = positive("balance", balance, allow_zero=True)
        self.regularizer = _check_regularizer(regularizer)
        self.forward = forward_builder(forward, boundary)
        self.pad = pad

    def __call__(self, y: torch.Tensor, k: torch.Tensor | LinearOperator) -> torch.Tensor:
        op = build_operator(self.forward, k)
        return wiener_deconvolve(
            y,
            uniform_kernel(op, "wiener"),
            balance=self.balance,
            regularizer=self.regularizer,
            boundary=op.boundary,
            pad=self.pad,
        )

    def __repr__(self) -> str:
        return (
            f"WienerDeconvolver(balance={self.balance:g}, regularizer={self.regularizer!r}, "
            f"pad={self.pad}, forward={self.forward!r})"
        )
