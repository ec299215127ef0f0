"""The :class:`Result` every method returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from deblur.confidence import Confidence


@dataclass
class Result:
    """Outcome of a deblurring run.

    Attributes:
        image: restored image (B, C, H, W) on the observation's grid, float in [0, 1] (clipped once,
            at output).
        kernel: estimated kernel (B, 1, h, w), non-negative, sums to one; ``None`` for purely
            spatially varying results.
        kernel_samples: draws of the kernel (N, 1, h, w) by a sampling method (e.g. kernel diffusion, a
            posterior), the best first where they are ranked, or ``None``.
        kernel_uncertainty: per-tap standard deviation of the kernel (B, 1, h, w) under a method's
            posterior (e.g. deblur-vb's Dirichlet), or ``None``.
        kernel_field: spatially varying kernels ``(B or 1, h * w, Gh, Gw)`` on a grid over the image,
            or ``None``: channel ``a * w + b`` holds kernel entry ``k[a, b]`` (true convolution,
            filter-then-mask), the kernel at each grid cell's centre, bilinear in between; one per
            pixel when ``(Gh, Gw)`` is the image's size. See "a field on a coarser grid" in
            :mod:`deblur.operators.spatially_varying` (:func:`~deblur.operators.grid_blur` builds its
            operator, :func:`~deblur.operators.field_at` reads it anywhere).
        extras: further images, e.g. ``{"dip_output": ...}`` for a method's direct network output.
        samples: Monte-Carlo samples of the image (S, C, H, W), if the method draws any.
        uncertainty: per-pixel uncertainty map (B, C, H, W), e.g. a sample standard deviation.
        history: loss curves by name, one float per iteration.
        timings: seconds by phase name.
        config: the fully resolved configuration of the run (JSON-serialisable).
        confidence: per batch item, how far the result can be trusted
            (:class:`deblur.confidence.Confidence`), attached by :func:`deblur.run` to results with a
            kernel; empty otherwise.
    """

    image: torch.Tensor
    kernel: torch.Tensor | None = None
    kernel_samples: torch.Tensor | None = None
    kernel_uncertainty: torch.Tensor | None = None
    kernel_field: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    samples: torch.Tensor | None = None
    uncertainty: torch.Tensor | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    confidence: list[Confidence] = field(default_factory=list)
