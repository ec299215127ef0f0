"""U-Net encoder/decoder with skip connections (Ronneberger, Fischer, Brox, MICCAI 2015).

Level ``i`` has ``widths[i]`` channels; the encoder halves the size between levels (max pooling), the
decoder doubles it back (bilinear up-sampling to the exact size of the matching encoder level, so any
input size works) and concatenates the encoder features when ``skip`` is on. An optional time
embedding (:class:`~deblur.nn.embeddings.SinusoidalTimeEmbedding` + MLP) adds a per-channel bias after
every block, which makes it a denoiser for diffusion models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deblur.nn.blocks import ConvBlock
from deblur.nn.embeddings import SinusoidalTimeEmbedding

__all__ = ["UNet"]


class UNet(nn.Module):
    """``UNet(in_ch, out_ch, widths=(32, 64, 128))``: ``(B, in_ch, H, W) -> (B, out_ch, H, W)``.

    Args:
        in_ch, out_ch: input and output channels.
        widths: channels per level, top to bottom (the last is the bottleneck).
        skip: concatenate encoder features into the decoder.
        norm, act: see :class:`~deblur.nn.blocks.ConvBlock`.
        time_dim: size of the time embedding; ``forward`` then needs ``t`` (B,).
        out_act: ``None`` (linear output), ``"sigmoid"`` or ``"softmax"`` (over all pixels of each
            channel, e.g. a kernel that is non-negative and sums to 1).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        widths: tuple[int, ...] = (32, 64, 128),
        *,
        skip: bool = True,
        norm: str = "batch",
        act: str = "relu",
        time_dim: int | None = None,
        out_act: str | None = None,
    ) -> None:
        super().__init__()
        if len(widths) < 1 or out_act not in (None, "sigmoid", "softmax"):
            raise ValueError(
                f"need at least one width and out_act None/sigmoid/softmax, got {widths}, {out_act}"
            )
        self.skip, self.out_act = skip, out_act
        block = dict(norm=norm, act=act)
        self.down = nn.ModuleList(
            ConvBlock(in_ch if i == 0 else widths[i - 1], w, **block) for i, w in enumerate(widths)
        )
        self.up = nn.ModuleList(
            ConvBlock(widths[i + 1] + (widths[i] if skip else 0), widths[i], **block)
            for i in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], out_ch, 1)
        self.time = None
        if time_dim:
            self.time = nn.Sequential(
                SinusoidalTimeEmbedding(time_dim), nn.Linear(time_dim, 4 * time_dim), nn.SiLU()
            )
            blocks = [*self.down, *self.up]
            self.time_proj = nn.ModuleList(nn.Linear(4 * time_dim, b[0].out_channels) for b in blocks)

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        emb = None
        if self.time is not None:
            if t is None:
                raise ValueError("this UNet was built with time_dim and needs t")
            emb = self.time(t)
        proj = iter(self.time_proj) if emb is not None else None

        def cond(h: torch.Tensor) -> torch.Tensor:
            return h if proj is None else h + next(proj)(emb)[:, :, None, None]

        feats = []
        for i, block in enumerate(self.down):
            x = cond(block(x if i == 0 else F.max_pool2d(x, 2, ceil_mode=True)))
            feats.append(x)
        for block, enc in zip(self.up, reversed(feats[:-1]), strict=True):
            x = F.interpolate(x, size=enc.shape[-2:], mode="bilinear", align_corners=False)
            x = cond(block(torch.cat([enc, x], 1) if self.skip else x))
        y = self.head(x)
        if self.out_act == "sigmoid":
            return torch.sigmoid(y)
        if self.out_act == "softmax":
            return torch.softmax(y.flatten(2), -1).view_as(y)
        return y
