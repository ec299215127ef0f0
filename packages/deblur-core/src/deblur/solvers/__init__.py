"""Solvers: non-blind deconvolution ``(y, k) -> x`` here; the classic blind solver in :mod:`.classic`."""

from __future__ import annotations

from deblur.solvers.cg import ConjugateGradient, cg_deconvolve
from deblur.solvers.hqs import HQSDeconvolver, hqs_deconvolve
from deblur.solvers.richardson_lucy import RichardsonLucy, richardson_lucy
from deblur.solvers.wiener import WienerDeconvolver, edgetaper, wiener_deconvolve

__all__ = [
    "ConjugateGradient",
    "HQSDeconvolver",
    "RichardsonLucy",
    "WienerDeconvolver",
    "cg_deconvolve",
    "edgetaper",
    "hqs_deconvolve",
    "richardson_lucy",
    "wiener_deconvolve",
]
