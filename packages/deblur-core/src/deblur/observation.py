r"""What every blind method reads from its observation first: luminance, kernel size, estimation window.

- :func:`luminance`: colour images have their kernel estimated on the Rec. 709 luminance.
- :func:`kernel_size`: the kernel support, from what the run or the method asks for, else the default
  rule ``min(H, W) // 10`` made odd, within [7, 75] (:func:`default_kernel_size`); at most half the
  smaller side.
- :func:`estimation_window`: a well-textured window of the observation to estimate the kernel on.
- :func:`noise_level`: the standard deviation of the observation's noise, estimated from its finest
  wavelet band.
- :func:`saturation_mask`: the clipped pixels (light sources, blown highlights), which no blur model
  explains and which kernel estimation and deconvolution leave out.

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
    "MAX_DEFAULT_KERNEL",
    "SATURATION",
    "default_kernel_size",
    "estimation_window",
    "kernel_size",
    "luminance",
    "noise_level",
    "saturation_mask",
    "textured_window",
]

LUMA = (0.2125, 0.7154, 0.0721)
"""Rec. 709 luma weights."""

MAX_DEFAULT_KERNEL = 75
"""The largest kernel the default rule chooses: camera shake of a handheld 1000 px photo reaches it."""

SATURATION = 254.5 / 255
"""Pixels at or above this value (in any channel) count as clipped: the top 8-bit level."""


def luminance(y: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` luminance of a gray or RGB ``(B, C, H, W)`` image (Rec. 709 weights)."""
    if y.shape[1] == 1:
        return y
    w = torch.tensor(LUMA, dtype=y.dtype, device=y.device).view(1, 3, 1, 1)
    return (y * w).sum(1, keepdim=True)


def default_kernel_size(shape: tuple[int, int]) -> int:
    """Default kernel support for an ``(H, W)`` observation: ``min(H, W) // 10`` made odd, within [7, 75].

    A tenth of the smaller side covers the camera shake of handheld photos at every resolution (25 px
    on Levin's 255 px captures, 61 px on a 600 px photo, 75 px from 750 px on); a support larger than
    the blur costs time, one smaller than it cannot be fitted, so the rule errs on the large side.
    """
    side = min(shape) // 10
    return min(MAX_DEFAULT_KERNEL, max(7, side if side % 2 else side + 1))


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


def noise_level(y: torch.Tensor) -> float:
    """Standard deviation of white noise in ``y`` (B, C, H, W), by the median absolute response to the
    3x3 second-difference filter ``[1 -2 1]^T [1 -2 1]`` (Immerkær, "Fast noise variance estimation",
    CVIU 1996, with the median for the mean): the filter cancels planes and ramps, edges are sparse in
    its response, and its 36 times larger spread resolves noise far below one 8-bit level (the finest
    Haar band's median snaps to multiples of 1/510). Pixels near clipped ones are left out."""
    y = y.detach().double().flatten(0, 1)[:, None]
    if min(y.shape[-2:]) < 3:
        raise InputError(f"image must be at least 3x3 to estimate its noise, got {tuple(y.shape[-2:])}")
    d = torch.tensor([1.0, -2.0, 1.0], dtype=y.dtype, device=y.device)
    response = F.conv2d(y, (d[:, None] * d[None, :]).view(1, 1, 3, 3))
    near_clipped = F.max_pool2d((y >= SATURATION).double(), 3, stride=1) > 0
    values = response[~near_clipped].abs()
    return float(values.median()) / (0.6745 * 6) if values.numel() else 0.0


def saturation_mask(y: torch.Tensor, level: float = SATURATION, grow: int = 1) -> torch.Tensor:
    """Boolean ``(B, 1, H, W)``: the clipped regions of ``y`` (B, C, H, W), grown by ``grow`` pixels.

    A pixel is clipped at or above ``level`` in any channel; a region counts where it holds a 3x3 block
    of clipped pixels (a blurred light source does, white paper that noise pushes over the top level
    here and there does not), and is then grown by one pixel to undo the opening plus ``grow`` to take in
    the pixels that noise pulled just below the level.
    """
    clipped = (y >= level).any(1, keepdim=True).float()
    core = -F.max_pool2d(-clipped, 3, stride=1, padding=1)
    reach = grow + 1
    return F.max_pool2d(core, 2 * reach + 1, stride=1, padding=reach) > 0
