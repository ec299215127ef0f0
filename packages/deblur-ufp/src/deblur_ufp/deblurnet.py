r"""The deblurring network with the multi-scale kernel attention module (Sec. 3.3, Eq. 7).

A NAFNet-style U-Net (Chen et al., Simple Baselines for Image Restoration, ECCV 2022: NAF blocks of
layer norm, point-wise and depth-wise convolutions, a simple gate and simplified channel attention, no
non-linear activations) whose every encoder level starts with a **kernel attention module** (KAM):

.. math:: F_{att} = \mathrm{Conv}_3([\mathrm{Conv}_1(X), \mathrm{Conv}_2(K)]), \qquad
          f(X) = F_{att} \odot \mathrm{Conv}_1(X) + X

with ``K in R^{L x H x W}`` the per-pixel kernels of the estimator. ``Conv_2`` is a 1x1 convolution, so on
a field given on a coarse grid (the CPU preset) it is applied to the grid's kernels and then
interpolated bilinearly, which equals applying it to the interpolated per-pixel field; the deeper
levels take the field at their stride (the paper's "different convolution strides"). The network
predicts a residual added to the blurry input, one channel at a time (a colour image is a batch of
its channels sharing one field).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deblur.errors import InputError

__all__ = ["DeblurConfig", "DeblurNet"]


@dataclass(frozen=True)
class DeblurConfig:
    """Architecture of :class:`DeblurNet`.

    Attributes:
        size: kernel support of the fields it reads (``L = size^2`` taps).
        width: channels of the first level (doubling per level).
        enc_blocks: NAF blocks per encoder level (one level per entry).
        middle_blocks: NAF blocks at the bottom.
        dec_blocks: NAF blocks per decoder level.
    """

    size: int
    width: int = 16
    enc_blocks: tuple[int, ...] = (1, 1, 2)
    middle_blocks: int = 2
    dec_blocks: tuple[int, ...] = (1, 1, 1)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["enc_blocks"], out["dec_blocks"] = list(self.enc_blocks), list(self.dec_blocks)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> DeblurConfig:
        return cls(**{**d, "enc_blocks": tuple(d["enc_blocks"]), "dec_blocks": tuple(d["dec_blocks"])})


class LayerNorm2d(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).square().mean(1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-6) * self.weight[:, None, None] + self.bias[:, None, None]


class NAFBlock(nn.Module):
    """NAFNet's block: gated depth-wise convolution with channel attention, then a gated feed-forward."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.dw = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.sca = nn.Conv2d(c, c, 1)
        self.conv2 = nn.Conv2d(c, c, 1)
        self.ffn1, self.ffn2 = nn.Conv2d(c, 2 * c, 1), nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dw(self.conv1(self.norm1(x))).chunk(2, 1)
        h = a * b
        h = self.conv2(h * self.sca(h.mean((-2, -1), keepdim=True)))
        x = x + self.beta * h
        a, b = self.ffn1(self.norm2(x)).chunk(2, 1)
        return x + self.gamma * self.ffn2(a * b)


class KernelAttention(nn.Module):
    """Eq. 7: ``f(X) = Conv3([Conv1(X), Conv2(K)]) * Conv1(X) + X`` (see the module docstring)."""

    def __init__(self, c: int, taps: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(taps, c, 1)
        self.conv3 = nn.Conv2d(2 * c, c, 3, padding=1)

    def forward(self, x: torch.Tensor, field: torch.Tensor, extent: tuple[int, int]) -> torch.Tensor:
        """``x`` (B, c, h, w), whose top-left ``extent`` is the image (the rest: padding to the stride)."""
        k = self.conv2(field)  # 1x1: on the grid, then interpolated (exact for a bilinear field)
        if k.shape[-2:] != x.shape[-2:]:
            k = F.interpolate(k, size=extent, mode="bilinear", align_corners=False)
            pad = (0, x.shape[-1] - extent[1], 0, x.shape[-2] - extent[0])
            k = F.pad(k, pad, mode="replicate") if any(pad) else k
        if k.shape[0] != x.shape[0]:
            k = k.expand(x.shape[0], -1, -1, -1)
        f1 = self.conv1(x)
        return self.conv3(torch.cat([f1, k], 1)) * f1 + x


class DeblurNet(nn.Module):
    """``x = y + N(y, K)`` for blurry images ``(B, 1, H, W)`` and their fields ``(1 | B, L, Gh, Gw)``."""

    def __init__(self, config: DeblurConfig) -> None:
        super().__init__()
        self.config = config
        c, taps = config.width, config.size**2
        self.intro = nn.Conv2d(1, c, 3, padding=1)
        self.attention, self.encoders, self.downs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for n in config.enc_blocks:
            self.attention.append(KernelAttention(c, taps))
            self.encoders.append(nn.Sequential(*(NAFBlock(c) for _ in range(n))))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle = nn.Sequential(*(NAFBlock(c) for _ in range(config.middle_blocks)))
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for n in reversed(config.dec_blocks):
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*(NAFBlock(c) for _ in range(n))))
        self.ending = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, y: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
        if y.ndim != 4 or y.shape[1] != 1:
            raise InputError(f"the deblurring network takes (B, 1, H, W) images, got {tuple(y.shape)}")
        if field.shape[1] != self.config.size**2:
            raise InputError(
                f"the deblurring network reads {self.config.size} px fields, got {field.shape[1]} taps"
            )
        H, W = y.shape[-2:]
        m = 2 ** len(self.encoders)
        pad = ((m - H % m) % m, (m - W % m) % m)
        x = F.pad(y, (0, pad[1], 0, pad[0]), mode="reflect") if any(pad) else y
        if field.shape[-2:] == (H, W) and any(pad):
            field = F.pad(field, (0, pad[1], 0, pad[0]), mode="replicate")
        h = self.intro(x)
        skips = []
        for level, (attention, encoder, down) in enumerate(
            zip(self.attention, self.encoders, self.downs, strict=True)
        ):
            extent = (math.ceil(H / 2**level), math.ceil(W / 2**level))
            h = encoder(attention(h, field, extent))
            skips.append(h)
            h = down(h)
        h = self.middle(h)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips), strict=True):
            h = decoder(up(h) + skip)
        return (x + self.ending(h))[..., :H, :W]
