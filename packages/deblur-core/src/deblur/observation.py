r"""What every blind method reads from its observation first: luminance, kernel size, estimation window.

- :func:`luminance`: colour images have their kernel estimated on the Rec. 709 luminance.
- :func:`kernel_size`: the kernel support, from what the run or the method asks for, else the default
  rule ``min(H, W) // 10`` made odd, within [7, 35] (:func:`default_kernel_size`); at most half the
  smaller side.
- :func:`estimation_window`: a well-textured window of the observation to estimate the kernel on.

The cost of DIP-based blind methods grows with the image, and the kernel is shared by every pixel, so
it can be estimated on a window (the "region selection" DIP-MC suggests as a speed-up, after Hu & Yang,
"Good regions to deblur", ECCV 2012). A window is useful when it holds edges in every direction: it is
scored by the smaller eigenvalue of its summed structure tensor

.. math:: J = \sum_{p \in W} \begin{pmatrix} g_x^2 & g_x g_y \\ g_x g_y & g_y^2 \end{pmatrix}, \qquad
    \lambda_{min}(J) = \tfrac{a + c}{2} - \sqrt{\big(\tfrac{a - c}{2}\big)^2 + b^2}

(``a``, ``b``, ``c`` the summed entries), computed for every position at once with box sums.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deblur.checks import odd_size
from deblur.errors import InputError

__all__ = [
    "LUMA",
    "default_kernel_size",
    "estimation_window",
    "kernel_size",
    "luminance",
    "textured_window",
]

LUMA = (0.2125, 0.7154, 0.0721)
"""Rec. 709 luma weights."""


def luminance(y: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` luminance of a gray or RGB ``(B, C, H, W)`` image (Rec. 709 weights)."""
    if y.shape[1] == 1:
        return y
    w = torch.tensor(LUMA, dtype=y.dtype, device=y.device).view(1, 3, 1, 1)
    return (y * w).sum(1, keepdim=True)


def default_kernel_size(shape: tuple[int, int]) -> int:
    """Default kernel support for an ``(H, W)`` observation: ``min(H, W) // 10`` made odd, within [7, 35]."""
    side = min(shape) // 10
    return min(35, max(7, side if side % 2 else side + 1))


def kernel_size(shape: tuple[int, int], *requested: int | None) -> int:
    """The kernel support for an ``(H, W)`` observation: the first of ``requested`` that is not ``None``
    (e.g. the run's ``--kernel-size``, then the method's parameter), else :func:`default_kernel_size`.

    Raises:
        InputError: an even or non-positive size, or one larger than half the smaller side.
    """
    size = next((s for s in requested if s is not None), None)
    size = default_kernel_size(shape) if size is None else odd_size(size)
    H, W = shape
    if 2 * size > min(H, W):
        raise InputError(f"kernel size {size} is too large for a {H}x{W} image (at most half its side)")
    return size


def _box(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    s = F.pad(x.cumsum(-2).cumsum(-1), (1, 0, 1, 0))
    return s[..., h:, w:] - s[..., :-h, w:] - s[..., h:, :-w] + s[..., :-h, :-w]


def textured_window(y: torch.Tensor, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left ``(row, col)`` of the ``size`` window of ``y`` (1, C, H, W) with the largest
    :math:`\\lambda_{min}` of its structure tensor (channels summed). ``size`` must fit in ``y``."""
    y = y.sum(1, keepdim=True).double()
    gy = y[..., 1:, :-1] - y[..., :-1, :-1]
    gx = y[..., :-1, 1:] - y[..., :-1, :-1]
    h, w = size[0] - 1, size[1] - 1
    a, b, c = _box(gx * gx, h, w), _box(gx * gy, h, w), _box(gy * gy, h, w)
    score = (a + c) / 2 - torch.sqrt(((a - c) / 2) ** 2 + b**2)
    best = int(score.flatten().argmax())
    return divmod(best, score.shape[-1])


def estimation_window(y: torch.Tensor, size: int, crop: int | None) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the window of ``y`` (1, C, H, W) to estimate a ``size`` kernel on.

    The most textured window of side ``max(crop, 3 * size)`` (clipped to the image); the whole image when
    ``crop`` is ``None`` or the window would cover it.
    """
    H, W = y.shape[-2:]
    if crop is None:
        return 0, 0, H, W
    side = max(crop, 3 * size)
    h, w = min(side, H), min(side, W)
    if (h, w) == (H, W):
        return 0, 0, H, W
    top, left = textured_window(y, (h, w))
    return top, left, h, w
