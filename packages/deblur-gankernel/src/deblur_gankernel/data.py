r"""Training data made on the fly: motion kernels (Sec. 3.3) and blurred gray crops (Sec. 3.4).

Kernels are camera-shake trajectories (core's :func:`deblur.kernels.camera_trajectory`, Boracchi & Foi
2012) rendered by bilinear splatting, as :func:`deblur.kernels.motion_kernel` does, but with a path
length drawn per kernel from ``length`` (fractions of the support) so that one generator covers short
and long blurs: the size of a GAN is an upper bound that users choose, and the kernels of the Levin set
(13 to 27 px) must live in the 31 px model. Each trajectory is centred (its mean on
``(size // 2, size // 2)``, which puts the kernel's centre of mass there) and shrunk about that centre
if it does not fit the support with a one-pixel margin.

Blurred crops pair sharp images (dead leaves, rendered text and, when scikit-image is installed, random
crops of its photos; :mod:`deblur.data`) with such kernels: "valid" blur (the crop is the part of
``k * x`` that the latent determines), plus Gaussian noise of a standard deviation drawn per crop.
Everything draws from one ``torch.Generator``: the same state gives the same batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deblur.data import blur_image, dead_leaves, text_image
from deblur.errors import InputError
from deblur.kernels import camera_trajectory, splat

__all__ = ["BlurredCrops", "motion_kernels"]

ANXIETY = (5e-4, 1e-2)
"""Shake intensity, log-uniform (as core's :func:`deblur.kernels.motion_kernel`)."""


def motion_kernels(
    size: int,
    n: int,
    generator: torch.Generator,
    *,
    length: tuple[float, float] = (0.3, 1.0),
    steps: int = 2000,
) -> torch.Tensor:
    """``n`` centred camera-shake kernels ``(n, 1, size, size)``, path length ``U(*length) * size``."""
    lo, hi = length
    if not 0 < lo <= hi:
        raise InputError(f"kernel length range must satisfy 0 < low <= high, got {length}")
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    lengths = (lo + (hi - lo) * u[:, 0]) * size
    anxiety = ANXIETY[0] * (ANXIETY[1] / ANXIETY[0]) ** u[:, 1]
    path = camera_trajectory(n, steps, lengths, anxiety, generator)
    path = path - path.mean(1, keepdim=True)
    reach = path.abs().amax((1, 2)).clamp_min(1e-12)
    path = path * ((size // 2 - 1) / reach).clamp(max=1.0)[:, None, None] + size // 2
    return splat(path, size).float()


class BlurredCrops:
    """Batches ``(blurry (B, 1, crop, crop), kernels (B, 1, size, size))`` for the initializer.

    Args:
        size: kernel support.
        crop: side of the blurry crops.
        sources: sharp image sources among ``"dead_leaves"``, ``"text"`` and ``"photos"`` (the
            scikit-image photos; left out silently when scikit-image is missing).
        noise: range of the noise standard deviation.
        length: kernel path-length range, as :func:`motion_kernels`.
    """

    def __init__(
        self,
        size: int,
        crop: int,
        *,
        sources: Sequence[str] = ("dead_leaves", "text", "photos"),
        noise: tuple[float, float] = (0.0, 0.01),
        length: tuple[float, float] = (0.3, 1.0),
    ) -> None:
        known = ("dead_leaves", "text", "photos")
        unknown = [s for s in sources if s not in known]
        if unknown or not sources:
            raise InputError(
                f"unknown image sources {unknown or list(sources)}; choose from {', '.join(known)}"
            )
        self.size, self.crop, self.noise, self.length = size, crop, noise, length
        self.photos: list[torch.Tensor] = []
        if "photos" in sources:
            try:
                from deblur.data import skimage_photos

                latent = crop + size - 1
                self.photos = [p for p in skimage_photos().values() if min(p.shape[-2:]) >= latent]
            except InputError:  # scikit-image is optional
                self.photos = []
        self.sources = tuple(s for s in sources if s != "photos" or self.photos)

    def describe(self) -> str:
        """One line for the weight card."""
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

    def batch(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A fresh batch of ``n`` (blurry crop, kernel) pairs."""
        x = self.sharp(n, g)
        k = motion_kernels(self.size, n, g, length=self.length)
        lo, hi = self.noise
        sigma = lo + (hi - lo) * torch.rand(n, generator=g)
        return blur_image(x, k, noise_sigma=sigma, boundary="valid", generator=g), k
