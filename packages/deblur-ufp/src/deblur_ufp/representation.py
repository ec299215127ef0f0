r"""The kernel representation ``ufp-flow-latent``: a kernel on the flow's manifold, ``k = f^{-1}(z)``.

The only parameter is the flow latent ``z`` (``(1, s^2)``); the flow (Sec. 3.1) is frozen, held as
buffers, so ``parameters()`` is ``[z]`` and any solver that optimises a kernel representation (DIP-MC,
the GAN kernel prior's estimator) searches the flow's latent space instead of the taps, as FKP does. The
kernel is on the simplex by construction (``constrain`` does nothing).

Start (``init``): ``"mean"`` (``z = 0``, the flow's most typical kernel) or ``"random"`` (``z`` drawn from
torch's global generator, which solvers seed). DIP-MC's randomisation (``stochastic`` draws) perturbs
the latent: inverted dropout of rate ``dropout`` on ``z`` and Gaussian noise of deviation
``input_noise`` added to it, drawn from ``generator``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from deblur.errors import InputError
from deblur.nn import frozen
from deblur_ufp.flow import KernelFlow
from deblur_ufp.networks import load_flow

__all__ = ["INITS", "FlowLatentKernel", "flow_latent"]

INITS = ("mean", "random")


class FlowLatentKernel(nn.Module):
    """``forward()`` -> ``(1, 1, s, s)`` kernel ``f^{-1}(z)``; see the module docstring."""

    def __init__(self, flow: KernelFlow, init: str = "mean") -> None:
        super().__init__()
        if init not in INITS:
            raise InputError(f"ufp-flow-latent init must be one of {', '.join(INITS)}, got {init!r}")
        self.flow = frozen(flow)
        start = torch.zeros(1, flow.dim) if init == "mean" else torch.randn(1, flow.dim)
        self.z = nn.Parameter(start)
        self.dropout, self.input_noise = 0.0, 0.0
        self.stochastic, self.generator = False, None

    @property
    def size(self) -> int:
        return self.flow.size

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
        return self.flow.decode(z)

    def constrain(self) -> None:
        """Nothing to restore: the flow's decoder keeps the kernel on the simplex."""


def flow_latent(init: str = "mean", flow: str | None = None) -> Callable[[int], FlowLatentKernel]:
    """Factory of ``ufp-flow-latent``: ``builder(size) -> FlowLatentKernel`` (flow weights for ``size``
    must be shipped, or ``flow`` names a weight stem)."""
    if init not in INITS:
        raise InputError(f"ufp-flow-latent init must be one of {', '.join(INITS)}, got {init!r}")
    return functools.partial(_build, init=init, flow=flow)


def _build(size: int, *, init: str, flow: str | None) -> FlowLatentKernel:
    return FlowLatentKernel(load_flow(int(size), flow)[0], init)
