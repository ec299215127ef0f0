r"""Spatially varying blur: random kernel fields, blurred training crops and a seeded benchmark set.

A field here is a grid of kernels (``(1, s * s, Gh, Gw)``, the layout of
:mod:`deblur.operators.spatially_varying`: the kernel at each cell's centre, bilinear in between),
applied in filter-then-mask order with the ``valid`` boundary (:func:`deblur.operators.grid_blur`).
Three kinds (:data:`KINDS`), drawn by :func:`random_field`:

- ``"camera"``: one exposure of a shaking camera that also rolls. A translation path ``T(t)``
  (:func:`deblur.kernels.camera_trajectory`) and an in-plane rotation ``theta(t)`` (a second
  trajectory's coordinate, scaled so the rotation moves the image's corners by up to ``rotation`` times
  the kernel's half support) displace the point ``p`` (relative to the image centre) by
  ``T(t) + (R(theta(t)) - I) p``; each grid cell's kernel is that path, splatted, centred by its mean.
  All cells share one shrink so that the widest path fits the support.
- ``"mixed"``: two to four camera-shake kernels blended by smooth random masks (a softmax of bilinearly
  upsampled 3x3 random logits), e.g. objects that moved differently.
- ``"uniform"``: one kernel everywhere (a quarter of the draws by default), so a method trained on these
  is not biased against uniform blur.

Every draw comes from one ``torch.Generator``: the same state gives the same fields and images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from deblur.data.synthetic import SOURCES, BlurredCrops
from deblur.errors import InputError
from deblur.kernels.generators import camera_trajectory, motion_kernel, splat

__all__ = [
    "KINDS",
    "SVBlurredCrops",
    "SVCase",
    "blur_field",
    "camera_field",
    "mixed_field",
    "random_field",
    "sv_cases",
    "uniform_field",
]

KINDS = ("camera", "mixed", "uniform")
#: Probabilities of the kinds in :func:`random_field`: a quarter uniform.
KIND_WEIGHTS = (0.375, 0.375, 0.25)
STEPS = 500


def _cell_centres(grid: tuple[int, int], shape: tuple[int, int]) -> torch.Tensor:
    """``(Gh * Gw, 2)`` cell centres (row, col), relative to the image centre, in pixels."""
    from deblur.fields import cell_centres

    return cell_centres(grid, shape) - torch.tensor([shape[0] - 1, shape[1] - 1], dtype=torch.float64) / 2


def _as_field(kernels: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``(Gh * Gw, 1, s, s)`` kernels -> a field ``(1, s * s, Gh, Gw)``."""
    return kernels.flatten(1).T.reshape(1, -1, *grid).float().contiguous()


def _check(size: int, grid: tuple[int, int]) -> None:
    if size < 3 or size % 2 == 0:
        raise InputError(f"kernel size must be an odd integer >= 3, got {size}")
    if len(grid) != 2 or min(grid) < 1:
        raise InputError(f"the kernel grid must be two positive integers, got {grid}")


def camera_field(
    size: int,
    grid: tuple[int, int],
    shape: tuple[int, int],
    g: torch.Generator,
    *,
    length: tuple[float, float] = (0.3, 1.0),
    rotation: tuple[float, float] = (0.3, 1.0),
) -> torch.Tensor:
    """A shaking, rolling camera's field ``(1, size^2, *grid)`` over an image of ``shape`` (module doc)."""
    _check(size, grid)
    u = torch.rand(3, generator=g, dtype=torch.float64)
    travel = (length[0] + (length[1] - length[0]) * u[0]) * size
    anxiety = 5e-4 * 20.0 ** u[1]
    paths = camera_trajectory(2, STEPS, torch.stack([travel, travel]), anxiety.expand(2), g)
    shift = paths[0]
    roll = paths[1, :, 0] - paths[1, :, 0].mean()
    corner = math.hypot(*shape) / 2
    theta = roll / roll.abs().max().clamp_min(1e-12) * (rotation[0] + (rotation[1] - rotation[0]) * u[2])
    theta = theta * (size / 2) / corner
    p = _cell_centres(grid, shape)  # (P, 2)
    cos, sin = torch.cos(theta)[None, :], torch.sin(theta)[None, :]
    r, c = p[:, :1], p[:, 1:]
    moved = torch.stack([cos * r - sin * c - r, sin * r + cos * c - c], -1)  # (P, T, 2)
    points = shift[None] + moved
    points = points - points.mean(1, keepdim=True)
    reach = points.abs().amax().clamp_min(1e-12)
    points = points * min(1.0, (size // 2 - 1) / float(reach)) + size // 2
    return _as_field(splat(points, size), grid)


def mixed_field(
    size: int, grid: tuple[int, int], g: torch.Generator, *, length: tuple[float, float] = (0.3, 1.0)
) -> torch.Tensor:
    """Two to four camera-shake kernels blended by smooth random masks: a field ``(1, size^2, *grid)``."""
    _check(size, grid)
    n = int(torch.randint(2, 5, (1,), generator=g))
    kernels = motion_kernel(size, n=n, generator=g, length_range=length, steps=STEPS)
    logits = 4 * torch.randn(1, n, 3, 3, generator=g)
    masks = torch.softmax(torch.nn.functional.interpolate(logits, size=grid, mode="bilinear"), 1)
    return torch.einsum("kl,khw->lhw", kernels.flatten(1), masks[0])[None].contiguous()


def uniform_field(
    size: int, grid: tuple[int, int], g: torch.Generator, *, length: tuple[float, float] = (0.3, 1.0)
) -> torch.Tensor:
    """One camera-shake kernel at every grid cell: a field ``(1, size^2, *grid)``."""
    _check(size, grid)
    k = motion_kernel(size, generator=g, length_range=length, steps=STEPS)
    return k.flatten(1)[:, :, None, None].expand(-1, -1, *grid).contiguous()


def _check_kinds(kinds: Sequence[str]) -> None:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise InputError(f"unknown field kinds {unknown or list(kinds)}; choose from {', '.join(KINDS)}")


def random_field(
    size: int,
    grid: tuple[int, int],
    shape: tuple[int, int],
    g: torch.Generator,
    *,
    length: tuple[float, float] = (0.3, 1.0),
    kinds: Sequence[str] = KINDS,
) -> tuple[torch.Tensor, str]:
    """``(field, kind)``: a field of one of ``kinds``, drawn with :data:`KIND_WEIGHTS` (renormalised)."""
    _check_kinds(kinds)
    weights = torch.tensor([KIND_WEIGHTS[KINDS.index(k)] for k in kinds])
    kind = kinds[int(torch.multinomial(weights, 1, generator=g))]
    if kind == "camera":
        return camera_field(size, grid, shape, g, length=length), kind
    if kind == "mixed":
        return mixed_field(size, grid, g, length=length), kind
    return uniform_field(size, grid, g, length=length), kind


def blur_field(
    x: torch.Tensor, field: torch.Tensor, noise_sigma: float | torch.Tensor, g: torch.Generator
) -> torch.Tensor:
    """``valid`` filter-then-mask blur of latents ``x`` (1, C, H + s - 1, W + s - 1) by ``field`` (on the
    observation's grid) plus Gaussian noise: the observation (1, C, H, W)."""
    from deblur.operators import grid_blur

    s = math.isqrt(field.shape[1])
    shape = (x.shape[-2] - s + 1, x.shape[-1] - s + 1)
    y = grid_blur(field.to(x), shape)(x)
    return y + torch.as_tensor(noise_sigma, dtype=x.dtype) * torch.randn(y.shape, generator=g, dtype=x.dtype)


class SVBlurredCrops(BlurredCrops):
    """Training batches of gray crops blurred by random kernel fields on a ``grid`` (module doc).

    The sharp sources, noise and path lengths are those of :class:`~deblur.data.BlurredCrops`.
    """

    def __init__(
        self,
        size: int,
        crop: int,
        *,
        grid: tuple[int, int] = (4, 4),
        sources: Sequence[str] = SOURCES,
        noise: tuple[float, float] = (0.0, 0.01),
        length: tuple[float, float] = (0.3, 1.0),
        kinds: Sequence[str] = KINDS,
    ) -> None:
        super().__init__(size, crop, sources=sources, noise=noise, length=length)
        _check(size, grid)
        self.grid, self.kinds = (int(grid[0]), int(grid[1])), tuple(kinds)
        _check_kinds(self.kinds)

    def describe(self) -> str:
        return (
            f"{super().describe()}; spatially varying: {'/'.join(self.kinds)} fields on a "
            f"{self.grid[0]}x{self.grid[1]} kernel grid (filter-then-mask)"
        )

    def latents(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(blurry, fields, latents)``: ``n`` blurry crops, their fields ``(n, size^2, Gh, Gw)`` and the
        sharp latents ``(n, 1, crop + size - 1, crop + size - 1)`` they were blurred from ('valid')."""
        x = self.sharp(n, g)
        lo, hi = self.noise
        sigma = lo + (hi - lo) * torch.rand(n, generator=g)
        fields, blurry = [], []
        for i in range(n):
            shape = (self.crop, self.crop)
            field, _ = random_field(self.size, self.grid, shape, g, length=self.length, kinds=self.kinds)
            fields.append(field)
            blurry.append(blur_field(x[i : i + 1], field, sigma[i], g))
        return torch.cat(blurry), torch.cat(fields), x

    def triples(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(blurry, fields, sharp)``: as :meth:`latents`, the sharp crops aligned with the blurry ones."""
        blurry, fields, x = self.latents(n, g)
        half = self.size // 2
        return blurry, fields, x[..., half : half + self.crop, half : half + self.crop]

    def batch(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        blurry, fields, _ = self.triples(n, g)
        return blurry, fields


@dataclass
class SVCase:
    """One case of the spatially varying benchmark: observation, sharp reference (aligned with it), true
    field, kind and the sharp latent it was blurred from (``valid``: larger by ``s - 1``)."""

    name: str
    blurry: torch.Tensor
    sharp: torch.Tensor
    field: torch.Tensor
    kind: str
    latent: torch.Tensor


SV_SIZE = 255
SV_KERNEL = 31
SV_GRID = (8, 8)
SV_NOISE = 0.01
SV_SEED = 2023


def sv_cases(n: int, kernel_size: int = SV_KERNEL) -> list[SVCase]:
    """The first ``n`` cases of the seeded spatially varying benchmark (``synthetic-sv:N``).

    255x255 gray observations of dead leaves, text and scikit-image's photos (when installed), in turn;
    each blurred ``valid`` by its own field of ``kernel_size`` px kernels on an 8x8 grid (kinds drawn as in
    :func:`random_field`, path lengths ``U(0.3, 1) x kernel_size``), plus 1% Gaussian noise. Seed 2023,
    none of the training seeds.
    """
    from deblur.crops import centre_crop
    from deblur.data.procedural import dead_leaves, text_image

    if n < 1:
        raise InputError(f"synthetic-sv:N needs a positive N, got {n}")
    g = torch.Generator().manual_seed(SV_SEED)
    latent = SV_SIZE + kernel_size - 1
    try:
        from deblur.data.photos import skimage_photos

        photos = [p for p in skimage_photos().values() if min(p.shape[-2:]) >= latent]
    except InputError:
        photos = []
    cases = []
    for i in range(n):
        turn = i % (3 if photos else 2)
        if turn == 2:
            x = centre_crop(photos[(i // 3) % len(photos)], (latent, latent)).contiguous()
        else:
            x = (dead_leaves if turn == 0 else text_image)(latent, g)
        field, kind = random_field(kernel_size, SV_GRID, (SV_SIZE, SV_SIZE), g)
        y = blur_field(x, field, SV_NOISE, g)
        half = kernel_size // 2
        sharp = x[..., half : half + SV_SIZE, half : half + SV_SIZE].contiguous()
        cases.append(SVCase(f"sv{i:03d}-{kind}", y, sharp, field, kind, x))
    return cases
