"""Viewable pictures of kernels."""

from __future__ import annotations

import math

import numpy as np
import torch

from deblur.errors import InputError

TARGET_PX = 256
"""Default upscaling aims at about this many pixels on the longest side."""


def kernel_to_image(k: torch.Tensor | np.ndarray, scale: int | None = None) -> np.ndarray:
    """Render kernels as an 8-bit gray picture ``(H, W)``: ``255 * max(k, 0) / max(k)``, upscaled.

    Takes ``(h, w)``, ``(1, h, w)`` or ``(B, 1, h, w)``; several kernels are tiled left to right with a
    one-pixel gray separator. ``scale`` is the nearest-neighbour upscaling factor (default: so the
    longest kernel side reaches about ``TARGET_PX`` pixels, e.g. 18x for 15 px).
    """
    t = torch.as_tensor(k).detach().to("cpu", torch.float64)
    if t.ndim == 2:
        t = t[None, None]
    elif t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[1] != 1:
        raise InputError(f"kernel must be (h, w) or (B, 1, h, w), got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise InputError("kernel has non-finite values")
    h, w = t.shape[-2:]
    s = max(1, math.ceil(TARGET_PX / max(h, w))) if scale is None else int(scale)
    if s < 1:
        raise InputError(f"scale must be >= 1, got {scale}")
    t = t.clamp_min(0)
    peak = t.amax((-2, -1), keepdim=True)
    t = torch.where(peak > 0, t / peak.clamp_min(1e-300), t)
    tiles = [np.kron(np.round(255 * item[0].numpy()), np.ones((s, s))) for item in t]
    sep = np.full((h * s, 1), 128.0)
    picture = tiles[0]
    for tile in tiles[1:]:
        picture = np.concatenate([picture, sep, tile], axis=1)
    return picture.astype(np.uint8)
