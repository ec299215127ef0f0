"""Kernel fields on a grid (``Result.kernel_field``): their kernels at grid cells, and pictures of them.

A field ``(B, h * w, Gh, Gw)`` over an ``H x W`` image holds the kernel at each grid cell's centre,
interpolated bilinearly in between (the "field on a grid" of :mod:`deblur.operators.spatially_varying`);
``Gh, Gw == H, W`` is one kernel per pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cell_centres", "cell_kernels", "field_mnc", "field_picture"]

#: The value of the gaps between kernels in :func:`field_picture` (the gray of
#: :func:`deblur.kernels.kernel_to_image`'s separators).
GAP_VALUE = 0.5


def cell_centres(grid: tuple[int, int], shape: tuple[int, int]) -> torch.Tensor:
    """Pixel coordinates ``(Gh * Gw, 2)`` (row, col) of the cell centres of a ``grid`` laid over an
    ``H x W`` image, row-major: ``(i + 0.5) * H / Gh - 0.5``."""
    (Gh, Gw), (H, W) = grid, shape
    rows = (torch.arange(int(Gh), dtype=torch.float64) + 0.5) * int(H) / int(Gh) - 0.5
    cols = (torch.arange(int(Gw), dtype=torch.float64) + 0.5) * int(W) / int(Gw) - 0.5
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)


def cell_kernels(field: torch.Tensor, shape: tuple[int, int], grid: tuple[int, int]) -> torch.Tensor:
    """The kernels ``(Gh * Gw, 1, h, w)`` of ``field``'s first item over an image of ``shape`` at the
    :func:`cell_centres` of ``grid`` (:func:`deblur.operators.field_at`), detached, float32 on the CPU."""
    from deblur.operators.spatially_varying import field_at

    f = field[:1].detach().to("cpu", torch.float32)
    return field_at(f, shape, cell_centres(grid, shape))[0]


def field_mnc(estimate: torch.Tensor, truth: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Mean kernel MNC ``(B,)`` of the fields ``estimate`` ``(B, h' * w', *, *)`` and ``truth``
    ``(B, h * w, Gh, Gw)`` over an ``H x W`` image, at the :func:`cell_centres` of the true grid (the
    kernel sizes may differ)."""
    from deblur.metrics import kernel_mnc
    from deblur.operators.spatially_varying import field_at

    points = cell_centres(tuple(truth.shape[-2:]), shape)
    a, b = field_at(estimate, shape, points), field_at(truth, shape, points)
    B, P = a.shape[:2]
    return kernel_mnc(a.flatten(0, 1), b.flatten(0, 1)).reshape(B, P).mean(1)


def field_picture(field: torch.Tensor, cells: int = 8, gap: int = 1) -> torch.Tensor:
    """The kernels of a field ``(B, h * w, Gh, Gw)`` (its first item) tiled as they sit on its grid,
    each scaled to its own peak, ``gap`` px of :data:`GAP_VALUE` apart: ``(1, 1, n (h + gap) - gap,
    m (w + gap) - gap)``.

    A grid of at most ``cells`` per side is shown cell by cell; a finer one (a per-pixel field) is
    sampled at ``cells`` evenly spaced positions per side.
    """
    Gh, Gw = int(field.shape[-2]), int(field.shape[-1])
    n, m = min(Gh, cells), min(Gw, cells)
    k = cell_kernels(field, (Gh, Gw), (n, m)).clamp_min(0)
    h, w = k.shape[-2:]
    k = k / k.amax((-2, -1), keepdim=True).clamp_min(1e-12)
    tiles = F.pad(k, (0, gap, 0, gap), value=GAP_VALUE).reshape(n, m, h + gap, w + gap)
    picture = tiles.permute(0, 2, 1, 3).reshape(1, 1, n * (h + gap), m * (w + gap))
    return picture[..., : n * (h + gap) - gap, : m * (w + gap) - gap]
