"""The kernel representation ``vb-kernel-init``: explicit kernel pixels started from Kernel-Net's mean.

Any solver with a ``kernel_rep`` slot (DIP-MC's estimator, the kernel-then-image estimators) can start
from the amortised posterior's mean kernel of the observation instead of a Gaussian blob: the module is
core's :class:`~deblur.kernels.representation.SimplexKernel` (projected onto the simplex after every
step), and :meth:`KernelNetInit.initialize`, which a blind solver calls with its observation window,
sets the pixels to :func:`deblur_vb.solver.kernel_mean` of that window. Not in the paper.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import torch

from deblur.kernels.representation import SimplexKernel
from deblur_vb.store import load_model

__all__ = ["KernelNetInit", "kernel_net_init"]


class KernelNetInit(SimplexKernel):
    """Simplex pixels of a ``size`` kernel: Gaussian until :meth:`initialize` asks Kernel-Net."""

    def __init__(self, size: int, structure: str = "kf", weights: str | Path | None = None) -> None:
        super().__init__(size, "gaussian")
        model, _ = load_model(structure, 3, weights)
        self.__dict__["_model"] = model  # not a submodule: its weights are neither trained nor saved

    @torch.no_grad()
    def initialize(self, y: torch.Tensor) -> None:
        """Start from Kernel-Net's mean kernel of the observation ``y`` (1, C, H, W)."""
        from deblur_vb.solver import kernel_mean

        self.weight.copy_(kernel_mean(self._model, y, self.weight.shape[-1]).to(self.weight))


def kernel_net_init(structure: str = "kf", weights: str | None = None) -> Callable[[int], KernelNetInit]:
    """Factory of ``vb-kernel-init``: ``builder(size) -> KernelNetInit``."""
    load_model(structure, 3, weights)  # a missing or corrupt file fails here, before any work
    return functools.partial(KernelNetInit, structure=structure, weights=weights)
