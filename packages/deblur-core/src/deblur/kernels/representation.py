"""Kernel representations: how a kernel is parameterised while a solver estimates it.

A registered representation's factory takes its parameters and returns a *builder*
``builder(size: int) -> torch.nn.Module``, because the kernel size is only known at run time. The module's
``forward()`` returns a (1, 1, size, size) kernel on the simplex (non-negative, sum 1) and its
``constrain()`` restores that after an optimiser step (a no-op for representations that are on the simplex
by construction, such as a softmax output).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from deblur.errors import InputError
from deblur.kernels.generators import gaussian_kernel
from deblur.kernels.ops import project_simplex

INITS = ("delta", "uniform", "gaussian")


class SimplexKernel(torch.nn.Module):
    """Explicit kernel pixels, kept on the simplex by Euclidean projection (projected gradient descent).

    Args:
        size: odd kernel support.
        init: ``"delta"`` (identity), ``"uniform"`` or ``"gaussian"`` (width ``size / 8``), a common
            neutral start for blind estimation.
    """

    def __init__(self, size: int, init: str = "gaussian") -> None:
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise InputError(f"kernel size must be odd and positive, got {size}")
        if init not in INITS:
            raise InputError(f"unknown kernel init {init!r}; choose one of {', '.join(INITS)}")
        if init == "delta":
            start = torch.zeros(1, 1, size, size)
            start[..., size // 2, size // 2] = 1.0
        elif init == "uniform":
            start = torch.full((1, 1, size, size), 1.0 / size**2)
        else:
            start = gaussian_kernel(size, max(size / 8.0, 0.5))
        self.weight = torch.nn.Parameter(start)

    def forward(self) -> torch.Tensor:
        return self.weight

    @torch.no_grad()
    def constrain(self) -> None:
        """Project the pixels back onto {k >= 0, sum k = 1}."""
        self.weight.copy_(project_simplex(self.weight))


def simplex_kernel(init: str = "gaussian") -> Callable[[int], SimplexKernel]:
    """Factory of the registered ``simplex`` representation: returns ``builder(size)``."""
    if init not in INITS:
        raise InputError(f"unknown kernel init {init!r}; choose one of {', '.join(INITS)}")
    return functools.partial(SimplexKernel, init=init)
