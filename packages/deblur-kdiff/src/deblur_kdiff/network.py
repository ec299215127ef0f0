r"""The conditional kernel denoiser :math:`\epsilon_\theta(k_t, y, t)` (Sec. 3.3, Eq. 17).

The paper's U-Net has two encoders, one for the kernel and one for the 256 px blurry image, whose
features are concatenated (the kernel's upscaled 4x) before a shared decoder. Ours keeps the two
branches and fuses the image at every level of the kernel U-Net, but makes the image branch's output
live on the kernel's grid:

- **image branch** (:class:`ObservationEncoder`): a small CNN maps the standardised observation to
  ``features`` channels; the normalised autocorrelation of each channel over lags up to the kernel's
  size is the condition. Blur acts on autocorrelations by the kernel's own autocorrelation
  (:math:`A_{k * f} = (k \star k) * A_f`), so this map is aligned with the kernel, shift invariant,
  independent of the image size (one network for a 128 px training crop and a 1000 px photo) and
  computed once per image, not once per reverse step. The central ``size x size`` lags and the whole
  ``(2 size - 1)`` window average-pooled to ``size`` are stacked.
- **kernel U-Net** (:class:`KernelDenoiser`): residual blocks with GroupNorm and SiLU and the time
  embedding added in every block (Ho et al. 2020); each level concatenates the condition, pooled to its
  resolution, to its input.

The paper's design needs the 256 px image branch and a GPU; this one trains on one CPU core within an
hour (``fast``) and is the same network at the paper's widths (``paper``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deblur.nn.embeddings import SinusoidalTimeEmbedding
from deblur_kdiff.store import STORE

__all__ = ["DenoiserConfig", "KernelDenoiser", "ObservationEncoder", "load_denoiser"]


@dataclass(frozen=True)
class DenoiserConfig:
    """Architecture of :class:`KernelDenoiser`.

    Attributes:
        size: kernel support (odd).
        widths: channels of the kernel U-Net's levels, top to bottom.
        features: channels of the image branch (each gives one autocorrelation map).
        time_dim: size of the sinusoidal time embedding.
        blocks: residual blocks per level and direction.
    """

    size: int
    widths: tuple[int, ...] = (32, 64, 128)
    features: int = 16
    time_dim: int = 64
    blocks: int = 1

    def as_dict(self) -> dict:
        out = asdict(self)
        out["widths"] = list(self.widths)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> DenoiserConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ObservationEncoder(nn.Module):
    """Blurry gray images (B, 1, H, W) -> condition maps (B, 2 * features, size, size)."""

    def __init__(self, size: int, features: int) -> None:
        super().__init__()
        self.size = size
        self.net = nn.Sequential(
            nn.Conv2d(1, features, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(features, features, 3, padding=1),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        s = self.size
        mean = y.mean((-2, -1), keepdim=True)
        std = y.std((-2, -1), keepdim=True).clamp_min(1e-3)
        f = self.net((y - mean) / std)
        f = f - f.mean((-2, -1), keepdim=True)
        H, W = f.shape[-2:]
        spec = torch.fft.rfft2(f, s=(H + s, W + s))
        auto = torch.fft.irfft2(spec.abs().square(), s=(H + s, W + s))
        auto = torch.fft.fftshift(auto, dim=(-2, -1))
        cy, cx = (H + s) // 2, (W + s) // 2
        window = auto[..., cy - s + 1 : cy + s, cx - s + 1 : cx + s]  # lags -(s-1) .. s-1
        window = window / window[..., s - 1 : s, s - 1 : s].clamp_min(1e-8)
        half = s // 2
        centre = window[..., s - 1 - half : s + half, s - 1 - half : s + half]
        whole = F.adaptive_avg_pool2d(window, s)
        return torch.cat([centre, whole], 1)


class _Block(nn.Module):
    """Residual block with the time embedding added after the first convolution."""

    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.n1, self.c1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(emb, cout)
        self.n2, self.c2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x))) + self.t(emb)[:, :, None, None]
        return self.c2(F.silu(self.n2(h))) + self.skip(x)


class KernelDenoiser(nn.Module):
    """:math:`\\epsilon_\\theta(u_t, y, t)`: ``forward(u_t (B, 1, s, s), t (B,), cond)`` -> noise like u_t.

    ``cond`` is :meth:`condition` of the observation, (1 or B, 2 * features, s, s); computing it once per
    image and reusing it over the reverse steps is what :func:`~deblur_kdiff.sampler.reverse` does.
    """

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        self.config = config
        c, e = config.features * 2, config.time_dim * 4
        self.encoder = ObservationEncoder(config.size, config.features)
        self.time = nn.Sequential(
            SinusoidalTimeEmbedding(config.time_dim),
            nn.Linear(config.time_dim, e),
            nn.SiLU(),
            nn.Linear(e, e),
        )
        w = config.widths
        self.head = nn.Conv2d(1, w[0], 3, padding=1)
        self.down = nn.ModuleList()
        for i, width in enumerate(w):
            cin = w[max(i - 1, 0)] + c
            self.down.append(
                nn.ModuleList(_Block(cin if b == 0 else width, width, e) for b in range(config.blocks))
            )
        self.up = nn.ModuleList()
        for i in reversed(range(len(w) - 1)):
            cin = w[i + 1] + w[i] + c
            self.up.append(
                nn.ModuleList(_Block(cin if b == 0 else w[i], w[i], e) for b in range(config.blocks))
            )
        self.out = nn.Sequential(_norm(w[0]), nn.SiLU(), nn.Conv2d(w[0], 1, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def condition(self, y: torch.Tensor) -> torch.Tensor:
        """The image branch's output for blurry gray images ``y`` (B, 1, H, W)."""
        return self.encoder(y)

    def forward(self, u: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        emb = self.time(t.float())
        cond = cond.expand(u.shape[0], -1, -1, -1)
        h = self.head(u)
        skips = []
        for i, blocks in enumerate(self.down):
            if i > 0:
                h = F.avg_pool2d(h, 2, ceil_mode=True)
            h = torch.cat([h, F.adaptive_avg_pool2d(cond, h.shape[-2:])], 1)
            for block in blocks:
                h = block(h, emb)
            skips.append(h)
        for blocks, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = torch.cat([h, skip, F.adaptive_avg_pool2d(cond, h.shape[-2:])], 1)
            for block in blocks:
                h = block(h, emb)
        return self.out(h)


def load_denoiser(
    size: int, path: str | Path | None = None, device: torch.device | str = "cpu"
) -> tuple[KernelDenoiser, dict[str, Any]]:
    """The denoiser for ``size`` px kernels (shipped, or the weight stem ``path``), frozen, eval mode.

    Raises:
        WeightsError: no weights for ``size``, or a missing, corrupt or mismatching file (the message
            names the file and the command that recreates it).
    """

    def build(arch: dict[str, Any]) -> KernelDenoiser:
        return KernelDenoiser(DenoiserConfig.from_dict(arch))

    return STORE.load_network("diffusion", size, build, path, device)
