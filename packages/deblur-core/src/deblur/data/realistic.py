"""A realistic blind-deblurring benchmark made from a seed (``deblur bench --dataset realistic:N``).

Levin's set is 32 gray 255 px images with kernels of at most 27 px. Photos that users bring are larger,
blurred further, and hold what breaks kernel estimation: clipped light sources, text, fine texture.
Case ``i`` (its own random stream, so ``realistic:10`` is the first ten of ``realistic:40``) has

- the category ``CATEGORIES[i % 4]``: ``plain`` (a photo or a dead-leaves scene, 15-45 px kernel),
  ``saturated`` (the scene darkened as at night, with light sources of 2-20 times full scale added
  before the blur and clipped at 1 after it), ``text`` (a page of dark text on a light background) and
  ``large`` (a photo or a dead-leaves scene, 51-75 px kernel);
- a side of 600-1000 px each way, gray or colour (every other group of four);
- a camera-shake kernel from :func:`deblur.kernels.motion_kernel` (Boracchi & Foi trajectories) with
  its exposure drawn in [0.5, 1];
- ``valid`` formation (the latent larger by the kernel; every other group of eight) or ``same`` with a
  replicated border;
- Gaussian noise of 0.5-2% and 8-bit quantisation.

Photos are scikit-image's bundled ones (``deblur-core[photos]``), upscaled by 1.5-2.5x with antialiasing
and cropped at random; without scikit-image, dead-leaves scenes take their place.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deblur.crops import centre_crop
from deblur.data.procedural import dead_leaves, text_image
from deblur.data.synthetic import blur_image
from deblur.errors import InputError
from deblur.kernels import motion_kernel

__all__ = ["CATEGORIES", "RealisticCase", "realistic_case", "realistic_cases"]

CATEGORIES = ("plain", "saturated", "text", "large")
SEED = 20261202
#: Photos with structure at every scale; the texture ones (brick, grass, gravel) are the hard cases.
SCENES = ("astronaut", "coffee", "chelsea", "rocket", "brick", "grass", "gravel", "camera", "coins", "moon")
SIDE = (600, 1000)
KERNEL = {"large": (51, 75)}
KERNEL_DEFAULT = (15, 45)
NOISE = (0.005, 0.02)


@dataclass(frozen=True)
class RealisticCase:
    """One generated case: ``blurry`` (1, C, H, W) and ``sharp`` on its grid, the true ``kernel``."""

    name: str
    category: str
    blurry: torch.Tensor
    sharp: torch.Tensor
    kernel: torch.Tensor
    formation: str
    noise: float
    scene: str


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return float(low + (high - low) * torch.rand((), generator=g, dtype=torch.float64))


def _odd_between(g: torch.Generator, low: int, high: int) -> int:
    return low + 2 * int(torch.randint(0, (high - low) // 2 + 1, (), generator=g))


def _photo(name: str, shape: tuple[int, int], channels: int, g: torch.Generator) -> torch.Tensor | None:
    """Photo ``name`` upscaled 1.5-2.5x and cropped at random to ``shape``; ``None`` without scikit-image."""
    from deblur.data.photos import skimage_photos

    try:
        photo = skimage_photos([name], gray=channels == 1)[name]
    except InputError:
        return None
    if photo.shape[1] != channels:
        photo = photo.expand(-1, channels, -1, -1)
    h, w = photo.shape[-2:]
    scale = max(_uniform(g, 1.5, 2.5), shape[0] / h, shape[1] / w)
    size = (max(shape[0], round(h * scale)), max(shape[1], round(w * scale)))
    big = F.interpolate(photo, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    top = int(torch.randint(0, size[0] - shape[0] + 1, (), generator=g))
    left = int(torch.randint(0, size[1] - shape[1] + 1, (), generator=g))
    return big[..., top : top + shape[0], left : left + shape[1]].contiguous()


def _lights(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A night scene: ``x`` darkened to 15-35%, plus 5-24 light sources (discs of 2-10 px radius at 2-20
    times full scale), the latent that a camera clips after the blur."""
    h, w = x.shape[-2:]
    out = x * _uniform(g, 0.15, 0.35)
    rows = torch.arange(h, dtype=x.dtype)[:, None]
    cols = torch.arange(w, dtype=x.dtype)[None, :]
    for _ in range(int(torch.randint(5, 25, (), generator=g))):
        r, c = _uniform(g, 0, h), _uniform(g, 0, w)
        radius, level = _uniform(g, 2, 10), _uniform(g, 2, 20)
        disc = ((rows - r) ** 2 + (cols - c) ** 2 <= radius**2).to(x.dtype)
        tint = 1 - 0.3 * torch.rand(x.shape[1], generator=g, dtype=x.dtype)
        out = out + level * disc * tint[:, None, None]
    return out


def _page(shape: tuple[int, int], channels: int, g: torch.Generator) -> torch.Tensor:
    """Dark text on a light page: the strokes of rendered text, inked at 0-0.3 on paper at 0.8-1."""
    text = text_image(shape, g, channels=channels, font_sizes=(12, 48), min_contrast=0.4)
    background = text.flatten(2).median(-1).values[..., None, None]
    stroke = (text - background).abs().amax(1, keepdim=True)
    stroke = stroke / stroke.amax().clamp_min(1e-6)
    paper = _uniform(g, 0.8, 1.0) - 0.05 * torch.rand(channels, 1, 1, generator=g)
    ink = _uniform(g, 0.0, 0.3)
    return paper - (paper - ink) * stroke


def realistic_case(i: int, seed: int = SEED) -> RealisticCase:
    """Case ``i`` of the set (see the module docstring)."""
    g = torch.Generator().manual_seed(seed + 1009 * i)
    category = CATEGORIES[i % len(CATEGORIES)]
    channels = 3 if (i // 4) % 2 else 1
    formation = "valid" if (i // 8) % 2 == 0 else "same"
    size = _odd_between(g, *KERNEL.get(category, KERNEL_DEFAULT))
    kernel = motion_kernel(size, exposure=_uniform(g, 0.5, 1.0), generator=g)
    shape = tuple(int(v) for v in torch.randint(SIDE[0], SIDE[1] + 1, (2,), generator=g))
    latent_shape = (shape[0] + size - 1, shape[1] + size - 1) if formation == "valid" else shape
    scene = SCENES[i % len(SCENES)]
    if category == "text":
        scene, latent = "text", _page(latent_shape, channels, g)
    else:
        latent = _photo(scene, latent_shape, channels, g) if i % 3 else None
        if latent is None:
            scene, latent = "dead-leaves", dead_leaves(latent_shape, g, channels=channels)
    if category == "saturated":
        latent = _lights(latent, g)
    noise = _uniform(g, *NOISE)
    padding = "replicate"  # used by the "same" formation only
    y = blur_image(
        latent, kernel, noise_sigma=noise, boundary=formation, padding=padding, generator=g, clip=True
    )
    y = torch.round(y * 255) / 255
    sharp = centre_crop(latent.clamp(0, 1), shape).contiguous()
    return RealisticCase(f"realistic{i:03d}-{category}", category, y, sharp, kernel, formation, noise, scene)


def realistic_cases(n: int, seed: int = SEED) -> list[RealisticCase]:
    """The first ``n`` cases of the set (see the module docstring)."""
    if n < 1:
        raise InputError(f"realistic:N needs a positive integer N, got {n}")
    return [realistic_case(i, seed) for i in range(n)]
