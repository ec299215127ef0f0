r"""Choosing a well-textured window of the observation to estimate the kernel on.

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

__all__ = ["estimation_window", "textured_window"]


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
