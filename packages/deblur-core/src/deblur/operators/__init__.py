"""Blur forward models with exact adjoints (:class:`LinearOperator`): uniform and spatially varying blur."""

from __future__ import annotations

from deblur.operators.base import LinearOperator, OperatorBuilder, adjoint_mismatch, build_operator
from deblur.operators.fft import fast_len, psf2otf
from deblur.operators.spatially_varying import (
    BasisBlur,
    KernelFieldBlur,
    basis_to_field,
    field_at,
    field_from_kernel,
    grid_blur,
    grid_weights,
)
from deblur.operators.uniform import UniformBlur, convolve, convolve_adjoint

__all__ = [
    "BasisBlur",
    "KernelFieldBlur",
    "LinearOperator",
    "OperatorBuilder",
    "UniformBlur",
    "adjoint_mismatch",
    "basis_to_field",
    "build_operator",
    "convolve",
    "convolve_adjoint",
    "fast_len",
    "field_at",
    "field_from_kernel",
    "grid_blur",
    "grid_weights",
    "psf2otf",
]
