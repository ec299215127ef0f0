"""Blur forward models: uniform convolution and spatially varying blur, with exact adjoints."""

from __future__ import annotations

from deblur.operators.fft import fast_len, psf2otf
from deblur.operators.uniform import UniformBlur, convolve, convolve_adjoint

__all__ = ["UniformBlur", "convolve", "convolve_adjoint", "fast_len", "psf2otf"]
