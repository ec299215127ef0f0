"""Turning what users pass (paths, arrays, tensors, device names) into checked tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblur.errors import InputError

_INT_RANGE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def as_image(image: Any) -> torch.Tensor:
    """A float32 (B, C, H, W) tensor with C in {1, 3} and finite values.

    Accepts a path, a numpy array (H, W) or (H, W, C) (uint8/uint16 scaled to [0, 1]) or a tensor
    (H, W), (C, H, W) or (B, C, H, W).
    """
    if isinstance(image, (str, Path)):
        from deblur.io import read_image

        image, _ = read_image(image)
    if isinstance(image, np.ndarray):
        scale = _INT_RANGE.get(image.dtype, 1.0)
        array = image.astype(np.float32) / scale
        if array.ndim == 3:
            array = np.moveaxis(array, -1, 0)
        image = torch.from_numpy(np.ascontiguousarray(array))
    if not isinstance(image, torch.Tensor):
        raise InputError(f"expected an image path, array or tensor, got {type(image).__name__}")
    while image.ndim < 4:
        image = image.unsqueeze(0)
    if image.ndim != 4 or image.shape[1] not in (1, 3):
        raise InputError(f"expected an image of shape (B, 1 or 3, H, W), got {tuple(image.shape)}")
    image = image.float()
    if not torch.isfinite(image).all():
        raise InputError("image has non-finite pixels (NaN or inf)")
    return image


def as_kernel(kernel: Any) -> torch.Tensor:
    """A (B, 1, h, w) float32 kernel normalised to sum 1, from a path, array or tensor."""
    if isinstance(kernel, (str, Path)):
        from deblur.io import read_kernel

        kernel = read_kernel(kernel)
    k = torch.as_tensor(np.asarray(kernel) if not isinstance(kernel, torch.Tensor) else kernel)
    while k.ndim < 4:
        k = k.unsqueeze(0)
    if k.ndim != 4 or k.shape[1] != 1:
        raise InputError(f"expected a kernel of shape (h, w) or (B, 1, h, w), got {tuple(k.shape)}")
    k = k.float()
    if not torch.isfinite(k).all():
        raise InputError("kernel has non-finite values (NaN or inf)")
    if (k < 0).any():
        raise InputError("kernel has negative values")
    total = k.sum(dim=(-2, -1), keepdim=True)
    if (total <= 0).any():
        raise InputError("kernel sums to zero")
    return k / total


def check_kernel_size(kernel_size: int | None, image_hw: torch.Size | tuple[int, int]) -> None:
    """A blind kernel size must be odd, at least 3 and at most half the smaller image side."""
    if kernel_size is None:
        return
    limit = min(image_hw) // 2
    largest = limit if limit % 2 else limit - 1
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise InputError(f"kernel size must be an odd number >= 3, got {kernel_size}")
    if kernel_size > limit:
        raise InputError(
            f"kernel size {kernel_size} is too large for a {image_hw[0]}x{image_hw[1]} image "
            f"(at most {largest})"
        )


def check_kernel_fits(kernel: torch.Tensor, image: torch.Tensor) -> None:
    """A known kernel must be smaller than the image it blurred."""
    (h, w), (H, W) = kernel.shape[-2:], image.shape[-2:]
    if h > H or w > W:
        raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} image")


def pick_device(device: str | torch.device | None, like: torch.Tensor) -> torch.device:
    """``None`` keeps the tensor's device; ``"auto"`` picks CUDA when present."""
    if device is None:
        return like.device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"unknown device {device!r}: {exc}") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available")
    return target


def check_one_image(y: Any, method: str) -> None:
    """Refuse anything but one finite floating-point (1, 1 or 3, H, W) image, naming ``method``."""
    if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[0] != 1 or y.shape[1] not in (1, 3):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise InputError(
            f"{method} deblurs one image at a time: need a (1, 1 or 3, H, W) tensor, got {shape}"
        )
    if not y.is_floating_point() or not bool(torch.isfinite(y).all()):
        raise InputError("image must be a floating-point tensor with finite values")
