"""Blur kernels: generators (motion, Gaussian, disk), operations (simplex projection, centring, scales)
and rendering. Kernels are ``(B, 1, h, w)``, non-negative, sum 1, centre ``(h // 2, w // 2)``."""

from __future__ import annotations

from deblur.kernels.generators import camera_trajectory, disk_kernel, gaussian_kernel, motion_kernel, splat
from deblur.kernels.ops import (
    center,
    center_of_mass,
    fit_support,
    flip,
    normalize,
    project_simplex,
    resize,
    shift,
    threshold,
)
from deblur.kernels.render import kernel_to_image

__all__ = [
    "camera_trajectory",
    "center",
    "center_of_mass",
    "disk_kernel",
    "fit_support",
    "flip",
    "gaussian_kernel",
    "kernel_to_image",
    "motion_kernel",
    "normalize",
    "project_simplex",
    "resize",
    "shift",
    "splat",
    "threshold",
]
