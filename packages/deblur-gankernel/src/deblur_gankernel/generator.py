r"""The DCGAN-style kernel generator :math:`G_k = G_k^{(w)} \circ g_1` and its discriminator (Sec. 3.3).

The generator maps a latent code :math:`z \in \mathbb{R}^{100}` to a ``size x size`` blur kernel:

- :math:`g_1` (``first``): a 4x4 transposed convolution from :math:`z` (seen as ``(B, 100, 1, 1)``) to a
  ``C x 4 x 4`` feature map, batch normalisation and ReLU: its output is the feature map :math:`w` that
  the BID process optimises (Sec. 3.5, Eq. 6);
- :math:`G_k^{(w)}` (``synthesis``): up-sampling levels (nearest-neighbour resize to the next side, 3x3
  convolution, batch normalisation, ReLU; the channels halve at every level) to one ``size x size`` map
  of logits, multiplied by ``logit_scale`` and turned into a kernel by a softmax over the pixels, so
  every output is non-negative and sums to one.

The sides come from ``size`` by halving (rounding up) down to 4: 31 px is ``4 -> 8 -> 16 -> 31`` and
55 px ``4 -> 7 -> 14 -> 28 -> 55``. The widths follow DCGAN (Radford et al., ICLR 2016): ``width``
channels at the last hidden level, doubled at each earlier one (``width=64`` is DCGAN's ``ngf``).

Two departures from a textbook DCGAN, both measured on 31 px kernels in CPU-sized runs: stride-2
transposed convolutions tiled every sample with a periodic pattern (their checkerboard artefact, Odena
et al., Distill 2016) and collapsed to dots (mean MNC of the GAN inversion of held-out kernels 0.49),
where resize-convolutions reach 0.9; and without ``logit_scale`` the softmax starts almost uniform and
its gradient (``k (1 - k)``, about ``1 / size^2``) is too weak for the generator to keep up with the
discriminator.

The discriminator follows DCGAN's (4x4 stride-2 convolutions, LeakyReLU(0.2), ``disc_width`` channels
doubling, down to at most 4x4, then one convolution to a logit) with spectral normalisation (Miyato et
al., ICLR 2018) in place of batch normalisation: with the hinge loss this kept the two networks in
balance, where DCGAN's discriminator won within a few hundred steps. It sees kernels divided by their
peak, a scale that keeps their shape and puts the values in [0, 1].

Both networks keep their architecture in :class:`GeneratorConfig`, which the weight card records.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from deblur.errors import InputError

__all__ = ["Discriminator", "GeneratorConfig", "KernelGenerator", "level_sizes"]

SMALLEST = 4
"""Side of the first feature map :math:`w` (DCGAN's 4x4)."""


def level_sizes(size: int) -> list[int]:
    """Spatial sides from the first feature map to the kernel, e.g. ``[4, 8, 16, 31]`` for 31."""
    if isinstance(size, bool) or int(size) != size or size < 5 or size % 2 == 0:
        raise InputError(f"kernel size must be an odd integer >= 5, got {size!r}")
    sides = [int(size)]
    while sides[-1] > SMALLEST:
        sides.append(max(SMALLEST, -(-sides[-1] // 2)))
    return sides[::-1]


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture of the kernel GAN (recorded in the weight card).

    Attributes:
        size: kernel side (odd).
        latent: dimension of :math:`z` (paper: 100).
        width: generator channels at the last hidden level, doubled towards :math:`g_1` (DCGAN ``ngf``).
        disc_width: discriminator channels at its first level, doubled at each next (DCGAN ``ndf``).
        logit_scale: gain on the logits before the softmax.
    """

    size: int
    latent: int = 100
    width: int = 16
    disc_width: int = 16
    logit_scale: float = 10.0

    def __post_init__(self) -> None:
        level_sizes(self.size)
        for name in ("latent", "width", "disc_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise InputError(f"generator {name} must be a positive integer, got {value!r}")
        if not self.logit_scale > 0:
            raise InputError(f"generator logit_scale must be positive, got {self.logit_scale}")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """Shape ``(C, 4, 4)`` of the feature map :math:`w = g_1(z)`."""
        levels = len(level_sizes(self.size)) - 1
        return self.width * 2 ** (levels - 1), SMALLEST, SMALLEST


class KernelGenerator(nn.Module):
    r""":math:`G_k(z) = \mathrm{softmax}(G_k^{(w)}(g_1(z)))`: latent codes ``(B, latent)`` -> kernels
    ``(B, 1, size, size)`` on the simplex. See the module docstring for the layers."""

    def __init__(self, config: GeneratorConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.config = config
        sides = level_sizes(config.size)
        channels = [config.width * 2 ** (len(sides) - 2 - i) for i in range(len(sides) - 1)]
        self.first = nn.Sequential(
            nn.ConvTranspose2d(config.latent, channels[0], SMALLEST, 1, 0, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        for i, side in enumerate(sides[1:-1]):
            layers += [
                nn.Upsample(size=(side, side), mode="nearest"),
                nn.Conv2d(channels[i], channels[i + 1], 3, 1, 1, bias=False),
                nn.BatchNorm2d(channels[i + 1]),
                nn.ReLU(),
            ]
        layers += [nn.Upsample(size=(sides[-1],) * 2, mode="nearest"), nn.Conv2d(channels[-1], 1, 3, 1, 1)]
        self.synthesis_net = nn.Sequential(*layers)
        self.apply(functools.partial(_dcgan_init, generator=generator))

    @property
    def size(self) -> int:
        return self.config.size

    def g1(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`w = g_1(z)`: codes ``(B, latent)`` -> feature maps ``(B, C, 4, 4)``."""
        return self.first(z.reshape(z.shape[0], -1, 1, 1))

    def logits(self, w: torch.Tensor) -> torch.Tensor:
        """Kernel logits ``(B, 1, size, size)`` of the feature maps ``w``."""
        return self.synthesis_net(w) * self.config.logit_scale

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        r""":math:`G_k^{(w)}(w)`: feature maps ``(B, C, 4, 4)`` -> kernels ``(B, 1, size, size)``."""
        logits = self.logits(w)
        return torch.softmax(logits.flatten(1), 1).reshape(logits.shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`G_k(z)`: codes ``(B, latent)`` -> kernels ``(B, 1, size, size)``."""
        return self.synthesis(self.g1(z))


class Discriminator(nn.Module):
    """DCGAN discriminator on ``(B, 1, size, size)`` kernels -> logits ``(B,)`` (real > 0)."""

    def __init__(self, config: GeneratorConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        side, cin, cout = config.size, 1, config.disc_width
        while side > SMALLEST:
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2)]
            side = (side - 2) // 2 + 1
            cin, cout = cout, 2 * cout
        layers.append(nn.Conv2d(cin, 1, side))
        for layer in layers:
            _dcgan_init(layer, generator)
        # spectral_norm draws its power-iteration vector from torch's global generator: fork it
        seed = None if generator is None else int(torch.randint(2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.net = nn.Sequential(*(spectral_norm(m) if isinstance(m, nn.Conv2d) else m for m in layers))

    def forward(self, k: torch.Tensor) -> torch.Tensor:
        peak = k.flatten(1).amax(1).clamp_min(1e-12)
        return self.net(k / peak[:, None, None, None]).flatten()


def _dcgan_init(module: nn.Module, generator: torch.Generator | None) -> None:
    """DCGAN's initialisation: convolutions ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02, generator=generator)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02, generator=generator)
        nn.init.zeros_(module.bias)
