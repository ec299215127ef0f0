r"""The kernel-then-image blind flow: estimate the kernel on a window, optionally refine it, deconvolve.

Most blind methods share one shape (the two-stage protocol of DIP-MC's Sec. 3.2, SelfDeblur and the
GAN kernel prior): choose the kernel size; estimate the kernel on the luminance (or all channels) of a
well-textured window of the observation; clean the estimate (zero entries below a fraction of its peak,
centre it by its centre of mass); optionally refine it on the whole observation; deconvolve every channel
with a non-blind solver. :class:`KernelThenImage` is that flow, with the method-specific part in its
slots:

- ``estimator`` (capability ``kernel-estimator``): ``estimate(y, size, ctx) -> KernelEstimate`` on the
  window; what each method package writes (DIP-MC's Algorithm 1, the GAN prior's Algorithm 2, ...).
- ``refiner`` (optional, capability ``kernel-refiner``): ``refine(gray, k, progress, history) -> k`` on
  the whole luminance (core's ``classic-refine``). Not in the papers: every ``*-paper`` method leaves it
  empty. When the estimator draws several kernels and the refiner offers ``refine_best(gray, kernels,
  progress, history) -> (k, index)``, every draw is refined and the one that fits best is kept
  (``Result.config["refined_draw"]``).
- ``nonblind`` (``non-blind``): ``(y, k) -> x`` on the whole observation.

Images the estimator returns on its latent grid (``extras``, ``samples``), ``(H + s - 1, W + s - 1)`` for
an ``s`` kernel under the valid model, are cropped to the window's observation grid; ``uncertainty`` is
the per-pixel standard deviation of the cropped samples. An estimator that draws kernels instead
(``kernels``, e.g. kernel diffusion) has each draw cleaned like the estimate and the whole observation
deconvolved with it by ``nonblind``: those images are ``Result.samples``, their per-pixel standard
deviation ``Result.uncertainty`` and the draws ``Result.kernel_samples``. ``Result.config["window"]`` says
where the window lies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from deblur.checks import count, fraction, odd_size
from deblur.context import Progress, RunContext, torch_threads
from deblur.errors import CompositionError, InputError
from deblur.inputs import check_one_image
from deblur.kernels import center, threshold
from deblur.observation import estimation_window, kernel_size, luminance
from deblur.result import Result

__all__ = ["COLORS", "KernelEstimate", "KernelEstimator", "KernelRefiner", "KernelThenImage"]

COLORS = ("luminance", "rgb")


@dataclass
class KernelEstimate:
    """What an estimator returns for its window.

    Attributes:
        kernel: the raw estimate (1, 1, s, s), on the simplex.
        history: loss curves by name.
        latent: images on the latent grid (1 or N, C, H + s - 1, W + s - 1) by name (e.g. the DIP output),
            cropped by the flow and returned as ``Result.extras``.
        samples: draws of the latent image on the latent grid (N, C, ...), or ``None``.
        kernels: draws of the kernel (N, 1, s, s) on the simplex, the best first, or ``None``.
        config: what the run found (steps taken, resolved parameters), kept under the estimator's name.
        timings: seconds of the estimator's own stages (``kernel_estimation`` is timed by the flow).
    """

    kernel: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    latent: dict[str, torch.Tensor] = field(default_factory=dict)
    samples: torch.Tensor | None = None
    kernels: torch.Tensor | None = None
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class KernelEstimator(Protocol):
    """The ``kernel-estimator`` capability: a blind kernel estimate of one window."""

    name: str

    def estimate(self, y: torch.Tensor, size: int, ctx: RunContext) -> KernelEstimate:
        """The kernel of the window ``y`` (1, C, H, W) for an odd support ``size``."""
        ...


@runtime_checkable
class KernelRefiner(Protocol):
    """The ``kernel-refiner`` capability: fit a given kernel to a whole gray observation."""

    def refine(
        self,
        y: torch.Tensor,
        k: torch.Tensor,
        progress: Progress | None = None,
        history: dict[str, list[float]] | None = None,
    ) -> torch.Tensor:
        """``k`` (1, 1, s, s) refined on ``y`` (1, 1, H, W)."""
        ...


class KernelThenImage:
    """The blind solver ``kernel-then-image`` (see the module docstring).

    Args:
        estimator: the ``kernel-estimator`` slot.
        refiner: the optional ``kernel-refiner`` slot (``None``: no refinement).
        nonblind: the ``non-blind`` solver of the last stage.
        kernel_size: odd kernel support when the run context gives none (``None``: core's rule,
            :func:`deblur.observation.default_kernel_size`).
        crop: side of the window the kernel is estimated on (:func:`~deblur.observation.estimation_window`:
            the most textured one, at least three kernel sides); ``None`` or a side not smaller than the
            image: the whole image.
        color: ``"luminance"`` (estimate on the luminance, deconvolve every channel) or ``"rgb"`` (the
            estimator sees all channels).
        kernel_threshold: zero kernel entries below this fraction of the peak and renormalise (0: keep).
        center_kernel: shift the estimate so its centre of mass is the central pixel.
        threads: torch CPU threads during the run, restored afterwards (``None``: unchanged).
    """

    def __init__(
        self,
        *,
        estimator: KernelEstimator,
        nonblind: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        refiner: KernelRefiner | None = None,
        kernel_size: int | None = None,
        crop: int | None = None,
        color: str = "luminance",
        kernel_threshold: float = 0.0,
        center_kernel: bool = True,
        threads: int | None = None,
    ) -> None:
        if not isinstance(estimator, KernelEstimator):
            raise CompositionError(f"estimator must offer estimate(y, size, ctx), got {estimator!r}")
        if refiner is not None and not isinstance(refiner, KernelRefiner):
            raise CompositionError(f"refiner must offer refine(y, k, progress, history), got {refiner!r}")
        if not callable(nonblind):
            raise CompositionError(f"nonblind must be a callable (y, k) -> x, got {nonblind!r}")
        self.estimator, self.refiner, self.nonblind = estimator, refiner, nonblind
        self.kernel_size = None if kernel_size is None else odd_size(kernel_size)
        self.crop = None if crop is None else count("crop", crop, 8)
        if color not in COLORS:
            raise InputError(f"color must be one of {', '.join(COLORS)}, got {color!r}")
        self.color = color
        self.kernel_threshold = fraction("kernel_threshold", kernel_threshold)
        if self.kernel_threshold >= 1:
            raise InputError(f"kernel_threshold must be below 1, got {kernel_threshold}")
        self.center_kernel = bool(center_kernel)
        self.threads = None if threads is None else count("threads", threads, 1)

    def __call__(self, y: torch.Tensor, ctx: RunContext) -> Result:
        with torch_threads(self.threads):
            return self.solve(y, ctx)

    def clean(self, k: torch.Tensor) -> torch.Tensor:
        """The estimate thresholded and centred as the parameters say."""
        k = threshold(k, self.kernel_threshold) if self.kernel_threshold > 0 else k
        return center(k) if self.center_kernel else k

    def solve(self, y: torch.Tensor, ctx: RunContext) -> Result:
        """Kernel size, window, estimate, clean-up, refinement, non-blind step (see the module)."""
        check_one_image(y, self.estimator.name)
        size = kernel_size(tuple(y.shape[-2:]), ctx.kernel_size, self.kernel_size)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        target = luminance(y) if self.color == "luminance" else y
        top, left, h, w = estimation_window(target, size, self.crop)
        estimate = self.estimator.estimate(target[..., top : top + h, left : left + w], size, ctx)
        timings["kernel_estimation"] = time.perf_counter() - start
        timings.update(estimate.timings)

        with torch.no_grad():
            k = self.clean(estimate.kernel.detach())
            kernel_samples = None
            if estimate.kernels is not None:
                kernel_samples = torch.cat([self.clean(draw[None]) for draw in estimate.kernels.detach()])
        r0 = c0 = size - 1 - size // 2
        on_grid = (..., slice(r0, r0 + h), slice(c0, c0 + w))
        extras = {name: image.detach()[on_grid] for name, image in estimate.latent.items()}
        samples = None if estimate.samples is None else estimate.samples.detach()[on_grid]
        uncertainty = None if samples is None else samples.std(0, keepdim=True, unbiased=False)

        history = dict(estimate.history)
        chosen = None
        if self.refiner is not None:
            start = time.perf_counter()
            gray = target if self.color == "luminance" else luminance(y)
            select = getattr(self.refiner, "refine_best", None)
            if select is not None and kernel_samples is not None and len(kernel_samples) > 1:
                k, chosen = select(gray, kernel_samples, ctx.progress, history)
            else:
                k = self.refiner.refine(gray, k, ctx.progress, history)
            timings["refinement"] = time.perf_counter() - start

        start = time.perf_counter()
        ctx.progress("non-blind", 1, 1)
        x = self.nonblind(y, k)
        timings["nonblind"] = time.perf_counter() - start
        if kernel_samples is not None:
            start = time.perf_counter()
            if samples is None:
                draws = []
                for i, draw in enumerate(kernel_samples):
                    ctx.progress("sample deconvolution", i + 1, len(kernel_samples))
                    draws.append(self.nonblind(y, draw[None]).detach())
                samples = torch.cat(draws)
                uncertainty = samples.std(0, keepdim=True, unbiased=False)
            timings["sample_deconvolution"] = time.perf_counter() - start
        return Result(
            image=x,
            kernel=k,
            kernel_samples=kernel_samples,
            extras=extras,
            samples=samples,
            uncertainty=uncertainty,
            history=history,
            timings=timings,
            config={
                "kernel_size": size,
                "window": [top, left, h, w],
                **({} if chosen is None else {"refined_draw": chosen}),
                self.estimator.name: estimate.config,
            },
        )
