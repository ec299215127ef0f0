r"""The randomized image generator :math:`G_x` of DIP-MC (Li, Nan & Ji, Sec. 2.1 and 3.1).

.. math:: x = G_x(z_x + \epsilon;\ \theta_x, M), \quad
    \epsilon \sim \mathcal{N}(0, \sigma_0^2 I),\ M \sim \mathcal{B}(p_0)  \qquad \text{(Eq. 19)}

An encoder-decoder with skip connections and LeakyReLU(0.1) (core's :class:`deblur.nn.DIPGenerator`,
the skip hourglass of DIP / SelfDeblur), a fixed input :math:`z_x \sim \mathcal{U}(0, 0.1)`, Gaussian
noise added to that input and dropout before each re-scaling of the decoder. The paper's network has 6
levels of 128 channels; the defaults here are the CPU-sized ``fast`` configuration.

The registered prior ``dipmc-image-generator`` (capabilities ``image``, ``generator``, ``randomized``)
has :func:`image_generator` as factory. It returns a *builder*::

    builder(channels: int, size: tuple[int, int], *, generator=None) -> RandomizedImageNet

``channels`` and ``size`` are those of the image to generate (for a "valid" blur model, the latent
``(H + h - 1, W + w - 1)``); ``generator`` seeds the fixed input and the initial weights. The module's
``forward(samples=1, *, generator=None, stochastic=None)`` returns ``samples`` draws (samples, C, H, W)
in (0, 1); its ``dropout`` (:math:`p_0`) and ``input_noise`` (:math:`\sigma_0`) attributes may change
between calls (schedules). ``stochastic=False`` gives the deterministic :math:`G_x(z_x; \theta_x)`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import nn

from deblur.errors import InputError
from deblur.nn import DIPGenerator, dip_input
from deblur.seeding import draw_seed, seeded

__all__ = ["RandomizedImageNet", "image_generator"]


class RandomizedImageNet(nn.Module):
    """:math:`G_x` with its fixed input ``z`` (a buffer): ``forward(samples)`` draws images.

    Args:
        channels: image channels.
        size: image ``(H, W)``.
        width: channels of every level (paper: 128).
        levels: encoder-decoder levels (paper: 6); at most ``log2(min(H, W)) - 1``, so that the coarsest
            level keeps two pixels (smaller images get fewer levels).
        skip: channels of each skip connection (SelfDeblur: 16; 0 turns them off).
        in_channels: channels of ``z``.
        negative_slope: LeakyReLU slope (paper: 0.1).
        input_scale: ``z ~ U(0, input_scale)`` (paper: 0.1).
        generator: draws ``z`` and seeds the initial weights (default: torch's global generator).

    Batch normalisation runs on batch statistics: keep the module in training mode (as DIP does) and
    choose the randomness with ``stochastic``. Several samples in one call share those statistics.
    """

    def __init__(
        self,
        channels: int,
        size: tuple[int, int],
        *,
        width: int = 16,
        levels: int = 5,
        skip: int = 4,
        in_channels: int = 8,
        negative_slope: float = 0.1,
        input_scale: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        h, w = int(size[0]), int(size[1])
        if min(h, w) < 4:
            raise InputError(f"the image generator needs at least 4x4 px, got {h}x{w}")
        levels = min(levels, int(math.log2(min(h, w))) - 1)
        seed = draw_seed(generator) if generator is not None else int(torch.randint(2**62, (1,)).item())
        self.net = seeded(
            seed,
            DIPGenerator,
            in_channels,
            channels,
            (width,) * levels,
            skip_channels=skip,
            negative_slope=negative_slope,
        )
        self.register_buffer("z", dip_input(in_channels, (h, w), generator, scale=input_scale).cpu())

    @property
    def dropout(self) -> float:
        """Dropout rate :math:`p_0` before each up-sampling of the decoder."""
        return self.net.dropout

    @dropout.setter
    def dropout(self, value: float) -> None:
        self.net.dropout = float(value)

    @property
    def input_noise(self) -> float:
        r"""Standard deviation :math:`\sigma_0` of the noise added to ``z``."""
        return self.net.input_noise

    @input_noise.setter
    def input_noise(self, value: float) -> None:
        self.net.input_noise = float(value)

    def forward(
        self, samples: int = 1, *, generator: torch.Generator | None = None, stochastic: bool | None = None
    ) -> torch.Tensor:
        """``samples`` images (samples, C, H, W); each draws its own noise and dropout masks."""
        return self.net(self.z.expand(samples, -1, -1, -1), generator=generator, stochastic=stochastic)


def image_generator(
    width: int = 16,
    levels: int = 5,
    skip: int = 4,
    in_channels: int = 8,
    negative_slope: float = 0.1,
    input_scale: float = 0.1,
) -> Callable[..., RandomizedImageNet]:
    """Factory of ``dipmc-image-generator``: ``builder(channels, (H, W), *, generator=None)``.

    The paper's configuration is ``width=128, levels=6, skip=16``; see :class:`RandomizedImageNet`.
    """
    if width < 1 or levels < 1 or skip < 0 or in_channels < 1:
        raise InputError(
            f"image generator needs width, levels, in_channels >= 1 and skip >= 0, "
            f"got {width}, {levels}, {in_channels}, {skip}"
        )
    if not input_scale > 0:
        raise InputError(f"input_scale must be positive, got {input_scale}")
    return functools.partial(
        RandomizedImageNet,
        width=width,
        levels=levels,
        skip=skip,
        in_channels=in_channels,
        negative_slope=negative_slope,
        input_scale=input_scale,
    )
