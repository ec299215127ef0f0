r"""The kernel initializer :math:`E`: a ResNet-18 from a blurry gray crop to a latent code (Sec. 3.4).

He et al.'s ResNet-18 (CVPR 2016) with one input channel and a 100-dimensional linear head: a 7x7
stride-2 convolution, batch normalisation, ReLU and a 3x3 stride-2 max-pool, four stages of two
BasicBlocks (two 3x3 convolutions with batch normalisation; the first block of stages 2-4 halves the
resolution and doubles the channels, with a 1x1 projection on its shortcut), global average pooling and
``Linear(8 width, latent)``. ``width=64`` is ResNet-18 (the paper's initializer); the CPU default is
narrower. Every crop is standardised (zero mean, unit variance) before the stem, so the code does not
depend on exposure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from deblur.errors import InputError

__all__ = ["BasicBlock", "EncoderConfig", "KernelEncoder"]


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of the initializer (recorded in the weight card).

    Attributes:
        width: channels of the first stage (ResNet-18: 64), doubled at each of the next three.
        latent: dimension of the code (the generator's, paper: 100).
        blocks: BasicBlocks per stage (ResNet-18: 2, 2, 2, 2).
        crop: side of the square gray crop it reads (paper: 256).
    """

    width: int = 16
    latent: int = 100
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    crop: int = 128

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(int(b) for b in self.blocks))
        if min(self.width, self.latent, *self.blocks) < 1 or not self.blocks:
            raise InputError(f"encoder width, latent and blocks must be positive, got {self}")
        if self.crop < 32:
            raise InputError(f"encoder crop must be at least 32 px, got {self.crop}")

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["blocks"] = list(self.blocks)
        return out


class BasicBlock(nn.Module):
    """ResNet's BasicBlock: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class KernelEncoder(nn.Module):
    """:math:`E`: gray crops ``(B, 1, H, W)`` (``config.crop`` px in training) -> codes ``(B, latent)``."""

    def __init__(self, config: EncoderConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Sequential(
            nn.Conv2d(1, w, 7, 2, 3, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        )
        stages: list[nn.Module] = []
        cin = w
        for i, count in enumerate(config.blocks):
            cout = w * 2**i
            stages += [
                BasicBlock(cin if j == 0 else cout, cout, 2 if i and j == 0 else 1) for j in range(count)
            ]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(cin, config.latent)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01, generator=generator)
                nn.init.zeros_(m.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        mean = y.mean((-2, -1), keepdim=True)
        std = y.std((-2, -1), keepdim=True).clamp_min(1e-3)
        h = self.stages(self.stem((y - mean) / std))
        return self.head(h.mean((-2, -1)))
