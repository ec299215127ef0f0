"""Image and kernel priors; see :mod:`deblur.priors.base` for the protocols solvers rely on."""

from __future__ import annotations

from deblur.priors.base import GradientPrior, Prior, QuadraticKernelPrior
from deblur.priors.image import HyperLaplacian, L0Gradient, TotalVariation, gradient, gradient_adjoint
from deblur.priors.kernel import Dirichlet, KernelL2, KernelSparsity

__all__ = [
    "Dirichlet",
    "GradientPrior",
    "HyperLaplacian",
    "KernelL2",
    "KernelSparsity",
    "L0Gradient",
    "Prior",
    "QuadraticKernelPrior",
    "TotalVariation",
    "gradient",
    "gradient_adjoint",
]
