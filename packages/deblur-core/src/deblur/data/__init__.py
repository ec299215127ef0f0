"""Data: procedural images, scikit-image photos, synthetic blur + noise (uniform and spatially varying),
and the Levin benchmark."""

from __future__ import annotations

from deblur.data.levin import LevinImage, load_levin
from deblur.data.photos import PHOTOS, skimage_photos
from deblur.data.procedural import as_generator, dead_leaves, text_image
from deblur.data.spatially_varying import KINDS, SVBlurredCrops, SVCase, blur_field, random_field, sv_cases
from deblur.data.synthetic import SOURCES, BlurredCrops, blur_image

__all__ = [
    "KINDS",
    "PHOTOS",
    "SOURCES",
    "BlurredCrops",
    "LevinImage",
    "SVBlurredCrops",
    "SVCase",
    "as_generator",
    "blur_field",
    "blur_image",
    "dead_leaves",
    "load_levin",
    "random_field",
    "skimage_photos",
    "sv_cases",
    "text_image",
]
