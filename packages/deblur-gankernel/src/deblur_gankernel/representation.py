r"""The kernel representation ``gan-latent``: a kernel on the pre-trained generator's manifold (Sec. 3.5).

The kernel is :math:`k = G_k^{(w)}(w)` (``space="w"``, Eq. 6: the first layer's feature map
:math:`w = g_1(z)` is the variable, the paper's choice), :math:`k = G_k(z)` (``space="z"``, Eq. 5) or
:math:`k = G_k(z; \theta_k)` with the generator's weights free as well (``space="generator"``, Table 3's
third row). The frozen parts (the generator's weights for ``w`` and ``z``, the encoder) are buffers, so
``parameters()`` holds exactly the chosen variables. The generator always runs in eval mode (batch
normalisation on its running statistics; ``train()`` does not change that).

The starting point (Table 4): ``init="encoder"`` (the method) predicts the code from the observation,
:math:`z_0 = E(y)` and :math:`w_0 = g_1(E(y))` (Algorithm 2, line 1), when the solver calls
:meth:`GanLatentKernel.initialize` with the blurry image (before that, and for the other inits, the
module holds the "average" start); ``init="average"`` starts from :math:`z_{avg}`, the GAN inversion of
the uniform kernel shipped with the generator; ``init="random"`` draws :math:`z \sim \mathcal N(0, I)`
from torch's global generator (solvers build representations under a seeded fork of it).

The encoder reads the luminance of the observation; when it is larger than the initializer's training
crop, the most textured window of that size (:func:`deblur.observation.textured_window`).

Size: a support without its own generator is served by the smallest shipped one that covers it, its
kernel centred and cropped to the support (a 23 px request draws on the 31 px generator); the crop is
not in the paper and loses only the mass outside the support.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from deblur.errors import InputError
from deblur.kernels import center, fit_support
from deblur.nn import frozen
from deblur.observation import luminance, textured_window
from deblur_gankernel.encoder import KernelEncoder
from deblur_gankernel.generator import KernelGenerator
from deblur_gankernel.store import STORE, load_encoder, load_generator

__all__ = ["INITS", "SPACES", "GanLatentKernel", "gan_latent"]

SPACES = ("w", "z", "generator")
INITS = ("encoder", "average", "random")


class GanLatentKernel(nn.Module):
    """``forward()`` -> (1, 1, size, size) kernel on the generator's manifold; see the module docstring.

    Args:
        generator: the pre-trained :math:`G_k` (copied; the original is left alone).
        average_z: :math:`z_{avg}` (1, latent).
        space: ``"w"``, ``"z"`` or ``"generator"``.
        init: ``"encoder"``, ``"average"`` or ``"random"``.
        encoder: :math:`E`, needed for ``init="encoder"``.
        size: the kernel support returned (default: the generator's; smaller: centred and cropped).
    """

    def __init__(
        self,
        generator: KernelGenerator,
        average_z: torch.Tensor,
        *,
        space: str = "w",
        init: str = "encoder",
        encoder: KernelEncoder | None = None,
        size: int | None = None,
    ) -> None:
        super().__init__()
        self._size = generator.config.size if size is None else int(size)
        if self._size > generator.config.size:
            raise InputError(f"a {generator.config.size} px generator cannot give {self._size} px kernels")
        if space not in SPACES:
            raise InputError(f"gan-latent space must be one of {', '.join(SPACES)}, got {space!r}")
        if init not in INITS:
            raise InputError(f"gan-latent init must be one of {', '.join(INITS)}, got {init!r}")
        if init == "encoder" and encoder is None:
            raise InputError("gan-latent init='encoder' needs the initializer (encoder) weights")
        self.space, self.init = space, init
        if space == "generator":
            self.generator = copy.deepcopy(generator).eval().requires_grad_(True)
        else:
            self.generator = frozen(generator)
        self.encoder = frozen(encoder) if encoder is not None else None
        latent = generator.config.latent
        z0 = torch.randn(1, latent) if init == "random" else average_z.detach().reshape(1, latent).cpu()
        with torch.no_grad():
            start = self.generator.g1(z0.to(average_z.device)) if space == "w" else z0
        self.variable = nn.Parameter(start.clone())

    @property
    def size(self) -> int:
        return self._size

    def train(self, mode: bool = True) -> GanLatentKernel:
        """Set the mode, keeping the generator and the encoder in eval mode."""
        super().train(mode)
        self.generator.eval()
        if self.encoder is not None:
            self.encoder.eval()
        return self

    def forward(self) -> torch.Tensor:
        k = self.generator.synthesis(self.variable) if self.space == "w" else self.generator(self.variable)
        return k if self._size == self.generator.config.size else fit_support(center(k), self._size)

    def constrain(self) -> None:
        """Nothing to restore: the softmax keeps the kernel on the simplex."""

    @torch.no_grad()
    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """:math:`E(y)` (1, latent) for an observation ``y`` (1, C, H, W) (see the module docstring)."""
        if self.encoder is None:
            raise InputError("gan-latent was built without an initializer (init='encoder' loads one)")
        if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[0] != 1:
            raise InputError(f"initialize needs one (1, C, H, W) image, got {getattr(y, 'shape', type(y))}")
        gray = luminance(y).to(self.variable)
        side = self.encoder.config.crop
        H, W = gray.shape[-2:]
        if min(H, W) < 32:
            raise InputError(f"the initializer needs at least 32x32 px, got {H}x{W}")
        h, w = min(side, H), min(side, W)
        if (h, w) != (H, W):
            top, left = textured_window(gray, (h, w))
            gray = gray[..., top : top + h, left : left + w]
        return self.encoder(gray)

    @torch.no_grad()
    def initialize(self, y: torch.Tensor) -> None:
        """Start from the encoder's code for ``y`` (Algorithm 2, line 1); nothing for other inits."""
        if self.init != "encoder":
            return
        z = self.encode(y)
        self.variable.copy_(self.generator.g1(z) if self.space == "w" else z)


def gan_latent(
    space: str = "w",
    init: str = "encoder",
    generator: str | None = None,
    initializer: str | None = None,
) -> Callable[[int], GanLatentKernel]:
    """Factory of ``gan-latent``: ``builder(size) -> GanLatentKernel`` on the smallest shipped generator
    of at least ``size`` px, or on the weight stem ``generator`` (then of exactly ``size``).

    Args:
        space: the optimised variable: ``"w"`` (Eq. 6), ``"z"`` (Eq. 5) or ``"generator"``.
        init: ``"encoder"``, ``"average"`` or ``"random"`` (Table 4).
        generator, initializer: weight stems to use instead of the shipped ones.
    """
    if space not in SPACES:
        raise InputError(f"gan-latent space must be one of {', '.join(SPACES)}, got {space!r}")
    if init not in INITS:
        raise InputError(f"gan-latent init must be one of {', '.join(INITS)}, got {init!r}")
    return functools.partial(_build, space=space, init=init, generator=generator, initializer=initializer)


def _build(
    size: int, *, space: str, init: str, generator: str | Path | None, initializer: str | Path | None
) -> GanLatentKernel:
    native = int(size) if generator is not None else STORE.covering("generator", int(size))
    loaded = load_generator(native, generator)
    encoder = None
    if init == "encoder":
        encoder, _ = load_encoder(native, initializer, generator=loaded)
    return GanLatentKernel(
        loaded.network, loaded.average_z, space=space, init=init, encoder=encoder, size=int(size)
    )
