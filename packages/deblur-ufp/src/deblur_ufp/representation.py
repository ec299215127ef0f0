r"""The kernel representation ``ufp-flow-latent``: a kernel on the flow's manifold, ``k = f^{-1}(z)``.

The only parameter is the flow latent ``z`` (``(1, s^2)``); the flow (Sec. 3.1) is frozen, held as
buffers, so ``parameters()`` is ``[z]`` and any solver that optimises a kernel representation (DIP-MC,
the GAN kernel prior's estimator) searches the flow's latent space instead of the taps, as FKP does. The
kernel is on the simplex by construction (``constrain`` does nothing).

Start (``init``): ``"mean"`` (``z = 0``, the flow's most typical kernel) or ``"random"`` (``z`` drawn from
torch's global generator, which solvers seed). DIP-MC's randomisation (``stochastic`` draws) perturbs
the latent: inverted dropout of rate ``dropout`` on ``z`` and Gaussian noise of deviation
``input_noise`` added to it, drawn from ``generator``.

Size: a support without its own flow is served by the smallest shipped flow that covers it, its kernel
centred and cropped to the support (a 23 px request decodes on the 31 px flow); the crop is not in the
paper and loses only the mass outside the support.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from deblur.errors import InputError
from deblur.kernels import center, fit_support
from deblur.nn import frozen
from deblur_ufp.flow import KernelFlow
from deblur_ufp.networks import load_flow
from deblur_ufp.store import STORE

__all__ = ["INITS", "FlowLatentKernel", "flow_latent"]

INITS = ("mean", "random")


class FlowLatentKernel(nn.Module):
    """``forward()`` -> ``(1, 1, s, s)`` kernel ``f^{-1}(z)``, centred and cropped to ``size`` when that
    is smaller than the flow's; see the module docstring."""

    def __init__(self, flow: KernelFlow, init: str = "mean", size: int | None = None) -> None:
        super().__init__()
        self._size = flow.size if size is None else int(size)
        if self._size > flow.size:
            raise InputError(f"a {flow.size} px flow cannot give {self._size} px kernels")
        if init not in INITS:
            raise InputError(f"ufp-flow-latent init must be one of {', '.join(INITS)}, got {init!r}")
        self.flow = frozen(flow)
        start = torch.zeros(1, flow.dim) if init == "mean" else torch.randn(1, flow.dim)
        self.z = nn.Parameter(start)
        self.dropout, self.input_noise = 0.0, 0.0
        self.stochastic, self.generator = False, None

    @property
    def size(self) -> int:
        return self._size

    def train(self, mode: bool = True) -> FlowLatentKernel:
        super().train(mode)
        self.flow.eval()
        return self

    def forward(self) -> torch.Tensor:
        z = self.z
        if self.stochastic and (self.dropout > 0 or self.input_noise > 0):
            g = self.generator
            if self.dropout > 0:
                keep = torch.rand(z.shape, generator=g, device=z.device, dtype=z.dtype) >= self.dropout
                z = z * keep / (1 - self.dropout)
            if self.input_noise > 0:
                z = z + self.input_noise * torch.randn(z.shape, generator=g, device=z.device, dtype=z.dtype)
        k = self.flow.decode(z)
        return k if self._size == self.flow.size else fit_support(center(k), self._size)

    def constrain(self) -> None:
        """Nothing to restore: the flow's decoder keeps the kernel on the simplex."""


def flow_latent(init: str = "mean", flow: str | None = None) -> Callable[[int], FlowLatentKernel]:
    """Factory of ``ufp-flow-latent``: ``builder(size) -> FlowLatentKernel`` on the smallest shipped flow
    of at least ``size`` px, or on the weight stem ``flow`` (then of exactly ``size``)."""
    if init not in INITS:
        raise InputError(f"ufp-flow-latent init must be one of {', '.join(INITS)}, got {init!r}")
    return functools.partial(_build, init=init, flow=flow)


def _build(size: int, *, init: str, flow: str | None) -> FlowLatentKernel:
    native = int(size) if flow is not None else STORE.covering("flow", int(size))
    return FlowLatentKernel(load_flow(native, flow)[0], init, int(size))
