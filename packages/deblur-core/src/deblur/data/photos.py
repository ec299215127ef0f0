"""The natural photos shipped inside scikit-image (optional dependency: ``deblur-core[photos]``).

They need no download, so training data can be made offline. Colour photos become gray with the
Rec. 709 luma weights ``0.2125 R + 0.7154 G + 0.0721 B`` (scikit-image's ``rgb2gray``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from deblur.errors import InputError
from deblur.observation import luminance

__all__ = ["PHOTOS", "skimage_photos"]

PHOTOS = (
    "camera",
    "astronaut",
    "coffee",
    "chelsea",
    "moon",
    "coins",
    "brick",
    "grass",
    "gravel",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "clock",
    "page",
    "text",
)
"""Photos bundled with scikit-image (no network needed)."""


def skimage_photos(names: Iterable[str] | None = None, gray: bool = True) -> dict[str, torch.Tensor]:
    """Load scikit-image's photos as float32 ``(1, C, H, W)`` tensors in [0, 1], by name.

    Args:
        names: photos to load (default :data:`PHOTOS`).
        gray: convert colour photos to one channel; otherwise colour photos keep 3 channels and gray
            ones 1.

    Raises:
        InputError: scikit-image is not installed, or a name is not one of :data:`PHOTOS`.
    """
    try:
        import skimage.data
    except ImportError:
        raise InputError("the scikit-image photos need scikit-image: install deblur-core[photos]") from None
    names = PHOTOS if names is None else tuple(names)
    unknown = [n for n in names if n not in PHOTOS]
    if unknown:
        raise InputError(f"unknown photos {unknown}; available: {', '.join(PHOTOS)}")
    out = {}
    for name in names:
        a = np.asarray(getattr(skimage.data, name)()).astype(np.float32) / 255.0
        x = torch.from_numpy(a[..., None] if a.ndim == 2 else a[..., :3]).permute(2, 0, 1)[None]
        if gray and x.shape[1] == 3:
            x = luminance(x)
        out[name] = x.contiguous()
    return out
