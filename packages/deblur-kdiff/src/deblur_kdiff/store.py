"""The shipped weights of deblur-kdiff on core's :class:`~deblur.weights.WeightStore`.

``weights/diffusion-{size}.safetensors``: the conditional kernel denoiser for ``size`` px kernels (card
``architecture``: :class:`~deblur_kdiff.network.DenoiserConfig`); ``weights/dwdn-{size}.safetensors``:
the learned non-blind solver trained with ``size`` px kernels (it deconvolves any kernel size).
"""

from __future__ import annotations

from deblur.weights import WeightStore

__all__ = ["STORE"]

STORE = WeightStore(
    "deblur_kdiff", {"diffusion": "kdiff-diffusion", "dwdn": "kdiff-dwdn"}, owner="deblur-kdiff"
)
