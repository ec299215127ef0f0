r"""The Deep Image Prior "skip" hourglass generator, with the random layers of DIP-MC.

Ulyanov, Vedaldi, Lempitsky, "Deep Image Prior", CVPR 2018 (the skip network, as used by SelfDeblur,
Ren et al. CVPR 2020): level ``i`` down-samples with a stride-2 convolution, recurses, up-samples
bilinearly and concatenates a 1x1 "skip" projection of its own input, each convolution followed by
batch normalisation and a LeakyReLU; a 1x1 convolution and a sigmoid make the image.

DIP-MC (Sec. 2.1, Eq. 19) turns it into a sampler of the image prior,
:math:`x = G_x(z + \epsilon;\, \theta, M)` with :math:`\epsilon \sim \mathcal{N}(0, \sigma_0^2 I)` added to
the fixed input and Bernoulli dropout masks :math:`M \sim \mathcal{B}(p_0)` before each up-sampling
of the decoder. Both are attributes (``input_noise`` = :math:`\sigma_0`, ``dropout`` = :math:`p_0`)
that a schedule may change between iterations; both draw from the ``generator`` given to ``forward``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deblur.nn.blocks import ConvBlock

__all__ = ["DIPGenerator", "dip_input"]


def _rand(
    shape: torch.Size, like: torch.Tensor, generator: torch.Generator | None, normal: bool
) -> torch.Tensor:
    device = generator.device if generator is not None else like.device
    draw = torch.randn if normal else torch.rand
    return draw(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def dip_input(
    channels: int,
    size: tuple[int, int],
    generator: torch.Generator | None = None,
    *,
    scale: float = 0.1,
    kind: str = "uniform",
) -> torch.Tensor:
    """The fixed network input ``z`` (1, channels, H, W): ``U(0, scale)`` (DIP-MC) or ``N(0, scale^2)``."""
    if kind not in ("uniform", "normal"):
        raise ValueError(f"kind must be 'uniform' or 'normal', got {kind!r}")
    device = generator.device if generator is not None else None
    draw = torch.rand if kind == "uniform" else torch.randn
    return draw(1, channels, *size, generator=generator, device=device) * scale


class _Level(nn.Module):
    def __init__(self, in_ch: int, down: int, deeper: int, up: int, skip: int, **conv) -> None:
        super().__init__()
        self.skip = ConvBlock(in_ch, skip, kernel_size=1, layers=1, **conv) if skip else None
        self.down = ConvBlock(in_ch, down, stride=2, **conv)
        self.up = nn.Sequential(
            nn.BatchNorm2d(skip + deeper),
            ConvBlock(skip + deeper, up, layers=1, **conv),
            ConvBlock(up, up, kernel_size=1, layers=1, **conv),
        )


class DIPGenerator(nn.Module):
    """Skip hourglass ``(B, in_ch, H, W) -> (B, out_ch, H, W)`` in (0, 1), any ``H, W``.

    Args:
        in_ch, out_ch: channels of the input code ``z`` and of the image.
        channels_down: channels of each level's down path (its length is the number of levels).
        channels_up: channels of each level's up path (default: ``channels_down``).
        skip_channels: channels of each level's skip connection (int for all levels; 0 turns it off).
        negative_slope: LeakyReLU slope (DIP: 0.2, DIP-MC: 0.1).
        padding_mode: convolution padding (``"reflect"`` as in DIP).
        dropout: DIP-MC dropout rate :math:`p_0` before each up-sampling.
        input_noise: DIP-MC input noise std :math:`\\sigma_0`.

    The defaults are small (CPU friendly); SelfDeblur / DIP-MC use ``channels_down=(128,) * 5`` and
    ``skip_channels=16``.
    """

    def __init__(
        self,
        in_ch: int = 8,
        out_ch: int = 1,
        channels_down: Sequence[int] = (16, 32, 64, 64, 128),
        channels_up: Sequence[int] | None = None,
        skip_channels: int | Sequence[int] = 4,
        *,
        negative_slope: float = 0.2,
        padding_mode: str = "reflect",
        dropout: float = 0.0,
        input_noise: float = 0.0,
    ) -> None:
        super().__init__()
        down = list(channels_down)
        up = list(channels_up) if channels_up is not None else down
        skips = [skip_channels] * len(down) if isinstance(skip_channels, int) else list(skip_channels)
        if not down or len(up) != len(down) or len(skips) != len(down):
            raise ValueError("channels_down, channels_up and skip_channels need one entry per level")
        conv = dict(norm="batch", act="leaky", negative_slope=negative_slope, padding_mode=padding_mode)
        ins = [in_ch, *down[:-1]]
        deeper = [*up[1:], down[-1]]
        self.levels = nn.ModuleList(
            _Level(ins[i], down[i], deeper[i], up[i], skips[i], **conv) for i in range(len(down))
        )
        self.head = nn.Conv2d(up[0], out_ch, 1)
        self.dropout = dropout
        self.input_noise = input_noise

    def forward(
        self, z: torch.Tensor, *, generator: torch.Generator | None = None, stochastic: bool | None = None
    ) -> torch.Tensor:
        """Map ``z`` to an image; ``stochastic`` (default ``self.training``) draws Eq. 19's noise, masks."""
        random = self.training if stochastic is None else stochastic
        h = z
        if random and self.input_noise > 0:
            h = h + self.input_noise * _rand(h.shape, h, generator, normal=True)
        skips, sizes = [], []
        for level in self.levels:
            skips.append(level.skip(h) if level.skip is not None else None)
            sizes.append(h.shape[-2:])
            h = level.down(h)
        for level, s, size in zip(reversed(self.levels), reversed(skips), reversed(sizes), strict=True):
            if random and self.dropout > 0:
                keep = _rand(h.shape, h, generator, normal=False) >= self.dropout
                h = h * keep / (1.0 - self.dropout)
            h = F.interpolate(h, size=size, mode="bilinear", align_corners=False)
            h = level.up(h if s is None else torch.cat([s, h], 1))
        return torch.sigmoid(self.head(h))
