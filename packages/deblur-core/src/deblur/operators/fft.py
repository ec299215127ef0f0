"""FFT helpers: transfer functions of centred kernels and FFT-friendly lengths."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from deblur.errors import InputError


@functools.lru_cache(maxsize=4096)
def fast_len(n: int) -> int:
    """Smallest ``m >= n`` whose only prime factors are 2, 3 and 5 (fast for pocketfft/cuFFT)."""
    if n < 1:
        raise InputError(f"FFT length must be positive, got {n}")
    m = n
    while True:
        r = m
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def psf2otf(k: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Transfer function of a centred kernel on an ``(H, W)`` periodic grid.

    The kernel ``(B, 1, h, w)`` is zero-padded to ``(H, W)`` and rolled by ``-(h // 2, w // 2)`` so its
    centre sits at ``(0, 0)``; the result is ``rfft2`` of that, shape ``(B, 1, H, W // 2 + 1)``, so that
    ``irfft2(rfft2(x) * psf2otf(k, x.shape[-2:]), s=x.shape[-2:])`` is the circular TRUE convolution
    ``y(p) = sum_u k(u) x(p - u mod (H, W))``.
    """
    if k.ndim != 4:
        raise InputError(f"kernel must be (B, 1, h, w), got shape {tuple(k.shape)}")
    h, w = k.shape[-2:]
    H, W = int(shape[0]), int(shape[1])
    if h > H or w > W:
        raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} grid")
    kp = F.pad(k, (0, W - w, 0, H - h))
    kp = torch.roll(kp, shifts=(-(h // 2), -(w // 2)), dims=(-2, -1))
    return torch.fft.rfft2(kp)
