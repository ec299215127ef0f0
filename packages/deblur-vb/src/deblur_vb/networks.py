r"""Deblur-Net and Kernel-Net (Sec. 3.4, Fig. 1).

:class:`DeblurNet`: a residual U-Net with ``scales`` scales (the paper: four), each encoding and decoding
block a stack of ResBlocks after Nah et al. (conv 3 -> LeakyReLU -> conv 3, plus the input), ``width``
channels at every layer (the paper: 64), down-sampling by a stride-2 convolution of size 3 and
up-sampling by a stride-2 transposed convolution of size 5. It outputs the Gaussian posterior of the
sharp image (Eq. 9 / 11): the mean as the blurry input plus a residual, and the log-variance. With
``kernel_code > 0`` it is the kernel-dependent network of Eq. 11: a sub-network maps the kernel to a
vector and an SFT layer (Wang et al. 2018) before every ResBlock modulates the features,
:math:`F \mapsto F \odot (1 + \gamma) + \beta`, :math:`(\gamma, \beta)` from that vector (the kernel is
spatially uniform, so the SFT maps are constant over the image).

:class:`KernelNet`: a ResNet feature extractor (stride-2 stages of ResBlocks, global average pooling),
a linear layer to one logit per kernel tap, and a softmax: the Dirichlet's mean (Eq. 9). The paper
"rescales" the softmax to the concentrations without saying by what. ``learn_concentration=True`` (the
default) learns the total :math:`\xi_0`, the kernel's certainty (Eq. 5), as a second linear output
started at the prior's ``c``; ``False`` reads the paper literally, :math:`\xi = c \cdot \mathrm{softmax}`,
so the kernel's spread is set by ``c``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["LOG_VAR_RANGE", "MIN_CONCENTRATION", "DeblurConfig", "DeblurNet", "KernelConfig", "KernelNet"]

#: Added to every posterior concentration: keeps Eq. 16's log-gamma and digamma finite.
MIN_CONCENTRATION = 1e-3
#: Bounds of Deblur-Net's log-variance (std from 1e-4 to 0.5): keeps Eq. 15's log finite.
LOG_VAR_RANGE = (-18.4, -1.4)


@dataclass(frozen=True)
class DeblurConfig:
    """Deblur-Net's architecture: ``width`` channels, ``scales`` scales of ``blocks`` ResBlocks each,
    ``kernel_code`` > 0: kernel-dependent (KD) with a code of that length for a ``kernel_size`` kernel."""

    width: int = 64
    scales: int = 4
    blocks: int = 4
    kernel_code: int = 0
    kernel_size: int = 31

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class KernelConfig:
    """Kernel-Net's architecture: ``size`` px kernels, ``width`` channels doubling over ``stages``
    stride-2 stages of ``blocks`` ResBlocks, capped at ``max_width``."""

    size: int = 31
    width: int = 64
    stages: int = 4
    blocks: int = 2
    max_width: int = 256
    concentration: float = 2e4
    learn_concentration: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


class ResBlock(nn.Module):
    """Nah et al.'s ResBlock with LeakyReLU, optionally after an SFT modulation by a code (B, code)."""

    def __init__(self, ch: int, code: int = 0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.sft = nn.Linear(code, 2 * ch) if code else None
        if self.sft is not None:
            nn.init.zeros_(self.sft.weight)
            nn.init.zeros_(self.sft.bias)

    def forward(self, x: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        if self.sft is not None:
            gamma, beta = self.sft(code)[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + gamma) + beta
        return x + self.conv2(F.leaky_relu(self.conv1(h), 0.2))


class Stack(nn.Module):
    def __init__(self, ch: int, n: int, code: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(ch, code) for _ in range(n))

    def forward(self, x: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, code)
        return x


class DeblurNet(nn.Module):
    """``forward(y, kernel=None) -> (mean, log_var)``, each (B, C, H, W); see the module docstring.

    Any size is accepted: the input is reflect-padded to a multiple of ``2 ** (scales - 1)`` and the
    output cropped back. Channels are restored one at a time (the network is trained on gray crops).
    """

    def __init__(self, config: DeblurConfig) -> None:
        super().__init__()
        self.config = config
        w, code = config.width, config.kernel_code
        self.head = nn.Conv2d(1, w, 3, padding=1)
        self.enc = nn.ModuleList(Stack(w, config.blocks, code) for _ in range(config.scales))
        self.down = nn.ModuleList(nn.Conv2d(w, w, 3, stride=2, padding=1) for _ in range(config.scales - 1))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(w, w, 5, stride=2, padding=2, output_padding=1)
            for _ in range(config.scales - 1)
        )
        self.dec = nn.ModuleList(Stack(w, config.blocks, code) for _ in range(config.scales - 1))
        self.tail = nn.Conv2d(w, 2, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        with torch.no_grad():
            self.tail.bias[1] = math.log(1e-4)
        if code:
            s = config.kernel_size
            self.kernel_map = nn.Sequential(
                nn.Conv2d(1, 16, 5, stride=2, padding=2),
                nn.LeakyReLU(0.2),
                nn.Conv2d(16, 32, 5, stride=2, padding=2),
                nn.LeakyReLU(0.2),
                nn.Flatten(),
                nn.Linear(32 * math.ceil(math.ceil(s / 2) / 2) ** 2, code),
                nn.LeakyReLU(0.2),
            )

    def code(self, kernel: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        if not self.config.kernel_code:
            return None
        if kernel is None:
            raise ValueError("a kernel-dependent Deblur-Net needs the kernel")
        s = self.config.kernel_size
        if kernel.shape[-2:] != (s, s):
            raise ValueError(f"this Deblur-Net takes {s}x{s} kernels, got {tuple(kernel.shape[-2:])}")
        # scaled to its peak: the code sees the kernel's shape, not its size-dependent magnitude
        k = kernel / kernel.amax((-2, -1), keepdim=True).clamp_min(1e-12)
        c = self.kernel_map(k)
        return c.expand(batch, -1) if len(c) == 1 else c.repeat_interleave(batch // len(c), 0)

    def forward(
        self, y: torch.Tensor, kernel: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        B, C, H, W = y.shape
        gray = y.reshape(B * C, 1, H, W)
        m = 2 ** (self.config.scales - 1)
        ph, pw = -H % m, -W % m
        mode = "reflect" if min(H, W) > max(ph, pw) else "replicate"
        x = F.pad(gray, (0, pw, 0, ph), mode=mode) if ph or pw else gray
        code = self.code(kernel, B * C)
        h = self.head(x)
        skips = []
        for i, stack in enumerate(self.enc):
            h = stack(h, code)
            if i < len(self.down):
                skips.append(h)
                h = self.down[i](h)
        for up, stack, skip in zip(reversed(self.up), reversed(self.dec), reversed(skips), strict=True):
            h = stack(up(h) + skip, code)
        out = self.tail(h)[..., :H, :W]
        mean = gray + out[:, :1]
        log_var = out[:, 1:].clamp(*LOG_VAR_RANGE)
        return mean.reshape(B, C, H, W), log_var.reshape(B, C, H, W)


class KernelNet(nn.Module):
    """``forward(y) -> xi`` (B, size * size), the Dirichlet concentrations of ``y``'s kernel (B, 1, H, W)."""

    def __init__(self, config: KernelConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = [nn.Conv2d(1, config.width, 3, padding=1)]
        ch = config.width
        for stage in range(config.stages):
            out = min(config.width * 2**stage, config.max_width)
            layers += [nn.Conv2d(ch, out, 3, stride=2 if stage else 1, padding=1), nn.LeakyReLU(0.2)]
            layers += [ResBlock(out) for _ in range(config.blocks)]
            ch = out
        self.features = nn.Sequential(*layers)
        self.taps = nn.Linear(ch, config.size**2)
        nn.init.zeros_(self.taps.weight)
        nn.init.zeros_(self.taps.bias)
        self.scale = nn.Linear(ch, 1) if config.learn_concentration else None
        if self.scale is not None:
            nn.init.zeros_(self.scale.weight)
            nn.init.constant_(self.scale.bias, math.log(config.concentration))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        f = self.features(y).mean((-2, -1))
        if self.scale is None:
            total = torch.full_like(f[:, :1], self.config.concentration)
        else:
            total = torch.exp(self.scale(f).clamp(-10.0, 12.0))
        return total * torch.softmax(self.taps(f), dim=1) + MIN_CONCENTRATION
