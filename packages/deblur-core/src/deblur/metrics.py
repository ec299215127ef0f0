"""Image and kernel quality metrics, and the Levin et al. (2009) scoring protocol.

Images are tensors in [0, 1]: ``(B, C, H, W)`` gives one value per image as a ``(B,)`` tensor,
``(H, W)`` or ``(C, H, W)`` gives a Python float. Sums are taken in float64.

References:
    Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural
    similarity", IEEE TIP 2004 (SSIM).
    Levin, Weiss, Durand, Freeman, "Understanding and evaluating blind deconvolution algorithms",
    CVPR 2009 (``comp_upto_shift``: border crop, sub-pixel alignment, SSD and error ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deblur.errors import InputError
from deblur.operators.fft import fast_len

__all__ = ["AlignedScore", "error_ratio", "kernel_mnc", "levin_compare", "psnr", "ssim"]


def _as_batch(x: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    """Return ``x`` as float64 ``(B, C, H, W)`` and whether the input was already batched."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if x.dim() == 2:
        return x[None, None].double(), False
    if x.dim() == 3:
        return x[None].double(), False
    if x.dim() == 4:
        return x.double(), True
    raise InputError(f"{name} must have shape (H, W), (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")


def _pair(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    xb, batched = _as_batch(x, "image")
    rb, _ = _as_batch(ref, "reference")
    if xb.shape[1:] != rb.shape[1:] or rb.shape[0] not in (1, xb.shape[0]):
        raise InputError(f"image {tuple(x.shape)} and reference {tuple(ref.shape)} have different shapes")
    return xb, rb.to(xb.device), batched


def _out(v: torch.Tensor, batched: bool) -> torch.Tensor | float:
    return v.float() if batched else float(v[0])


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor | float:
    r"""Peak signal-to-noise ratio :math:`10 \log_{10}(R^2 / \mathrm{MSE}(x, ref))` in dB."""
    xb, rb, batched = _pair(x, ref)
    mse = (xb - rb).pow(2).flatten(1).mean(1)
    return _out(10.0 * torch.log10(data_range**2 / mse), batched)


def ssim(
    x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0, win_size: int = 7
) -> torch.Tensor | float:
    r"""Mean structural similarity, matching ``skimage.metrics.structural_similarity`` defaults.

    With local means :math:`\mu`, sample (co)variances :math:`\sigma` over a ``win_size`` square uniform
    window (normalised by :math:`n-1`), :math:`C_1 = (0.01 R)^2`, :math:`C_2 = (0.03 R)^2`:

    .. math::
        S = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                 {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}

    averaged over the windows that fit inside the image (skimage's border crop) and over channels.
    """
    xb, rb, batched = _pair(x, ref)
    if min(xb.shape[-2:]) < win_size:
        raise InputError(f"ssim needs images of at least {win_size}x{win_size}, got {tuple(xb.shape[-2:])}")
    rb = rb.expand_as(xb)
    b, c, h, w = xb.shape
    n = win_size * win_size
    stack = torch.stack([xb, rb, xb * xb, rb * rb, xb * rb], dim=1).reshape(b * 5 * c, h, w)
    means = _box_sum(stack, win_size, win_size).reshape(b, 5, c, h - win_size + 1, w - win_size + 1) / n
    ux, uy, uxx, uyy, uxy = means.unbind(1)
    cov = n / (n - 1.0)
    vx, vy, vxy = cov * (uxx - ux * ux), cov * (uyy - uy * uy), cov * (uxy - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return _out(s.flatten(1).mean(1), batched)


@dataclass(frozen=True)
class AlignedScore:
    """Score of an estimate after the best sub-pixel alignment to the reference.

    Attributes:
        ssd: sum of squared differences over the cropped reference (images in [0, 1]).
        psnr: :math:`10 \\log_{10}(N / \\mathrm{SSD})` with N the number of compared values.
        ssim: SSIM of the aligned pair (skimage defaults).
        shift: ``(dy, dx)``; the aligned estimate is the estimate sampled at ``(i + dy, j + dx)``.
    """

    ssd: float
    psnr: float
    ssim: float
    shift: tuple[float, float]


def _fractional_shifts(e: torch.Tensor, fracs: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``e`` (C, H, W) at ``(i + fy, j + fx)`` for every pair of ``fracs``.

    Returns ``(F*F, C, H, W)`` with index ``a * F + b`` for ``(fracs[a], fracs[b])``; the last row and
    column are extended by replication.
    """
    p = F.pad(e[None], (0, 1, 0, 1), mode="replicate")[0]
    fy = fracs.view(-1, 1, 1, 1, 1)
    fx = fracs.view(1, -1, 1, 1, 1)
    rows = (1 - fy) * p[None, None, :, :-1] + fy * p[None, None, :, 1:]
    out = (1 - fx) * rows[..., :-1] + fx * rows[..., 1:]
    return out.reshape(-1, *e.shape)


def _correlate_valid(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``sum_{c,i,j} x[n, c, i + ky, j + kx] r[c, i, j]`` for every valid offset, by FFT."""
    oh, ow = x.shape[-2] - r.shape[-2] + 1, x.shape[-1] - r.shape[-1] + 1
    size = (fast_len(x.shape[-2]), fast_len(x.shape[-1]))
    spec = torch.fft.rfft2(x, s=size) * torch.fft.rfft2(r, s=size).conj()
    return torch.fft.irfft2(spec.sum(1), s=size)[:, :oh, :ow]


def _box_sum(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Sums of ``x`` (N, H, W) over every ``h`` x ``w`` window, from an integral image."""
    s = F.pad(x.cumsum(-2).cumsum(-1), (1, 0, 1, 0))
    return s[:, h:, w:] - s[:, :-h, w:] - s[:, h:, :-w] + s[:, :-h, :-w]


def levin_compare(
    estimate: torch.Tensor,
    reference: torch.Tensor,
    crop: int = 15,
    max_shift: float = 5.0,
    step: float = 0.25,
) -> AlignedScore:
    r"""Levin et al.'s ``comp_upto_shift``: SSD, PSNR and SSIM up to the best translation.

    The reference loses a ``crop`` px border; the estimate (same size, or larger such as the latent of a
    "valid" model, then centre-cropped to the reference first) is translated by every
    :math:`(d_y, d_x) \in \{-m, -m + s, \dots, m\}^2` (bilinear interpolation) and the translation with
    the smallest :math:`\mathrm{SSD} = \sum (\hat x_d - x)^2` is kept. PSNR is
    :math:`10 \log_{10}(N / \mathrm{SSD})`, N the number of compared values.

    Vectorised: the :math:`(1/s)^2` fractional shifts of the estimate are interpolated once, and the SSD at
    every integer offset is :math:`\sum \hat x^2 - 2 \sum \hat x x + \sum x^2` with the cross term a
    single FFT correlation and the energy term a box sum.
    """
    est, _ = _as_batch(estimate, "estimate")
    ref, _ = _as_batch(reference, "reference")
    ref = ref.to(est.device)
    dh, dw = est.shape[-2] - ref.shape[-2], est.shape[-1] - ref.shape[-1]
    if est.shape[0] != 1 or est.shape[:2] != ref.shape[:2] or dh < 0 or dw < 0:
        raise InputError(
            f"levin_compare needs one estimate at least as large as the reference, got "
            f"{tuple(estimate.shape)} and {tuple(reference.shape)}"
        )
    est = est[..., dh // 2 : dh // 2 + ref.shape[-2], dw // 2 : dw // 2 + ref.shape[-1]]
    if step <= 0 or not (1.0 / step).is_integer() or not (max_shift / step).is_integer():
        raise InputError(f"step {step} must be 1/n and divide max_shift {max_shift}")
    m = math.ceil(max_shift)
    h, w = est.shape[-2:]
    if crop < m or 2 * crop >= min(h, w):
        raise InputError(f"crop {crop} must be at least max_shift {max_shift} and leave pixels of {h}x{w}")
    nf = round(1.0 / step)
    fracs = torch.arange(nf, dtype=torch.float64, device=est.device) * step
    r = ref[0, :, crop : h - crop, crop : w - crop]
    hr, wr = r.shape[-2:]
    # Windows start at crop + k - m for integer offsets k - m, k = 0..2m.
    e = est[0, :, crop - m : h - crop + m, crop - m : w - crop + m]
    fe = _fractional_shifts(e, fracs)  # (nf*nf, C, hr + 2m, wr + 2m)
    cross = _correlate_valid(fe, r)  # (nf*nf, 2m+1, 2m+1)
    energy = _box_sum(fe.pow(2).sum(1), hr, wr)
    ssd = energy - 2 * cross + r.pow(2).sum()
    # Total shift of candidate (a, b, ky, kx) is (ky - m + fracs[a], kx - m + fracs[b]).
    ints = torch.arange(2 * m + 1, dtype=torch.float64, device=est.device) - m
    sy = (ints.view(1, 1, -1, 1) + fracs.view(-1, 1, 1, 1)).expand(nf, nf, 2 * m + 1, 2 * m + 1)
    sx = (ints.view(1, 1, 1, -1) + fracs.view(1, -1, 1, 1)).expand(nf, nf, 2 * m + 1, 2 * m + 1)
    ssd = ssd.view(nf, nf, 2 * m + 1, 2 * m + 1)
    tol = 1e-9
    ok = (sy.abs() <= max_shift + tol) & (sx.abs() <= max_shift + tol)
    best = torch.where(ok, ssd, torch.full_like(ssd, math.inf)).flatten().argmin()
    a, b, ky, kx = (int(i) for i in torch.unravel_index(best, ssd.shape))
    aligned = fe[a * nf + b, :, ky : ky + hr, kx : kx + wr]
    best_ssd = float((aligned - r).pow(2).sum())
    n = r.numel()
    return AlignedScore(
        ssd=best_ssd,
        psnr=10.0 * math.log10(n / best_ssd) if best_ssd > 0 else math.inf,
        ssim=float(ssim(aligned, r)),
        shift=(float(sy[a, b, ky, kx]), float(sx[a, b, ky, kx])),
    )


def error_ratio(ssd: float | torch.Tensor, ssd_reference: float | torch.Tensor) -> float | torch.Tensor:
    """Levin's error ratio ``SSD(estimate) / SSD(true-kernel deconvolution)``; <= 2 counts as a success."""
    return ssd / ssd_reference


def kernel_mnc(k_est: torch.Tensor, k_true: torch.Tensor) -> torch.Tensor | float:
    r"""Maximum normalised cross-correlation of two kernels over all relative shifts.

    .. math:: \mathrm{MNC} = \max_s \frac{\sum_u \hat k(u)\, k(u + s)}{\|\hat k\|_2 \|k\|_2}

    with zero padding, so the sizes may differ. In [0, 1] for non-negative kernels, 1 iff one kernel is a
    shifted copy of a positive multiple of the other. ``(B, 1, h, w)`` inputs give a ``(B,)`` tensor.
    """
    a, batched = _as_batch(k_est, "k_est")
    t, _ = _as_batch(k_true, "k_true")
    t = t.to(a.device)
    if a.shape[1] != 1 or t.shape[1] != 1 or t.shape[0] not in (1, a.shape[0]):
        raise InputError(f"kernels must be (B, 1, h, w), got {tuple(k_est.shape)} and {tuple(k_true.shape)}")
    t = t.expand(a.shape[0], -1, -1, -1)
    b = a.shape[0]
    ht, wt = t.shape[-2:]
    # Full cross-correlation of each pair: one grouped conv2d over the batch.
    padded = F.pad(a, (wt - 1, wt - 1, ht - 1, ht - 1))
    full = F.conv2d(padded.reshape(1, b, *padded.shape[-2:]), t, groups=b)
    norms = a.flatten(1).norm(dim=1) * t.flatten(1).norm(dim=1)
    if bool((norms == 0).any()):
        raise InputError("kernel_mnc needs non-zero kernels")
    return _out(full.flatten(2).amax(2)[0] / norms, batched)
