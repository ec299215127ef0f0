"""Boundary extension and its exact adjoint (used by the "same" and "circular" boundaries).

For a kernel of size ``(h, w)`` centred at ``(h // 2, w // 2)`` the extension is
``top = h - 1 - h // 2``, ``bottom = h // 2`` (likewise left/right), so that the "valid" convolution of
the extended image is the "same" convolution of the image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deblur.errors import InputError

PADDINGS = ("reflect", "replicate", "zero", "circular")


def kernel_pads(h: int, w: int) -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` extension for a centred ``h x w`` kernel, in ``F.pad`` order."""
    return (w - 1 - w // 2, w // 2, h - 1 - h // 2, h // 2)


def pad(x: torch.Tensor, pads: tuple[int, int, int, int], mode: str) -> torch.Tensor:
    """Extend ``x`` (..., H, W) by ``pads = (left, right, top, bottom)`` with ``mode`` in :data:`PADDINGS`.

    "reflect" mirrors without repeating the edge (``x[-1] = x[1]``), "replicate" repeats the edge,
    "zero" pads with zeros, "circular" wraps around.
    """
    if not any(pads):
        return x
    if mode == "zero":
        return F.pad(x, pads)
    if mode not in PADDINGS:
        raise InputError(f"unknown padding {mode!r}; expected one of {', '.join(PADDINGS)}")
    return F.pad(x, pads, mode=mode)


def _fold(z: torch.Tensor, a: int, b: int, n: int, mode: str, dim: int) -> torch.Tensor:
    """Adjoint of a 1-D extension along ``dim``: length ``a + n + b`` -> ``n``."""
    core = z.narrow(dim, a, n)
    if a == 0 and b == 0:
        return core
    if mode == "zero":
        return core
    head = z.narrow(dim, 0, a)
    tail = z.narrow(dim, a + n, b)
    core = core.clone()
    if mode == "replicate":
        if a:
            core.narrow(dim, 0, 1).add_(head.sum(dim, keepdim=True))
        if b:
            core.narrow(dim, n - 1, 1).add_(tail.sum(dim, keepdim=True))
    elif mode == "reflect":
        # padded index j < a holds x[a - j]; padded index a + n + t holds x[n - 2 - t]
        if a:
            core.narrow(dim, 1, a).add_(head.flip(dim))
        if b:
            core.narrow(dim, n - 1 - b, b).add_(tail.flip(dim))
    elif mode == "circular":
        # padded index j < a holds x[n - a + j]; padded index a + n + t holds x[t]
        if a:
            core.narrow(dim, n - a, a).add_(head)
        if b:
            core.narrow(dim, 0, b).add_(tail)
    else:
        raise InputError(f"unknown padding {mode!r}; expected one of {', '.join(PADDINGS)}")
    return core


def pad_adjoint(z: torch.Tensor, pads: tuple[int, int, int, int], mode: str) -> torch.Tensor:
    """Exact adjoint of :func:`pad`: fold the extension back onto the image, ``<P x, z> = <x, P^T z>``."""
    left, right, top, bottom = pads
    H = z.shape[-2] - top - bottom
    W = z.shape[-1] - left - right
    z = _fold(z, left, right, W, mode, -1)
    return _fold(z, top, bottom, H, mode, -2)
