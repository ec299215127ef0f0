"""Centre crops: the window of a larger image (a latent of a ``valid`` blur, a photo) that a smaller one
stands for.

A ``valid`` blur by an ``h x w`` kernel loses ``h - 1`` rows and ``w - 1`` columns, half on each side, so a
reference latent and its observation differ by an even margin (:func:`has_even_margin`) and the
observation's grid is the latent's centre (:func:`centre_crop`). Shapes and slicing only: nothing here
imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["centre_crop", "has_even_margin"]


def has_even_margin(outer: Sequence[int], inner: Sequence[int]) -> bool:
    """Whether a window of size ``inner`` sits in ``outer`` with equal margins on both sides of each axis."""
    return all(o >= i and (o - i) % 2 == 0 for o, i in zip(outer, inner, strict=True))


def centre_crop(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """The centred ``size = (h, w)`` window of the last two axes of ``x`` (a view; an odd margin leaves the
    extra row or column at the end). ``size`` must fit in ``x``."""
    (H, W), (h, w) = x.shape[-2:], size
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top : top + h, left : left + w]
