r"""Kernel networks: DIP-MC's small U-Net :math:`G_k` and SelfDeblur's fully-connected generator.

Both follow core's kernel-representation contract (:mod:`deblur.kernels.representation`): the
registered factory takes parameters and returns ``builder(size) -> nn.Module``, whose ``forward()`` is a
(1, 1, size, size) kernel and whose ``constrain()`` is a no-op, because a softmax over the output
logits puts the kernel on the simplex by construction (non-negative, sums to one; Sec. 2.3).

- :class:`KernelUNet` (``dipmc-kernel-net``): :math:`k = \mathrm{softmax}(G_k(z_k; \theta_k))`, an
  encoder-decoder with skip connections on a fixed ``z_k ~ U(0, 0.1)`` of the kernel's size (paper: 4
  levels, 64 channels, LeakyReLU(0.1)); deterministic, as in the paper.
- :class:`FCNKernel` (``fcn-kernel``): Ren et al.'s generator, a fixed code ``z_k`` (200) -> linear
  (1000) -> ReLU6 -> linear (size^2) -> softmax.

For the ablation of Sec. 3.5 ("randomizing the kernel network too") both can draw Eq. 19's randomness:
set ``stochastic = True`` with ``input_noise`` (noise on ``z_k``), ``dropout`` (before each up-sampling,
or on the hidden layer of the FCN) and ``generator``. Initial weights and ``z_k`` come from torch's
global generator: the solver builds representations under a seeded fork of it.

References:
    Li, Nan & Ji, Un-supervised learning for blind image deconvolution via Monte-Carlo sampling, 2022.
    Ren, Zhang, Wang, Hu & Zuo, Neural blind deconvolution using deep priors, CVPR 2020.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from deblur.errors import InputError

__all__ = ["FCNKernel", "KernelUNet", "fcn_kernel", "kernel_net"]


def _check_size(size: int) -> int:
    if int(size) < 1 or int(size) % 2 == 0:
        raise InputError(f"kernel size must be odd and positive, got {size}")
    return int(size)


class RandomizableKernel(nn.Module):
    """Base of the kernel networks: a fixed input ``z``, Eq. 19's optional randomness, a softmax."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = _check_size(size)
        self.dropout = 0.0
        self.input_noise = 0.0
        self.stochastic = False
        self.generator: torch.Generator | None = None

    def _draw(self, like: torch.Tensor, normal: bool) -> torch.Tensor:
        g = self.generator
        device = g.device if g is not None else like.device
        draw = torch.randn if normal else torch.rand
        return draw(like.shape, generator=g, device=device, dtype=like.dtype).to(like.device)

    def _noisy(self, z: torch.Tensor) -> torch.Tensor:
        if self.stochastic and self.input_noise > 0:
            return z + self.input_noise * self._draw(z, normal=True)
        return z

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        if self.stochastic and self.dropout > 0:
            return h * (self._draw(h, normal=False) >= self.dropout) / (1.0 - self.dropout)
        return h

    def _softmax(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits.reshape(1, -1), -1).reshape(1, 1, self.size, self.size)

    def constrain(self) -> None:
        """Nothing to restore: the softmax keeps the kernel on the simplex."""


class KernelUNet(RandomizableKernel):
    """DIP-MC's :math:`G_k`: a U-Net on ``z_k`` (1, in_channels, size, size) ending in a softmax.

    Level ``i`` (two 3x3 convolutions + LeakyReLU, stride 2 from the second level on) feeds the next;
    the decoder up-samples bilinearly to the encoder's size, concatenates its features and convolves.
    No normalisation layers: the deepest maps are a few pixels wide and the batch is one.
    """

    def __init__(
        self,
        size: int,
        *,
        width: int = 64,
        levels: int = 4,
        in_channels: int = 8,
        negative_slope: float = 0.1,
        input_scale: float = 0.1,
        padding_mode: str = "replicate",
    ) -> None:
        super().__init__(size)
        act = functools.partial(nn.LeakyReLU, negative_slope)

        def block(cin: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, width, 3, stride, 1, padding_mode=padding_mode),
                act(),
                nn.Conv2d(width, width, 3, 1, 1, padding_mode=padding_mode),
                act(),
            )

        self.encoder = nn.ModuleList(
            block(in_channels if i == 0 else width, 1 if i == 0 else 2) for i in range(levels)
        )
        self.decoder = nn.ModuleList(
            nn.Sequential(nn.Conv2d(2 * width, width, 3, 1, 1, padding_mode=padding_mode), act())
            for _ in range(levels - 1)
        )
        self.head = nn.Conv2d(width, 1, 1)
        self.register_buffer("z", torch.rand(1, in_channels, self.size, self.size) * input_scale)

    def forward(self) -> torch.Tensor:
        h = self._noisy(self.z)
        features = []
        for level in self.encoder:
            h = level(h)
            features.append(h)
        for level, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            h = F.interpolate(self._drop(h), size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = level(torch.cat([skip, h], 1))
        return self._softmax(self.head(h))


class FCNKernel(RandomizableKernel):
    """Ren et al.'s kernel generator: ``softmax(W2 relu6(W1 z + b1) + b2)`` reshaped to size x size."""

    def __init__(
        self, size: int, *, in_features: int = 200, hidden: int = 1000, input_scale: float = 0.1
    ) -> None:
        super().__init__(size)
        self.hidden = nn.Linear(in_features, hidden)
        self.out = nn.Linear(hidden, self.size**2)
        self.register_buffer("z", torch.rand(1, in_features) * input_scale)

    def forward(self) -> torch.Tensor:
        h = F.relu6(self.hidden(self._noisy(self.z)))
        return self._softmax(self.out(self._drop(h)))


def kernel_net(
    width: int = 64,
    levels: int = 4,
    in_channels: int = 8,
    negative_slope: float = 0.1,
    input_scale: float = 0.1,
) -> Callable[[int], KernelUNet]:
    """Factory of ``dipmc-kernel-net``: ``builder(size) -> KernelUNet`` (paper: 4 levels, 64 channels)."""
    if width < 1 or levels < 1 or in_channels < 1 or not input_scale > 0:
        raise InputError(
            f"kernel net needs width, levels, in_channels >= 1 and input_scale > 0, "
            f"got {width}, {levels}, {in_channels}, {input_scale}"
        )
    return functools.partial(
        KernelUNet,
        width=width,
        levels=levels,
        in_channels=in_channels,
        negative_slope=negative_slope,
        input_scale=input_scale,
    )


def fcn_kernel(
    in_features: int = 200, hidden: int = 1000, input_scale: float = 0.1
) -> Callable[[int], FCNKernel]:
    """Factory of ``fcn-kernel``: ``builder(size) -> FCNKernel`` (Ren et al.: 200 -> 1000 -> size^2)."""
    if in_features < 1 or hidden < 1 or not input_scale > 0:
        raise InputError(
            f"fcn kernel needs in_features, hidden >= 1 and input_scale > 0, "
            f"got {in_features}, {hidden}, {input_scale}"
        )
    return functools.partial(FCNKernel, in_features=in_features, hidden=hidden, input_scale=input_scale)
