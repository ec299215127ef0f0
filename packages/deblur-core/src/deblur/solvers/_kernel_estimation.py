"""The two alternating steps of the classic blind method, on one gray image and the valid blur model.

The observation ``y`` (1, 1, H, W) is the valid part of ``k * x`` for a latent ``x`` of size
``(H + h - 1, W + w - 1)`` and an odd ``h x w`` kernel: nothing is assumed outside ``y``.

- :func:`l0_latent` finds the sharp-edged intermediate latent by half-quadratic splitting with a
  gradient prior. The unobserved ring is handled with an augmented observation ``u`` in the spirit of
  Almeida & Figueiredo (2013): ``u = y`` where observed and ``u = k * x`` elsewhere, refreshed at every
  step, so the FFT solve on a periodic grid of at least the latent size fits the valid model only.
- :class:`KernelLeastSquares` solves for the kernel on the valid gradient equations by conjugate
  gradients with FFT products.

References:
    Xu, Zheng, Jia, "Unnatural L0 sparse representation for natural image deblurring", CVPR 2013.
    Pan, Hu, Su, Yang, "Deblurring text images via L0-regularized intensity and gradient prior",
    CVPR 2014.
    Almeida, Figueiredo, "Deconvolving images with unknown boundaries using the alternating direction
    method of multipliers", IEEE TIP 2013.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from deblur.operators.fft import fast_len, psf2otf
from deblur.priors.base import GradientPrior
from deblur.priors.image import gradient


def _difference_otfs(shape: tuple[int, int], like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``rfft2`` transfer functions of the circular forward differences ``x[j+1] - x[j]`` (rows, cols)."""
    cdtype = torch.complex128 if like.dtype == torch.float64 else torch.complex64
    wx = 2 * math.pi * torch.fft.rfftfreq(shape[1], dtype=like.dtype, device=like.device)
    wy = 2 * math.pi * torch.fft.fftfreq(shape[0], dtype=like.dtype, device=like.device)
    gx = torch.polar(torch.ones_like(wx), wx).to(cdtype) - 1
    gy = torch.polar(torch.ones_like(wy), wy).to(cdtype) - 1
    return gx.view(1, -1), gy.view(-1, 1)


def periodic_extension(y: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``y`` (..., H, W) at the top-left of a ``shape`` grid, the rest a linear blend across the wrap.

    Columns ``W..N-1`` go linearly from the last column back to the first (then rows likewise), so the
    result is continuous on the torus; a cheap start for the augmented observation.
    """
    H, W = y.shape[-2:]
    N, M = shape
    t = torch.arange(1, M - W + 1, dtype=y.dtype, device=y.device) / (M - W + 1)
    y = torch.cat([y, y[..., -1:] * (1 - t) + y[..., :1] * t], dim=-1)
    t = torch.arange(1, N - H + 1, dtype=y.dtype, device=y.device).view(-1, 1) / (N - H + 1)
    return torch.cat([y, y[..., -1:, :] * (1 - t) + y[..., :1, :] * t], dim=-2)


def l0_latent(
    y: torch.Tensor,
    k: torch.Tensor,
    prior: GradientPrior,
    weight_scale: float = 1.0,
    *,
    u: torch.Tensor | None = None,
    usable: torch.Tensor | None = None,
    dark: float = 0.0,
    dark_patch: int = 15,
    beta_max: float = 1e5,
    kappa: float = 2.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Intermediate latent by half-quadratic splitting on the valid model.

    Minimises :math:`\tfrac12\|M(k \circledast x) - y\|^2 + s\,\lambda \sum \phi(\nabla x)` (``M`` keeps
    the observed pixels, :math:`\lambda\phi` the prior, ``s = weight_scale``) by alternating, for
    :math:`\beta = 4 s \lambda, 4 s \lambda\kappa, \dots < \beta_{max}`:

    .. math::
        w = \mathrm{shrink}(\nabla x, \beta), \quad
        x = \mathcal F^{-1}\frac{\overline{K} U + \beta\,\overline{G}^{\top} W}{|K|^2 + \beta |G|^2}, \quad
        u = M y + (1 - M)(k \circledast x)

    with ``K``, ``G`` the transfer functions of the kernel and of the differences on a periodic grid of at
    least the latent size.

    With ``dark > 0`` the dark channel prior of Pan, Sun, Pfister & Yang (CVPR 2016, Eq. 5) joins:
    :math:`s\,\mu \|D(x)\|_0` with ``D`` the minimum over ``dark_patch`` squares. Blur raises the dark
    channel (it mixes dark pixels with bright ones), so the sparse term favours sharp latents, on text
    and dim scenes most. As in their Algorithm 1, its split ``v = D(x)`` is solved by hard thresholding
    (:math:`v = D(x)` where :math:`D(x)^2 \ge s\mu / \beta`, else 0) and ``D`` linearised at the current
    latent (the selection of each patch's darkest pixel): the thresholded values are written back at
    those pixels, giving an image ``z``, and ``beta * ||x - z||^2`` adds ``beta`` to the Fourier
    denominator. Pixels where ``usable`` (bool, like ``y``) is false (clipped ones) are left out
    of ``M``, as the unobserved ring is. Returns the latent on the valid grid
    (1, 1, H + h - 1, W + w - 1) and ``u`` (pass it back as ``u`` to warm-start the unobserved part at
    the next call with the same sizes).
    """
    H, W = y.shape[-2:]
    h, w = k.shape[-2:]
    shape = (fast_len(H + h - 1), fast_len(W + w - 1))
    if u is None or tuple(u.shape[-2:]) != shape:
        u = periodic_extension(y, shape)
    observed = torch.zeros(shape, dtype=torch.bool, device=y.device)
    observed[:H, :W] = True if usable is None else usable[0, 0]
    y_full = torch.zeros_like(u)
    y_full[..., :H, :W] = y
    otf = psf2otf(k.to(y.dtype), shape)
    gx, gy = _difference_otfs(shape, y)
    den_k = otf.abs().square()
    den_g = gx.abs().square() + gy.abs().square()
    lam = prior.weight * weight_scale
    beta = 4.0 * lam if lam > 0 else beta_max
    x = u
    ku = otf.conj() * torch.fft.rfft2(u)
    while True:
        d = prior.shrink(gradient(x), beta / weight_scale) if lam > 0 else gradient(x)
        fd = gx.conj() * torch.fft.rfft2(d[..., 0, :, :]) + gy.conj() * torch.fft.rfft2(d[..., 1, :, :])
        if dark > 0:
            z = dark_channel_target(x, dark_patch, dark * weight_scale / beta)
            fx = (ku + beta * (fd + torch.fft.rfft2(z))) / (den_k + beta * (den_g + 1))
        else:
            fx = (ku + beta * fd) / (den_k + beta * den_g)
        x = torch.fft.irfft2(fx, s=shape)
        u = torch.where(observed, y_full, torch.fft.irfft2(otf * fx, s=shape))
        beta *= kappa
        if beta >= beta_max:
            break
        ku = otf.conj() * torch.fft.rfft2(u)
    # observation pixel p sees latent pixels p - (h//2) .. p + (h//2): the valid grid starts at -h//2
    x = torch.roll(x, shifts=(h // 2, w // 2), dims=(-2, -1))[..., : H + h - 1, : W + w - 1]
    return x, u


class KernelLeastSquares:
    r"""Kernel from latent and observed gradients on the valid region, with an L2 prior.

    .. math::
        \min_k \sum_{d \in \{x, y\}} \|(\partial_d x * k)_{valid} - \partial_d y\|^2 + \gamma \|k\|^2,
        \qquad (X^\top X + \gamma I)\,k = X^\top b

    solved by conjugate gradients restricted to the ``h x w`` support; ``X k`` and ``X^T r`` are FFT
    products on a grid of the latent size (circular wrap-around never reaches the valid outputs). This is
    the exact-boundary form of the closed-form Fourier solution
    :math:`k = \mathcal F^{-1}[\sum_d \overline{F\partial_d x}\, F\partial_d y / (\sum_d |F\partial_d x|^2
    + \gamma)]`, which assumes periodic images and an unbounded support.

    Args:
        latent_grads: interior forward differences of the latent ``(..., Lh, Lw - 1)`` and
            ``(..., Lh - 1, Lw)`` (:func:`deblur.priors.image.interior_gradient`).
        observed_grads: the same of the observation, ``Lh - h + 1`` by ``Lw - w + 1`` pixels.
        size: kernel support ``(h, w)``.
        gamma: weight of the L2 prior.
        usable: bool mask of the observation (1, 1, H, W), false where its pixels are not to be fitted
            (clipped); a gradient equation is kept where both its pixels are usable.
    """

    def __init__(
        self,
        latent_grads: tuple[torch.Tensor, torch.Tensor],
        observed_grads: tuple[torch.Tensor, torch.Tensor],
        size: tuple[int, int],
        gamma: float,
        usable: torch.Tensor | None = None,
    ) -> None:
        h, w = size
        self.size = (h, w)
        self.gamma = float(gamma)
        Lh, Lw = latent_grads[1].shape[-2] + 1, latent_grads[0].shape[-1] + 1
        self.grid = (fast_len(Lh), fast_len(Lw))
        self.spectra = torch.stack([torch.fft.rfft2(g, s=self.grid) for g in latent_grads])
        ref = latent_grads[0]
        self.data = torch.zeros(2, *ref.shape[:-2], *self.grid, dtype=ref.dtype, device=ref.device)
        self.masks = torch.zeros_like(self.data, dtype=torch.bool)
        keep = (True, True) if usable is None else pair_mask(usable)
        for i, g in enumerate(observed_grads):
            window = (..., slice(h - 1, h - 1 + g.shape[-2]), slice(w - 1, w - 1 + g.shape[-1]))
            self.data[i][window] = g * keep[i]
            self.masks[i][window] = keep[i]
        self.rhs = self._adjoint(self.data)

    def _forward(self, k: torch.Tensor) -> torch.Tensor:
        out = torch.fft.irfft2(self.spectra * torch.fft.rfft2(k, s=self.grid), s=self.grid)
        return out * self.masks

    def _adjoint(self, r: torch.Tensor) -> torch.Tensor:
        full = torch.fft.irfft2((self.spectra.conj() * torch.fft.rfft2(r)).sum(0), s=self.grid)
        return full[..., : self.size[0], : self.size[1]]

    def normal(self, k: torch.Tensor) -> torch.Tensor:
        """``(X^T X + gamma I) k``."""
        return self._adjoint(self._forward(k)) + self.gamma * k

    def residual(self, k: torch.Tensor) -> float:
        """The data term ``sum_d ||X_d k - b_d||^2`` (without the prior)."""
        return float((self._forward(k) - self.data).square().sum())

    def solve(self, k0: torch.Tensor, iterations: int = 20, tol: float = 1e-5) -> torch.Tensor:
        """Conjugate gradients from ``k0`` (1, 1, h, w); stops when ``||r|| <= tol ||b||``."""
        k = k0.clone()
        r = self.rhs - self.normal(k)
        p = r.clone()
        rs = float(r.square().sum())
        stop = tol**2 * float(self.rhs.square().sum())
        for _ in range(iterations):
            if rs <= stop:
                break
            ap = self.normal(p)
            alpha = rs / float((p * ap).sum())
            k = k + alpha * p
            r = r - alpha * ap
            rs_new = float(r.square().sum())
            p = r + (rs_new / rs) * p
            rs = rs_new
        return k


def dark_channel_target(x: torch.Tensor, patch: int, threshold: float) -> torch.Tensor:
    """``x`` (1, 1, H, W) with each ``patch`` square's darkest pixel set to zero where its value squared is
    below ``threshold``: the linearised dark-channel step of :func:`l0_latent`. The minimum over squares
    is separable (rows, then columns), so it costs ``2 * patch`` comparisons a pixel."""
    H, W = x.shape[-2:]
    r = patch // 2
    neg = -x.reshape(1, 1, H, W)
    rows, at_col = F.max_pool2d(F.pad(neg, (r, r, 0, 0), value=-math.inf), (1, patch), 1, return_indices=True)
    cols, at_row = F.max_pool2d(
        F.pad(rows, (0, 0, r, r), value=-math.inf), (patch, 1), 1, return_indices=True
    )
    # indices refer to the padded arrays: undo the padding to get flat indices into x
    row = at_row // W - r
    col = at_col.flatten()[(row * W + at_row % W).flatten()].view_as(row) % (W + 2 * r) - r
    darkest = (row * W + col).flatten()
    value = -cols.flatten()
    drop = darkest[value.square() < threshold]
    z = x.reshape(-1).clone()
    z[drop] = 0
    return z.view_as(x)


def pair_mask(usable: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where both pixels of each interior forward difference are usable: the masks of the column and row
    differences of :func:`deblur.priors.image.interior_gradient`."""
    return usable[..., :, 1:] & usable[..., :, :-1], usable[..., 1:, :] & usable[..., :-1, :]


def prune_kernel(k: torch.Tensor, rel_threshold: float = 0.05, min_mass: float = 0.1) -> torch.Tensor:
    """Clip negatives, zero entries below ``rel_threshold * max``, drop 8-connected blobs with less than
    ``min_mass`` of the total, and renormalise (Pan et al. 2014). ``k`` is (1, 1, h, w)."""
    k = k.clamp_min(0)
    k = torch.where(k < rel_threshold * k.max(), torch.zeros_like(k), k)
    total = float(k.sum())
    if total <= 0:
        return k
    arr = k[0, 0].detach().cpu().numpy()
    labels, n = ndimage.label(arr > 0, structure=np.ones((3, 3)))
    if n > 1:
        mass = ndimage.sum(arr, labels, index=np.arange(1, n + 1))
        small = np.isin(labels, 1 + np.flatnonzero(mass < min_mass * total))
        k = k.masked_fill(torch.from_numpy(small).to(k.device), 0)
    return k / k.sum()


def rescale_kernel(k: torch.Tensor, factor: float, size: int) -> torch.Tensor:
    """Kernel ``(1, 1, h, w)`` magnified ``factor`` times about its centre onto a ``size x size`` support.

    ``out(u) ~ k(u / factor)`` by bilinear sampling (offsets ``u`` from the centres), clipped at zero and
    renormalised: the kernel of the same blur on an image ``factor`` times larger. Unlike
    :func:`deblur.kernels.resize` the magnification does not follow from the two sizes, which coarse-to-fine
    levels round to odd numbers.
    """
    h, w = k.shape[-2:]
    u = (torch.arange(size, dtype=k.dtype, device=k.device) - size // 2) / factor
    rows = (u + h // 2) * (2 / max(h - 1, 1)) - 1
    cols = (u + w // 2) * (2 / max(w - 1, 1)) - 1
    grid = torch.stack(torch.meshgrid(cols, rows, indexing="xy"), dim=-1)[None]
    out = F.grid_sample(k, grid, mode="bilinear", padding_mode="zeros", align_corners=True).clamp_min(0)
    return out / out.sum()
