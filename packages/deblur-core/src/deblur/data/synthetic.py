r"""Synthetic blurred observations and training batches.

Forward model :math:`y = k * x + n` (TRUE convolution, :func:`deblur.operators.convolve`) with
Gaussian noise :math:`n \sim \mathcal{N}(0, \sigma^2)` or Poisson noise
:math:`y = \mathcal{P}(\lambda\, k * x) / \lambda` with :math:`\lambda = 1/\sigma^2` (std
:math:`\sigma\sqrt{v}` at intensity :math:`v`). Training batches pair procedural or photographic sharp
images with random camera-shake kernels (:func:`deblur.kernels.motion_kernel`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from deblur.data.procedural import as_generator, dead_leaves, text_image
from deblur.errors import InputError

__all__ = ["SOURCES", "blur_image", "training_pairs"]

SOURCES = ("dead_leaves", "text", "photos")


def _draw(shape: torch.Size, like: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=g, device=g.device, dtype=like.dtype).to(like.device)


def blur_image(
    x: torch.Tensor,
    k: torch.Tensor,
    *,
    noise_sigma: float | torch.Tensor = 0.01,
    noise: str = "gaussian",
    boundary: str = "valid",
    padding: str = "reflect",
    generator: torch.Generator | int | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Blur ``x`` (B, C, H, W) with ``k`` (B|1, 1, h, w) and add noise.

    Args:
        noise_sigma: noise level, a float or a (B,) tensor (one per image); 0 gives the clean blur.
        noise: ``"gaussian"`` or ``"poisson"`` (see module docstring).
        boundary: ``"valid"`` (output ``(H - h + 1, W - w + 1)``, the faithful model of a photo),
            ``"same"`` (with ``padding``) or ``"circular"``.
        generator: randomness (a generator, on any device, or an int seed).
        clip: clip the observation to [0, 1] (off by default: the noise model is then exact).
    """
    from deblur.operators import convolve

    if noise not in ("gaussian", "poisson"):
        raise InputError(f"noise must be 'gaussian' or 'poisson', got {noise!r}")
    sigma = torch.as_tensor(noise_sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
    if not bool(torch.isfinite(sigma).all()) or bool((sigma < 0).any()):
        raise InputError(f"noise_sigma must be finite and non-negative, got {noise_sigma}")
    y = convolve(x, k, boundary=boundary, padding=padding)
    g = as_generator(generator)
    if noise == "gaussian":
        y = y + sigma * _draw(y.shape, y, g)
    else:
        lam = 1.0 / sigma.clamp_min(1e-12) ** 2
        rate = (y.clamp_min(0) * lam).to(g.device)
        counts = torch.poisson(rate, generator=g).to(y.device)
        y = torch.where(sigma > 0, counts / lam, y)
    return y.clamp(0, 1) if clip else y


def _crops(
    images: Sequence[torch.Tensor], n: int, size: int, channels: int, g: torch.Generator
) -> torch.Tensor:
    """``n`` random square crops of side ``size``, randomly flipped: ``(n, channels, size, size)``."""
    usable = [im for im in images if min(im.shape[-2:]) >= size]
    if not usable:
        raise InputError(f"no photo is at least {size}x{size}")
    out = []
    for i in torch.randint(len(usable), (n,), generator=g).tolist():
        im = usable[i]
        top = int(torch.randint(im.shape[-2] - size + 1, (1,), generator=g))
        left = int(torch.randint(im.shape[-1] - size + 1, (1,), generator=g))
        crop = im[..., top : top + size, left : left + size]
        flips = [d for d, f in zip((-2, -1), torch.rand(2, generator=g).tolist(), strict=True) if f < 0.5]
        crop = crop.flip(flips) if flips else crop
        out.append(crop.expand(1, channels, -1, -1) if crop.shape[1] == 1 else crop[:, :channels])
    return torch.cat(out)


def training_pairs(
    batch_size: int = 8,
    size: int = 64,
    kernel_size: int = 15,
    *,
    sources: Sequence[str] = ("dead_leaves", "text"),
    channels: int = 1,
    noise_sigma: float | tuple[float, float] = (0.0, 0.02),
    noise: str = "gaussian",
    generator: torch.Generator | int | None = None,
    device: torch.device | str | None = None,
    batches: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield ``(blurry, sharp, kernel)`` batches for training learned components.

    Each sharp latent ``(size + kernel_size - 1)^2`` comes from a source drawn uniformly from
    ``sources`` (``"dead_leaves"``, ``"text"``, ``"photos"``: random crops of scikit-image's photos);
    it is blurred "valid" by its own motion kernel ``(batch_size, 1, kernel_size, kernel_size)``, plus
    noise with a std drawn uniformly from ``noise_sigma`` (a range or a fixed value). ``blurry`` and the
    returned ``sharp`` are ``(batch_size, channels, size, size)``: ``sharp`` is the latent's centre
    crop, aligned pixel for pixel with ``blurry``. Infinite unless ``batches`` is given; the same
    generator seed gives the same stream.
    """
    from deblur.kernels import motion_kernel

    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise InputError(f"unknown training sources {unknown or sources}; choose from {', '.join(SOURCES)}")
    if channels not in (1, 3) or batch_size < 1 or size < 1:
        raise InputError(f"need channels 1 or 3 and positive sizes, got {channels}, {batch_size}, {size}")
    lo, hi = (noise_sigma, noise_sigma) if isinstance(noise_sigma, (int, float)) else noise_sigma
    g = as_generator(generator)
    latent = size + kernel_size - 1
    photos = None
    if "photos" in sources:
        from deblur.data.photos import skimage_photos

        photos = list(skimage_photos(gray=channels == 1).values())
    half = kernel_size // 2
    count = 0
    while batches is None or count < batches:
        picks = torch.randint(len(sources), (batch_size,), generator=g).tolist()
        sharp = torch.empty(batch_size, channels, latent, latent)
        for src in set(picks):
            idx = [i for i, p in enumerate(picks) if p == src]
            name = sources[src]
            if name == "photos":
                sharp[idx] = _crops(photos, len(idx), latent, channels, g)
            else:
                make = dead_leaves if name == "dead_leaves" else text_image
                sharp[idx] = torch.cat([make(latent, g, channels=channels) for _ in idx])
        kernel = motion_kernel(kernel_size, n=batch_size, generator=g)
        sigma = lo + (hi - lo) * torch.rand(batch_size, generator=g)
        sharp, kernel = sharp.to(device), kernel.to(device)
        blurry = blur_image(sharp, kernel, noise_sigma=sigma.to(sharp.device), noise=noise, generator=g)
        yield blurry, sharp[..., half : half + size, half : half + size].contiguous(), kernel
        count += 1
