"""Data: procedural images, scikit-image photos, synthetic blur + noise, and the Levin benchmark."""

from __future__ import annotations

from deblur.data.levin import LevinImage, load_levin
from deblur.data.photos import PHOTOS, skimage_photos
from deblur.data.procedural import as_generator, dead_leaves, text_image
from deblur.data.synthetic import SOURCES, BlurredCrops, blur_image

__all__ = [
    "PHOTOS",
    "SOURCES",
    "BlurredCrops",
    "LevinImage",
    "as_generator",
    "blur_image",
    "dead_leaves",
    "load_levin",
    "skimage_photos",
    "text_image",
]
