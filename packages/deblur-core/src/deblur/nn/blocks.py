"""Small convolutional building blocks shared by the learned methods (plain ``torch.nn``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvBlock", "ResidualBlock", "activation", "norm_layer"]


def activation(name: str, negative_slope: float = 0.2) -> nn.Module:
    """``"relu"``, ``"leaky"`` (LeakyReLU with ``negative_slope``), ``"silu"`` or ``"none"``."""
    layers = {
        "relu": lambda: nn.ReLU(),
        "leaky": lambda: nn.LeakyReLU(negative_slope),
        "silu": lambda: nn.SiLU(),
        "none": nn.Identity,
    }
    if name not in layers:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(layers)}")
    return layers[name]()


def norm_layer(name: str, channels: int, groups: int = 8) -> nn.Module:
    """``"batch"`` (BatchNorm2d), ``"group"`` (GroupNorm with up to ``groups`` groups) or ``"none"``."""
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "group":
        g = next(d for d in range(min(groups, channels), 0, -1) if channels % d == 0)
        return nn.GroupNorm(g, channels)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {name!r}; expected batch, group or none")


class ConvBlock(nn.Sequential):
    """``layers`` x (conv ``kernel_size`` -> norm -> activation), "same" size with ``padding_mode``.

    The first convolution may be strided (``stride=2`` halves the size).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        kernel_size: int = 3,
        layers: int = 2,
        stride: int = 1,
        norm: str = "batch",
        act: str = "relu",
        negative_slope: float = 0.2,
        padding_mode: str = "zeros",
    ) -> None:
        modules: list[nn.Module] = []
        for i in range(layers):
            modules += [
                nn.Conv2d(
                    in_ch if i == 0 else out_ch,
                    out_ch,
                    kernel_size,
                    stride=stride if i == 0 else 1,
                    padding=kernel_size // 2,
                    padding_mode=padding_mode,
                    bias=norm == "none",
                ),
                norm_layer(norm, out_ch),
                activation(act, negative_slope),
            ]
        super().__init__(*modules)


class ResidualBlock(nn.Module):
    r"""Pre-activation residual block :math:`x + W_2\,\phi(N(W_1\,\phi(N(x)) + E(e)))` (He et al. 2016).

    With ``emb_dim`` the forward pass takes an embedding ``e`` (B, emb_dim), e.g. a diffusion time
    embedding, projected to a per-channel bias ``E(e)`` (Ho et al. 2020).
    """

    def __init__(
        self,
        ch: int,
        *,
        kernel_size: int = 3,
        norm: str = "group",
        act: str = "silu",
        emb_dim: int | None = None,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.norm1, self.act1 = norm_layer(norm, ch), activation(act)
        self.conv1 = nn.Conv2d(ch, ch, kernel_size, padding=pad)
        self.norm2, self.act2 = norm_layer(norm, ch), activation(act)
        self.conv2 = nn.Conv2d(ch, ch, kernel_size, padding=pad)
        self.emb = nn.Linear(emb_dim, ch) if emb_dim else None

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(self.act1(self.norm1(x)))
        if self.emb is not None:
            if emb is None:
                raise ValueError("this ResidualBlock was built with emb_dim and needs an embedding")
            h = h + self.emb(emb)[:, :, None, None]
        return x + self.conv2(self.act2(self.norm2(h)))
