"""Procedural sharp images for training and tests: dead leaves and rendered text.

Dead leaves (Matheron 1968; Lee, Mumford, Huang, "Occlusion models for natural images", IJCV 2001):
opaque discs fall on the plane at uniform positions with radii of density :math:`p(r) \\propto r^{-\\alpha}`
on :math:`[r_{min}, r_{max}]`; with :math:`\\alpha = 3` the result is scale invariant and has the
:math:`1/f^2` power spectrum and sharp occluding edges of natural photos. Text gives the thin strokes
and flat backgrounds where deblurring artefacts show most.

All randomness comes from a ``torch.Generator`` (or an int seed): the same seed gives the same image.
"""

from __future__ import annotations

import string

import numpy as np
import torch

from deblur.errors import InputError

__all__ = ["as_generator", "dead_leaves", "text_image"]

_CHARS = string.ascii_letters + string.digits + " .,;:!?-()"


def as_generator(generator: torch.Generator | int | None) -> torch.Generator:
    """A CPU generator: ``generator`` itself, one seeded with the int, or a fresh one seeded with 0."""
    if isinstance(generator, torch.Generator):
        return generator
    g = torch.Generator()
    g.manual_seed(0 if generator is None else int(generator))
    return g


def _hw(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise InputError(f"image size must be positive, got {size}")
    return h, w


def _uniform(g: torch.Generator, *shape: int) -> np.ndarray:
    return torch.rand(*shape, generator=g, dtype=torch.float64).numpy()


def _power_law(u: np.ndarray, r_min: float, r_max: float, alpha: float) -> np.ndarray:
    r"""Inverse CDF of :math:`p(r) \propto r^{-\alpha}` on :math:`[r_{min}, r_{max}]` (``alpha != 1``)."""
    e = 1.0 - alpha
    return (r_min**e + u * (r_max**e - r_min**e)) ** (1.0 / e)


def dead_leaves(
    size: int | tuple[int, int],
    generator: torch.Generator | int | None = None,
    *,
    channels: int = 1,
    r_min: float = 1.0,
    r_max: float | None = None,
    alpha: float = 3.0,
    coverage: float = 5.0,
    antialias: int = 2,
) -> torch.Tensor:
    r"""A dead-leaves image, ``(1, channels, H, W)`` float32 in [0, 1].

    Args:
        size: ``H`` or ``(H, W)``.
        generator: randomness (generator or seed).
        channels: 1 (gray) or 3 (colour); every disc has one uniform random colour.
        r_min, r_max: radius range in pixels (``r_max`` defaults to a quarter of the smaller side).
        alpha: radius power-law exponent (3: scale invariant); must not be 1.
        coverage: discs drawn = ``coverage * H W / E[pi r^2]``; the uncovered share is about
            :math:`e^{-\mathrm{coverage}}` and shows the background colour.
        antialias: supersampling factor of the disc edges.
    """
    from PIL import Image, ImageDraw

    h, w = _hw(size)
    if channels not in (1, 3):
        raise InputError(f"channels must be 1 or 3, got {channels}")
    r_max = min(h, w) / 4.0 if r_max is None else float(r_max)
    if not 0 < r_min <= r_max or alpha == 1.0:
        raise InputError(f"need 0 < r_min <= r_max and alpha != 1, got {r_min}, {r_max}, {alpha}")
    g = as_generator(generator)
    radii = _power_law(_uniform(g, 4096), r_min, r_max, alpha)
    n = int(np.clip(coverage * h * w / np.mean(np.pi * radii**2), 1, 200_000))
    r = _power_law(_uniform(g, n), r_min, r_max, alpha) * antialias
    cy, cx = _uniform(g, n) * h * antialias, _uniform(g, n) * w * antialias
    colours = torch.rand(n + 1, channels, generator=g)
    # Painter's order: disc i (1..n) covers the earlier ones; index 0 is the background.
    index = Image.new("I", (w * antialias, h * antialias), 0)
    draw = ImageDraw.Draw(index)
    for i in range(n):
        draw.ellipse((cx[i] - r[i], cy[i] - r[i], cx[i] + r[i], cy[i] + r[i]), fill=i + 1)
    idx = torch.from_numpy(np.asarray(index, dtype=np.int64))
    img = colours[idx].permute(2, 0, 1)[None]
    return torch.nn.functional.avg_pool2d(img, antialias) if antialias > 1 else img.contiguous()


def text_image(
    size: int | tuple[int, int],
    generator: torch.Generator | int | None = None,
    *,
    channels: int = 1,
    lines: int | None = None,
    font_sizes: tuple[int, int] = (8, 40),
    min_contrast: float = 0.3,
) -> torch.Tensor:
    """Random text rendered with Pillow's built-in font, ``(1, channels, H, W)`` float32 in [0, 1].

    Each line has a random font size in ``font_sizes``, position, length and colour differing from the
    uniform background by at least ``min_contrast`` in every channel (at most 0.5).

    Args:
        size: ``H`` or ``(H, W)``.
        generator: randomness (generator or seed).
        channels: 1 or 3.
        lines: number of text lines (default: about one per 24 px of height).
    """
    from PIL import Image, ImageDraw, ImageFont

    h, w = _hw(size)
    if channels not in (1, 3):
        raise InputError(f"channels must be 1 or 3, got {channels}")
    if not 1 <= font_sizes[0] <= font_sizes[1]:
        raise InputError(f"font_sizes must be 1 <= low <= high, got {font_sizes}")
    if not 0 <= min_contrast <= 0.5:
        raise InputError(f"min_contrast must be in [0, 0.5], got {min_contrast}")
    g = as_generator(generator)
    n = max(1, h // 24) if lines is None else int(lines)
    background = torch.rand(channels, generator=g)
    far = (background <= 0.5).float()
    t_min = 2 * min_contrast
    canvas = Image.new("RGB", (w, h), tuple(int(v * 255 + 0.5) for v in background.expand(3)))
    draw = ImageDraw.Draw(canvas)
    sizes = torch.randint(font_sizes[0], font_sizes[1] + 1, (n,), generator=g)
    for s in sizes.tolist():
        length = int(torch.randint(3, 40, (1,), generator=g))
        text = "".join(_CHARS[i] for i in torch.randint(len(_CHARS), (length,), generator=g).tolist())
        x, y = (torch.rand(2, generator=g) * torch.tensor([w, h]) - torch.tensor([w / 4, s / 2])).tolist()
        # Per channel, move from the background towards the farther end of [0, 1] by a share t >= 2 c.
        t = t_min + (1 - t_min) * torch.rand(channels, generator=g)
        colour = background + (far - background) * t
        fill = tuple(int(v * 255 + 0.5) for v in colour.expand(3))
        draw.text((x, y), text, fill=fill, font=ImageFont.load_default(size=s))
    a = torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (a[:1] if channels == 1 else a)[None].contiguous()
