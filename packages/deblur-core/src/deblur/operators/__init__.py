"""Blur forward models with exact adjoints: uniform convolution and spatially varying blur."""

from __future__ import annotations

from deblur.operators.fft import fast_len, psf2otf
from deblur.operators.spatially_varying import BasisBlur, KernelFieldBlur, basis_to_field, field_from_kernel
from deblur.operators.uniform import UniformBlur, convolve, convolve_adjoint

__all__ = [
    "BasisBlur",
    "KernelFieldBlur",
    "UniformBlur",
    "basis_to_field",
    "convolve",
    "convolve_adjoint",
    "fast_len",
    "field_from_kernel",
    "psf2otf",
]
