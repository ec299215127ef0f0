r"""The kernel estimation network with uncertainty (Sec. 3.2, Eq. 4-6): blurry image -> kernel field.

A CNN :math:`G` reads the standardised gray observation and predicts, for every kernel position, a
latent code :math:`z \in \mathbb R^L` (``L = s^2``; bounded softly, :data:`CODE_BOUND`) and its standard
deviation :math:`\sigma \in (0, 1)^L`.
The code is perturbed as in Eq. 5-6, :math:`\hat z = \sqrt{1 - \sigma^2} z + \sigma \epsilon`,
:math:`\epsilon \sim \mathcal N(0, I)`, when training (``sample=True``); inference takes the identity
component :math:`\bar z = \sqrt{1 - \sigma^2} z` (the mean of :math:`\hat z`). The frozen flow decodes
each code into a kernel (Eq. 3), :math:`k = f_\theta(\hat z)`.

Where the kernels live (``EstimatorConfig.mode``):

- ``"pixel"`` (the paper, ``paper`` preset): one code per pixel, ``Z_K in R^{L x H x W}``; the features
  are upsampled to the image and every pixel's code is decoded, a per-pixel field.
- ``"grid"`` (the CPU preset; **not the paper's layout**): one code per cell of a grid with cells of about
  ``cell`` px (at most ``max_grid`` per side), the features average-pooled over each cell; the field is
  those kernels blended bilinearly (core's basis operator, :func:`deblur.operators.grid_blur`), ``Gh * Gw``
  flow decodes instead of ``H * W``.

Ablations of Table 4 (``head``/``uncertainty``): ``head="direct"`` predicts each kernel's taps by a
softmax instead of a flow code (the paper's "baseline"); ``uncertainty=False`` drops the sigma branch
and the noise (a deterministic code).

The field has the layout of :mod:`deblur.operators.spatially_varying`: ``(B, L, Gh, Gw)``, channel
``a * s + b`` holding tap ``k[a, b]`` (true convolution, filter-then-mask), on the observation's grid.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deblur.errors import InputError
from deblur_ufp.flow import KernelFlow

__all__ = ["HEADS", "MODES", "EstimatorConfig", "FieldEstimate", "KernelEstimator", "grid_shape"]

MODES = ("grid", "pixel")
#: The codes are bounded softly, ``|z| < 3`` (``3 tanh(. / 3)``): the flow's latents of real kernels are
#: standard normal, and an unbounded code makes the inverse flow overflow.
CODE_BOUND = 3.0
#: ``sigma < 0.999``: at ``sigma = 1`` the gradient of ``sqrt(1 - sigma^2)`` is infinite.
SIGMA_BOUND = 0.999
HEADS = ("flow", "direct")


@dataclass(frozen=True)
class EstimatorConfig:
    """Architecture of :class:`KernelEstimator`.

    Attributes:
        size: kernel support (the flow's size).
        widths: channels of the encoder's levels (each after a stride-2 step but the first).
        mode: ``"grid"`` or ``"pixel"`` (module docstring).
        cell: grid mode's target cell side in px.
        max_grid: grid mode's largest number of cells per side.
        head: ``"flow"`` (codes decoded by the flow) or ``"direct"`` (softmax taps, Table 4's baseline).
        uncertainty: predict sigma and perturb the codes (Eq. 5-6).
    """

    size: int
    widths: tuple[int, ...] = (32, 64, 96, 128, 128)
    mode: str = "grid"
    cell: int = 32
    max_grid: int = 8
    head: str = "flow"
    uncertainty: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"estimator mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.head not in HEADS:
            raise InputError(f"estimator head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.head == "direct" and self.uncertainty:
            raise InputError("the direct kernel head has no latent code to perturb: use uncertainty=false")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["widths"] = list(self.widths)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> EstimatorConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})


def grid_shape(shape: tuple[int, int], cell: int, max_grid: int) -> tuple[int, int]:
    """Cells per side for an ``H x W`` image: about ``cell`` px each, between 1 and ``max_grid``."""
    return tuple(min(max_grid, max(1, round(n / cell))) for n in shape)  # type: ignore[return-value]


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.GELU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@dataclass
class FieldEstimate:
    """What the estimator returns: the kernel field ``(B, L, Gh, Gw)``, sigma on the same grid (or
    ``None`` without the uncertainty branch) and the codes the flow decoded (``None`` for ``direct``)."""

    field: torch.Tensor
    sigma: torch.Tensor | None
    codes: torch.Tensor | None


class KernelEstimator(nn.Module):
    """:math:`G`: observation ``(B, 1, H, W)`` -> :class:`FieldEstimate`; see the module docstring."""

    def __init__(self, config: EstimatorConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        levels: list[nn.Module] = [nn.Sequential(nn.Conv2d(1, w[0], 3, padding=1), nn.GELU(), ResBlock(w[0]))]
        for a, b in itertools.pairwise(w):
            levels.append(nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.GELU(), ResBlock(b)))
        self.levels = nn.ModuleList(levels)
        L = config.size**2
        self.head = nn.Conv2d(w[-1], 2 * L if config.uncertainty else L, 1)
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()

    def features(self, y: torch.Tensor) -> torch.Tensor:
        x = (y - y.mean((-2, -1), keepdim=True)) / y.std((-2, -1), keepdim=True).clamp_min(1e-3)
        for level in self.levels:
            x = level(x)
        return x

    def forward(
        self,
        y: torch.Tensor,
        flow: KernelFlow | None,
        *,
        sample: bool = False,
        generator: torch.Generator | None = None,
        mode: str | None = None,
    ) -> FieldEstimate:
        """The field of ``y`` (B, 1, H, W); ``sample`` perturbs the codes (Eq. 6) with ``generator``;
        ``mode`` overrides the trained layout (the same weights decode per cell or per pixel)."""
        c = self.config
        mode = c.mode if mode is None else mode
        if mode not in MODES:
            raise InputError(f"estimator mode must be one of {', '.join(MODES)}, got {mode!r}")
        if y.ndim != 4 or y.shape[1] != 1:
            raise InputError(f"the kernel estimator takes (B, 1, H, W) gray images, got {tuple(y.shape)}")
        B, _, H, W = y.shape
        feats = self.features(y)
        if mode == "grid":
            feats = F.adaptive_avg_pool2d(feats, grid_shape((H, W), c.cell, c.max_grid))
        else:
            feats = F.interpolate(feats, size=(H, W), mode="bilinear", align_corners=False)
        out = self.head(feats)
        L, (Gh, Gw) = c.size**2, out.shape[-2:]
        if c.head == "direct":
            return FieldEstimate(torch.softmax(out, 1), None, None)
        if flow is None or flow.size != c.size:
            raise InputError(f"the {c.size} px estimator needs the {c.size} px flow")
        codes = CODE_BOUND * torch.tanh(out[:, :L] / CODE_BOUND)
        sigma = SIGMA_BOUND * torch.sigmoid(out[:, L:]) if c.uncertainty else None
        z = codes
        if sigma is not None:
            z = torch.sqrt(1 - sigma.square()) * codes
            if sample:
                eps = torch.randn(codes.shape, generator=generator, dtype=codes.dtype).to(codes.device)
                z = z + sigma * eps
        flat = z.permute(0, 2, 3, 1).reshape(-1, L)
        kernels = flow.decode(flat)  # (B * Gh * Gw, 1, s, s)
        field = kernels.reshape(B, Gh, Gw, L).permute(0, 3, 1, 2)
        return FieldEstimate(field, sigma, codes)
