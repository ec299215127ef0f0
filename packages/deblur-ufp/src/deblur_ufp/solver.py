r"""The blind solver ``ufp``: estimate the kernel field, then restore the image (Sec. 3, Fig. 3).

1. The luminance goes through the kernel estimator and the flow (:mod:`deblur_ufp.estimator`, no code
   noise at inference): a kernel field and its sigma map.
2. With the ``nonblind`` slot empty (the paper), the deblurring network with kernel attention
   (:mod:`deblur_ufp.deblurnet`) restores every channel reading that field. With a non-blind solver there
   (``ufp-hqs``), the field's own operator (:func:`deblur.operators.grid_blur`, filter-then-mask,
   ``valid``) is deconvolved by it, so the kernel estimate is measured on its own; core's ``hqs`` solves
   a spatially varying operator by conjugate gradients inside its splitting.

``layout`` chooses where kernels live: ``"grid"`` (the CPU preset's cells of about 32 px, bilinear in
between; not the paper's layout) or ``"pixel"`` (the paper: every pixel's code decoded, the estimator's
features upsampled to the image instead of pooled; ``ufp-paper``).

Blur larger than the networks' kernels (a requested ``kernel_size`` above it) is estimated on the image
downscaled by ``size / kernel_size``; the field's kernels are then resized to ``kernel_size``
(``ufp-hqs`` deconvolves the full image), while the network restores the downscaled image, upsampled
back (soft: the network sees blur it was trained on only at that scale).

``Result.kernel_field`` is the field ``(1, s * s, Gh, Gw)`` on the observation's grid (the layout of
:mod:`deblur.operators.spatially_varying`); ``Result.uncertainty`` the mean sigma of each kernel's code
(Eq. 5), interpolated to the image ``(1, C, H, W)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from deblur.checks import count, odd_size
from deblur.context import RunContext, torch_threads
from deblur.errors import InputError
from deblur.inputs import check_one_image
from deblur.kernels import resize
from deblur.observation import luminance
from deblur.operators import grid_blur
from deblur.result import Result
from deblur_ufp.networks import load_deblur, load_estimator

__all__ = ["LAYOUTS", "UFPSolver"]

LAYOUTS = ("grid", "pixel")


def _resize_field(field: torch.Tensor, size: int) -> torch.Tensor:
    """A field's kernels ``(1, s * s, Gh, Gw)`` resized to ``size`` px (:func:`deblur.kernels.resize`)."""
    _, L, Gh, Gw = field.shape
    s = round(L**0.5)
    kernels = resize(field[0].permute(1, 2, 0).reshape(-1, 1, s, s), size)
    return kernels.reshape(Gh, Gw, size * size).permute(2, 0, 1)[None].contiguous()


class UFPSolver:
    """UFPNet as a blind solver (see the module docstring).

    Args:
        nonblind: the optional ``non-blind`` slot (``None``: the deblurring network, the paper).
        size: the networks' kernel size (weights must exist for it).
        layout: ``"grid"``, ``"pixel"`` or ``None`` (the layout the estimator was trained with).
        estimator, flow, deblur: weight stems to use instead of the shipped ones.
        threads: torch CPU threads during the run (``None``: unchanged).
    """

    def __init__(
        self,
        *,
        nonblind: Callable[[torch.Tensor, Any], torch.Tensor] | None = None,
        size: int = 31,
        layout: str | None = None,
        estimator: str | None = None,
        flow: str | None = None,
        deblur: str | None = None,
        threads: int | None = 1,
    ) -> None:
        if layout is not None and layout not in LAYOUTS:
            raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.nonblind, self.size, self.layout = nonblind, odd_size(size), layout
        self.threads = None if threads is None else count("threads", threads, 1)
        self.paths = {"estimator": estimator, "flow": flow, "deblur": deblur}
        # Load (and check) the weights now: a missing or mismatched file fails before any work.
        self.estimator, self.flow, card = load_estimator(self.size, estimator, flow)
        self.network = None
        if nonblind is None:
            self.network, _ = load_deblur(self.size, card, deblur)

    def params(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "layout": self.layout or self.estimator.config.mode,
            "nonblind": repr(self.nonblind) if self.nonblind is not None else None,
            **self.paths,
            "threads": self.threads,
        }

    def __call__(self, y: torch.Tensor, ctx: RunContext) -> Result:
        check_one_image(y, "ufp")
        with torch_threads(self.threads if y.device.type == "cpu" else None), torch.no_grad():
            return self.solve(y, ctx)

    def solve(self, y: torch.Tensor, ctx: RunContext) -> Result:
        H, W = y.shape[-2:]
        wanted = self.size if ctx.kernel_size is None else odd_size(ctx.kernel_size)
        scale = min(1.0, self.size / wanted)
        start = time.perf_counter()
        gray = luminance(y)
        small = gray if scale == 1 else F.interpolate(gray, scale_factor=scale, mode="area")
        if min(small.shape[-2:]) < 2 * self.size:
            raise InputError(
                f"ufp needs at least {2 * self.size} px per side at the estimation scale, got "
                f"{tuple(small.shape[-2:])} (image {H}x{W}, kernel size {wanted})"
            )
        ctx.progress("kernel field", 1, 2)
        estimate = self.estimator(small, self.flow, mode=self.layout)
        field = estimate.field
        mid = time.perf_counter()
        ctx.progress("restore", 2, 2)
        if self.nonblind is None:
            image = y if scale == 1 else F.interpolate(y, size=small.shape[-2:], mode="area")
            x = self.network(image.transpose(0, 1), field).transpose(0, 1)
            x = x if scale == 1 else F.interpolate(x, size=(H, W), mode="bicubic", align_corners=False)
        else:
            if scale < 1:
                field = _resize_field(field, wanted)
            x = self.nonblind(y, grid_blur(field.to(y), (H, W)))
        end = time.perf_counter()
        uncertainty = None
        if estimate.sigma is not None:
            sigma = estimate.sigma.mean(1, keepdim=True)
            uncertainty = F.interpolate(sigma, size=(H, W), mode="bilinear", align_corners=False)
            uncertainty = uncertainty.expand(-1, y.shape[1], -1, -1).contiguous()
        if scale < 1 and self.nonblind is None:
            field = _resize_field(field, wanted)
        return Result(
            image=x,
            kernel_field=field,
            uncertainty=uncertainty,
            timings={"kernel_estimation": mid - start, "restoration": end - mid},
            config={
                **self.params(),
                "kernel_size": int(field.shape[1] ** 0.5),
                "scale": scale,
                "grid": list(field.shape[-2:]),
                "mean_sigma": None if estimate.sigma is None else float(estimate.sigma.mean()),
                "seed": ctx.seed,
            },
        )
