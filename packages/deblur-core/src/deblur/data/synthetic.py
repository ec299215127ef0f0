r"""Synthetic blurred observations and training batches.

Forward model :math:`y = k * x + n` (TRUE convolution, :func:`deblur.operators.convolve`) with
Gaussian noise :math:`n \sim \mathcal{N}(0, \sigma^2)` or Poisson noise
:math:`y = \mathcal{P}(\lambda\, k * x) / \lambda` with :math:`\lambda = 1/\sigma^2` (std
:math:`\sigma\sqrt{v}` at intensity :math:`v`). Training batches pair procedural or photographic sharp
images with random camera-shake kernels (:func:`deblur.kernels.motion_kernel`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deblur.data.procedural import as_generator, dead_leaves, text_image
from deblur.errors import InputError

__all__ = ["SOURCES", "BlurredCrops", "blur_image"]

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


class BlurredCrops:
    """Training batches of blurred gray crops and their camera-shake kernels, drawn on the fly.

    Sharp latents ``(crop + size - 1)^2`` come from a source drawn uniformly among ``sources``
    (``"dead_leaves"``, ``"text"``, ``"photos"``: random flipped crops of scikit-image's photos, left out
    silently when scikit-image is missing); each is blurred "valid" (the crop is the part of ``k * x``
    the latent determines) by its own kernel (:func:`deblur.kernels.motion_kernel`, path length
    ``U(*length) * size``), plus Gaussian noise of a standard deviation drawn per crop from ``noise``.
    Everything draws from one ``torch.Generator``: the same state gives the same batch.

    Args:
        size: kernel support.
        crop: side of the blurry crops.
        sources: sharp image sources.
        noise: range of the noise standard deviation.
        length: kernel path-length range, fractions of ``size``.
    """

    def __init__(
        self,
        size: int,
        crop: int,
        *,
        sources: Sequence[str] = SOURCES,
        noise: tuple[float, float] = (0.0, 0.01),
        length: tuple[float, float] = (0.3, 1.0),
    ) -> None:
        unknown = [s for s in sources if s not in SOURCES]
        if unknown or not sources:
            raise InputError(
                f"unknown image sources {unknown or list(sources)}; choose from {', '.join(SOURCES)}"
            )
        self.size, self.crop, self.noise, self.length = size, crop, noise, length
        self.photos: list[torch.Tensor] = []
        if "photos" in sources:
            try:
                from deblur.data.photos import skimage_photos

                latent = crop + size - 1
                self.photos = [p for p in skimage_photos().values() if min(p.shape[-2:]) >= latent]
            except InputError:  # scikit-image is optional
                self.photos = []
        self.sources = tuple(s for s in sources if s != "photos" or self.photos)

    def describe(self) -> str:
        """One line for a weight card."""
        lo, hi = self.length
        return (
            f"{self.crop} px gray crops of {', '.join(self.sources)}, 'valid' blur by camera-shake kernels "
            f"(path length U({lo}, {hi}) x {self.size} px), Gaussian noise sigma U{tuple(self.noise)}"
        )

    def _photo_crop(self, side: int, g: torch.Generator) -> torch.Tensor:
        im = self.photos[int(torch.randint(len(self.photos), (1,), generator=g))]
        top = int(torch.randint(im.shape[-2] - side + 1, (1,), generator=g))
        left = int(torch.randint(im.shape[-1] - side + 1, (1,), generator=g))
        crop = im[..., top : top + side, left : left + side]
        flips = [d for d, f in zip((-2, -1), torch.rand(2, generator=g).tolist(), strict=True) if f < 0.5]
        return crop.flip(flips) if flips else crop

    def sharp(self, n: int, g: torch.Generator) -> torch.Tensor:
        """``n`` sharp latents ``(n, 1, crop + size - 1, crop + size - 1)``."""
        side = self.crop + self.size - 1
        out = []
        for pick in torch.randint(len(self.sources), (n,), generator=g).tolist():
            source = self.sources[pick]
            if source == "photos":
                out.append(self._photo_crop(side, g))
            else:
                out.append((dead_leaves if source == "dead_leaves" else text_image)(side, g))
        return torch.cat(out)

    def triples(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(blurry, kernels, sharp)``: ``n`` blurry crops, their kernels and the sharp crops aligned
        pixel for pixel with them (the latents' centres)."""
        from deblur.kernels import motion_kernel

        x = self.sharp(n, g)
        k = motion_kernel(self.size, n=n, generator=g, length_range=self.length)
        lo, hi = self.noise
        sigma = lo + (hi - lo) * torch.rand(n, generator=g)
        blurry = blur_image(x, k, noise_sigma=sigma, boundary="valid", generator=g)
        half = self.size // 2
        return blurry, k, x[..., half : half + self.crop, half : half + self.crop]

    def batch(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh batch of ``n`` (blurry crop, kernel) pairs."""
        blurry, k, _ = self.triples(n, g)
        return blurry, k
