r"""Classic blind deblurring: coarse-to-fine alternating MAP with an L0 gradient prior.

For an observation ``y`` (the valid part of ``k * x`` plus noise) the kernel is estimated on the
luminance by alternating, at every level of an image pyramid (coarse to fine),

.. math::
    x &\leftarrow \arg\min_x \tfrac12 \|(k * x)_{valid} - y\|^2 + s_t \lambda \sum \phi(\nabla x)
        \quad\text{(HQS, FFT x-step, shrink w-step; } \phi = \|\cdot\|_0 \text{ by default)} \\
    k &\leftarrow \arg\min_k \sum_{d} \|(\partial_d x * k)_{valid} - \partial_d y\|^2 + \gamma \|k\|^2
        \quad\text{(conjugate gradients on the kernel support)}

then pruning ``k`` (negatives, entries below a fraction of the peak, weak 8-connected blobs) and
renormalising it to the simplex. The weight scale ``s_t`` starts at 1 and is divided by
``weight_decay`` after every iteration (down to ``min_weight_scale``), so early latents keep only the
strongest edges. Between levels the kernel is centred by its centre of mass and resampled. The image
is finally restored, every channel with the estimated kernel, by the ``nonblind`` solver (a
hyper-Laplacian HQS with the valid boundary in the ``classic`` method).

:class:`ClassicRefiner` is one level's alternation on its own, registered as the component
``classic-refine``: from a given kernel (estimated by another method, or on a window of the image) it
runs the finest level on the whole observation, the ``refiner`` stage of
:class:`~deblur.solvers.kernel_then_image.KernelThenImage`.

Photos (measured on the realistic set's tuning cases 40-51, :mod:`deblur.data.realistic`; the
benchmarks page scores the held-out cases 0-39):

- clipped light sources (:func:`deblur.observation.saturation_mask`) are left out of both steps
  (``saturation``) and, in the ``classic`` method, of the final deconvolution: +1.2 to +2.9 dB on the
  night scenes;
- the latent prior's weight follows the photo's noise (``noise_weight``): text pages, lost before,
  gained 4-6 dB; inactive on Levin's near noise-free captures;
- the final deconvolution's prior follows the noise too (``hqs``'s ``noise_weight``): +1.4 dB mean;
- tried and not kept: estimating on each half of the photo on its own (the kernel of the half with
  the stronger edges then fitted to the whole in 2 alternations, the halves' agreement as a
  confidence signal): +1.2 dB estimate gain on the tuning cases 40-55 but -0.6 dB on the held-out
  cases 0-39, at 1.2-1.6 times the time; the confidence refits the finished kernel on the halves
  instead (:func:`deblur.confidence.kernel_agreement`);
- tried and not kept: the dark channel prior (``dark_channel``, Pan et al. 2016; twice the time and
  1.1 dB less on the tuning cases at weight 4e-3, patch 15), a 5x stronger kernel prior, 10
  alternations a level.

Both steps use the exact valid forward model: no periodic or tapered boundary is assumed (see
:mod:`deblur.solvers._kernel_estimation`). The method has no random draws: the result does not depend
on the seed.

Kernel size: the run context's ``kernel_size``, else the ``kernel_size`` parameter, else core's rule
:func:`deblur.observation.default_kernel_size` (``min(H, W) // 10`` made odd, within [7, 75]).

References:
    Xu, Zheng, Jia, "Unnatural L0 sparse representation for natural image deblurring", CVPR 2013.
    Pan, Hu, Su, Yang, "Deblurring text images via L0-regularized intensity and gradient prior",
    CVPR 2014; Pan, Sun, Pfister, Yang, "Blind image deblurring using dark channel prior", CVPR 2016.
    Cho, Lee, "Fast motion deblurring", SIGGRAPH Asia 2009 (gradient-domain kernel least squares).
    Krishnan, Fergus, "Fast image deconvolution using hyper-Laplacian priors", NIPS 2009.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from deblur.checks import count, odd_size, positive, within
from deblur.context import Progress, RunContext, silent, torch_threads
from deblur.errors import InputError
from deblur.kernels import center
from deblur.loop import MaxSteps, iterate
from deblur.observation import SATURATION, kernel_size, luminance, noise_level, saturation_mask
from deblur.plugins.slots import CLASSIC_KERNEL_WEIGHT
from deblur.priors.base import GradientPrior, QuadraticKernelPrior
from deblur.priors.image import interior_gradient
from deblur.result import Result
from deblur.solvers._kernel_estimation import KernelLeastSquares, l0_latent, prune_kernel, rescale_kernel

__all__ = ["KERNEL_PRIOR_WEIGHT", "NOISE_WEIGHT", "ClassicBlind", "ClassicRefiner"]

KERNEL_PRIOR_WEIGHT = CLASSIC_KERNEL_WEIGHT
"""The ``classic`` method's kernel-prior weight gamma (for images in [0, 1])."""

NOISE_WEIGHT = 40.0
"""The latent prior's weight is at least this times the noise variance (2e-3 at 0.7% noise, 1e-2 at
1.6%); chosen on the realistic set's tuning cases 40-51, inactive on Levin (noise about 0.001)."""


def _odd(n: int) -> int:
    return n if n % 2 else n + 1


def _kernel_side(size: int, minimum: int = 3) -> int:
    """``size`` as an odd integer of at least ``minimum``."""
    if isinstance(size, bool) or int(size) != size or size < minimum or size % 2 == 0:
        raise InputError(f"kernel size must be an odd integer >= {minimum}, got {size!r}")
    return int(size)


def _downscale(y: torch.Tensor, f: float) -> torch.Tensor:
    """``y`` resized by ``f <= 1`` (antialiased bilinear), the observation of a pyramid level."""
    if f == 1:
        return y
    H, W = y.shape[-2:]
    size = (round(H * f), round(W * f))
    return F.interpolate(y, size=size, mode="bilinear", antialias=True, align_corners=False)


class ClassicRefiner:
    """The alternation of one pyramid level of :class:`ClassicBlind`; as the component ``classic-refine``,
    it refines a given kernel on the whole observation (:meth:`refine`).

    Args:
        image_prior: gradient prior of the intermediate latent (e.g. ``L0Gradient(2e-3)``); its
            ``weight`` is lambda, scaled by the decreasing schedule.
        kernel_prior: quadratic kernel prior (e.g. ``KernelL2(4.0)``); its ``weight`` is gamma (for
            images in [0, 1]; the data term sums over pixels, so one gamma regularises larger images less).
        iterations: alternations per level.
        weight_decay: factor dividing the image-prior weight after every alternation.
        min_weight_scale: floor of the weight scale (where :meth:`refine` runs).
        cg_iterations: conjugate-gradient iterations of each kernel step.
        kernel_threshold: kernel entries below this fraction of the peak are zeroed.
        min_component: 8-connected kernel blobs with less mass than this are removed.
        saturation: pixels at or above this level (grown by one pixel) are left out of both steps, as
            outliers no blur explains (the hard form of Cho, Wang & Lee's outlier mask, ICCV 2011);
            ``None`` fits every pixel.
        dark_channel: weight of the dark channel prior on the latent (Pan et al. 2016), 0 for none.
        dark_patch: side of the dark channel's squares.
        noise_weight: when set, the latent prior's weight is raised to at least ``noise_weight * sigma^2``
            for an observation with noise ``sigma`` (:func:`deblur.observation.noise_level`): in the MAP
            objective the prior weight is the noise variance times the prior's rate, and a noisy photo
            needs a stronger edge selection than Levin's near noise-free captures (where it stays at
            ``image_prior.weight``).
        levels: pyramid levels :meth:`refine` runs, coarse to fine from the given kernel shrunk to the
            coarsest; 1 (the default): the finest level alone, at the floor weight scale.
        scale_ratio: size ratio between pyramid levels.
        coarsest: kernel side of the coarsest level.
    """

    def __init__(
        self,
        *,
        image_prior: GradientPrior,
        kernel_prior: QuadraticKernelPrior,
        iterations: int = 5,
        weight_decay: float = 1.1,
        min_weight_scale: float = 0.05,
        cg_iterations: int = 20,
        kernel_threshold: float = 0.05,
        min_component: float = 0.03,
        saturation: float | None = SATURATION,
        dark_channel: float = 0.0,
        dark_patch: int = 15,
        noise_weight: float | None = NOISE_WEIGHT,
        levels: int = 1,
        scale_ratio: float = math.sqrt(0.5),
        coarsest: int = 3,
    ) -> None:
        if not callable(getattr(image_prior, "shrink", None)):
            raise InputError(f"image_prior must offer shrink(v, beta) (a GradientPrior), got {image_prior!r}")
        if not math.isfinite(float(getattr(kernel_prior, "weight", math.nan))):
            raise InputError(f"kernel_prior must be a quadratic prior with a weight, got {kernel_prior!r}")
        self.image_prior = image_prior
        self.kernel_prior = kernel_prior
        self.iterations = int(within("iterations", iterations, 0.0, 1e6))
        self.weight_decay = within("weight_decay", weight_decay, 0.0, 100.0)
        self.min_weight_scale = within("min_weight_scale", min_weight_scale, 0.0, 1.0)
        self.cg_iterations = int(within("cg_iterations", cg_iterations, 0.0, 1e6))
        self.kernel_threshold = float(kernel_threshold)
        if not 0 <= self.kernel_threshold < 1:
            raise InputError(f"kernel_threshold must be in [0, 1), got {kernel_threshold}")
        self.min_component = float(min_component)
        if not 0 <= self.min_component < 1:
            raise InputError(f"min_component must be in [0, 1), got {min_component}")
        self.saturation = None if saturation is None else within("saturation", saturation, 0.0, 1.0)
        self.dark_channel = positive("dark_channel", dark_channel, allow_zero=True)
        self.dark_patch = odd_size(dark_patch)
        self.noise_weight = None if noise_weight is None else positive("noise_weight", noise_weight)
        self.levels = count("levels", levels, 1)
        self.scale_ratio = within("scale_ratio", scale_ratio, 0.0, 0.95)
        self.coarsest = _kernel_side(coarsest)

    def usable(self, y: torch.Tensor) -> torch.Tensor | None:
        """The pixels of ``y`` (B, C, H, W) to fit, as (B, 1, H, W) bool: all but the clipped ones;
        ``None`` when every pixel is (no saturation level, or nothing clipped)."""
        if self.saturation is None:
            return None
        clipped = saturation_mask(y, self.saturation)
        return None if not bool(clipped.any()) else ~clipped

    def params(self) -> dict[str, Any]:
        """The resolved parameters (JSON-serialisable)."""
        return {
            "image_prior": repr(self.image_prior),
            "kernel_prior": repr(self.kernel_prior),
            "iterations": self.iterations,
            "weight_decay": self.weight_decay,
            "min_weight_scale": self.min_weight_scale,
            "cg_iterations": self.cg_iterations,
            "kernel_threshold": self.kernel_threshold,
            "min_component": self.min_component,
            "saturation": self.saturation,
            "dark_channel": self.dark_channel,
            "dark_patch": self.dark_patch,
            "noise_weight": self.noise_weight,
            "levels": self.levels,
            "scale_ratio": self.scale_ratio,
            "coarsest": self.coarsest,
        }

    def boost(self, y: torch.Tensor) -> float:
        """The factor raising the latent prior's weight for the noise of ``y`` (``noise_weight``)."""
        weight = float(self.image_prior.weight)
        if self.noise_weight is None or weight <= 0:
            return 1.0
        return max(1.0, self.noise_weight * noise_level(y) ** 2 / weight)

    def alternate(
        self,
        y: torch.Tensor,
        k: torch.Tensor,
        scale: float,
        progress: Progress | None,
        history: dict[str, list[float]] | None,
        label: str,
        usable: torch.Tensor | None = None,
        boost: float = 1.0,
    ) -> tuple[torch.Tensor, float]:
        """``iterations`` latent and kernel steps on ``y`` (1, 1, H, W) from ``k``, starting at the weight
        scale ``scale`` (times ``boost``, :meth:`boost`), fitting the pixels where ``usable`` (bool, like
        ``y``; ``None``: all); returns the kernel and the scale for the next steps. Not differentiable
        (the pruning works on arrays), so the inputs are taken without their autograd history."""
        y, k = y.detach(), k.detach()
        gamma = float(self.kernel_prior.weight)
        size = tuple(k.shape[-2:])
        obs_grads = interior_gradient(y)
        state: dict[str, Any] = {"k": k, "scale": scale, "u": None}

        def step(_: int) -> dict[str, float]:
            x, state["u"] = l0_latent(
                y,
                state["k"],
                self.image_prior,
                state["scale"] * boost,
                u=state["u"],
                usable=usable,
                dark=self.dark_channel,
                dark_patch=self.dark_patch,
            )
            ls = KernelLeastSquares(interior_gradient(x), obs_grads, size, gamma, usable)
            k_new = prune_kernel(
                ls.solve(state["k"], self.cg_iterations), self.kernel_threshold, self.min_component
            )
            if bool(k_new.sum() > 0):
                state["k"] = k_new
            metrics = {
                "kernel_residual": ls.residual(state["k"]) / ls.masks.sum().item(),
                "weight_scale": state["scale"],
            }
            state["scale"] = max(state["scale"] / self.weight_decay, self.min_weight_scale)
            return metrics

        iterate(step, MaxSteps(self.iterations), stage=label, progress=progress or silent, history=history)
        return state["k"], state["scale"]

    def pyramid(self, size: int) -> list[int]:
        """Kernel sides from the finest level (``size``) to the coarsest (about ``coarsest``)."""
        levels = max(math.floor(math.log(self.coarsest / size) / math.log(self.scale_ratio)), 0) + 1
        return [_odd(math.ceil(size * self.scale_ratio**s)) for s in range(levels)]

    def coarse_to_fine(
        self,
        y: torch.Tensor,
        sizes: list[int],
        k: torch.Tensor | None = None,
        progress: Progress | None = None,
        history: dict[str, list[float]] | None = None,
        stage: str = "",
        usable: torch.Tensor | None = None,
        scale: float = 1.0,
    ) -> torch.Tensor:
        """The kernel of the gray ``y`` estimated over the pyramid levels ``sizes`` (finest first),
        coarsest first, the weight scale starting at ``scale``. The coarsest level starts from ``k`` (of the
        finest size) shrunk onto it, or from two taps when ``k`` is ``None``."""
        boost = self.boost(y)
        for level, s in enumerate(reversed(range(len(sizes)))):
            ks, f = sizes[s], self.scale_ratio**s
            ys = _downscale(y, f)
            us = None if usable is None else _downscale((~usable).to(y.dtype), f) == 0
            if k is None:  # two taps as in Pan et al.'s code: a delta start tends to stay one
                k = torch.zeros(1, 1, ks, ks, dtype=y.dtype, device=y.device)
                k[..., ks // 2, ks // 2 : ks // 2 + 2] = 0.5
            else:  # the given kernel shrunk onto the coarsest level, then each level's magnified
                k = rescale_kernel(k.to(y), f if level == 0 else 1 / self.scale_ratio, ks)
            k, scale = self.alternate(
                ys, k, scale, progress, history, f"{stage}scale {level + 1}/{len(sizes)}", us, boost
            )
            k = center(k)
        return k

    def refine(
        self,
        y: torch.Tensor,
        k: torch.Tensor,
        progress: Progress | None = None,
        history: dict[str, list[float]] | None = None,
    ) -> torch.Tensor:
        """Kernel ``k`` (1, 1, h, w) of the gray ``y`` (1, 1, H, W) refined on the whole observation.

        With ``levels`` 1, ``iterations`` alternations at the floor weight scale ``min_weight_scale``,
        started from ``k`` instead of the coarser level: a kernel found by another method (or on a window
        of ``y``) is fitted to the whole observation. With more, the last ``levels`` levels of the
        coarse-to-fine pyramid, the coarsest started from ``k`` shrunk onto it (:meth:`coarse_to_fine`),
        at the weight scale the method's own schedule has on entering that level.
        Pruned as every estimate here, and centred.
        """
        if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[:2] != (1, 1):
            raise InputError(f"image must be a (1, 1, H, W) tensor, got {tuple(getattr(y, 'shape', ()))}")
        if not isinstance(k, torch.Tensor) or k.ndim != 4 or k.shape[:2] != (1, 1):
            raise InputError(f"kernel must be a (1, 1, h, w) tensor, got {tuple(getattr(k, 'shape', ()))}")
        if 2 * max(k.shape[-2:]) > min(y.shape[-2:]):
            raise InputError(f"kernel {tuple(k.shape[-2:])} is too large for a {tuple(y.shape[-2:])} image")
        if self.levels > 1 and k.shape[-2] == k.shape[-1]:
            sizes = self.pyramid(k.shape[-1])
            skipped = max(len(sizes) - self.levels, 0) * self.iterations
            scale = max(self.weight_decay**-skipped, self.min_weight_scale)  # where the method's would be
            return self.coarse_to_fine(
                y, sizes[: self.levels], k, progress, history, "refine ", self.usable(y), scale
            )
        k, _ = self.alternate(
            y, k.to(y), self.min_weight_scale, progress, history, "refine", self.usable(y), self.boost(y)
        )
        return center(k)

    def refine_best(
        self,
        y: torch.Tensor,
        kernels: torch.Tensor,
        progress: Progress | None = None,
        history: dict[str, list[float]] | None = None,
    ) -> tuple[torch.Tensor, int]:
        """Each of the draws ``kernels`` (N, 1, h, w) refined on ``y`` (:meth:`refine`); returns the refined
        kernel whose last alternation fits the observation's gradients best (the lowest kernel residual),
        and its index. Only the chosen refinement's curves go into ``history``."""
        if len(kernels) == 0:
            raise InputError("refine_best needs at least one kernel")
        best: tuple[float, int, torch.Tensor, dict[str, list[float]]] | None = None
        for i, draw in enumerate(kernels):
            own: dict[str, list[float]] = {}
            refined = self.refine(y, draw[None], progress, own)
            residual = own["kernel_residual"][-1] if own.get("kernel_residual") else math.inf
            if best is None or residual < best[0]:
                best = (residual, i, refined, own)
        assert best is not None
        _, index, k, own = best
        if history is not None:
            for name, values in own.items():
                history.setdefault(name, []).extend(values)
        return k, index


class ClassicBlind:
    """Coarse-to-fine alternating MAP blind deblurring (Xu et al. 2013 / Pan et al. 2014 style).

    Args:
        image_prior, kernel_prior, iterations, weight_decay, min_weight_scale, cg_iterations,
            kernel_threshold, min_component, saturation, dark_channel,
            dark_patch, noise_weight: one level's alternation (:class:`ClassicRefiner`).
        nonblind: the final solver ``(y, k) -> x`` on the observation grid (valid boundary).
        kernel_size: odd kernel support, used when the run context gives none.
        scale_ratio, coarsest: the pyramid (:class:`ClassicRefiner`).
        threads: torch intra-op threads while running on the CPU (restored afterwards); ``None`` keeps
            torch's setting. The arrays are small (a few 100k pixels), where thread start-up costs more
            than it saves and a CPU shared with other work makes multi-threaded FFTs far slower.
    """

    def __init__(
        self,
        *,
        image_prior: GradientPrior,
        kernel_prior: QuadraticKernelPrior,
        nonblind: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        kernel_size: int | None = None,
        scale_ratio: float = math.sqrt(0.5),
        coarsest: int = 3,
        iterations: int = 5,
        weight_decay: float = 1.1,
        min_weight_scale: float = 0.05,
        cg_iterations: int = 20,
        kernel_threshold: float = 0.05,
        min_component: float = 0.03,
        saturation: float | None = SATURATION,
        dark_channel: float = 0.0,
        dark_patch: int = 15,
        noise_weight: float | None = NOISE_WEIGHT,
        threads: int | None = 1,
    ) -> None:
        if not callable(nonblind):
            raise InputError(f"nonblind must be a callable (y, k) -> x, got {nonblind!r}")
        self.level = ClassicRefiner(
            image_prior=image_prior,
            kernel_prior=kernel_prior,
            iterations=iterations,
            weight_decay=weight_decay,
            min_weight_scale=min_weight_scale,
            cg_iterations=cg_iterations,
            kernel_threshold=kernel_threshold,
            min_component=min_component,
            saturation=saturation,
            dark_channel=dark_channel,
            dark_patch=dark_patch,
            noise_weight=noise_weight,
            scale_ratio=scale_ratio,
            coarsest=coarsest,
        )
        self.nonblind = nonblind
        self.kernel_size = None if kernel_size is None else _kernel_side(kernel_size)
        if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 1):
            raise InputError(f"threads must be a positive integer or None, got {threads!r}")
        self.threads = threads

    def params(self) -> dict[str, Any]:
        """The resolved parameters (JSON-serialisable), recorded in ``Result.config``."""
        return {
            **self.level.params(),
            "nonblind": repr(self.nonblind),
            "kernel_size": self.kernel_size,
            "threads": self.threads,
        }

    def pyramid(self, size: int) -> list[int]:
        """Kernel sides from the finest level (``size``) to the coarsest (about ``coarsest``)."""
        return self.level.pyramid(size)

    def estimate_kernel(
        self,
        y: torch.Tensor,
        size: int,
        progress: Progress | None = None,
        history: dict[str, list[float]] | None = None,
        stage: str = "",
        usable: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Kernel ``(1, 1, size, size)`` of one gray observation ``y`` (1, 1, H, W), fitted where
        ``usable`` (bool, like ``y``; a pyramid level keeps the pixels whose footprint is all usable)."""
        return self.level.coarse_to_fine(y, self.pyramid(size), None, progress, history, stage, usable)

    def __call__(self, y: torch.Tensor, ctx: RunContext) -> Result:
        """Estimate one kernel per batch item (on the luminance), then deconvolve every channel."""
        if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[1] not in (1, 3):
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise InputError(f"image must be a (B, 1 or 3, H, W) tensor, got {shape}")
        if not y.is_floating_point() or not bool(torch.isfinite(y).all()):
            raise InputError("image must be a floating-point tensor with finite values")
        B, _, H, W = y.shape
        requested = ctx.kernel_size if ctx.kernel_size is not None else self.kernel_size
        size = kernel_size((H, W), None if requested is None else _kernel_side(requested))
        history: dict[str, list[float]] = {}
        with torch_threads(self.threads if y.device.type == "cpu" else None):
            start = time.perf_counter()
            gray = luminance(y)
            kernels = []
            for b in range(B):
                stage = f"image {b + 1}/{B} " if B > 1 else ""
                usable = self.level.usable(y[b : b + 1])
                kernels.append(
                    self.estimate_kernel(gray[b : b + 1], size, ctx.progress, history, stage, usable)
                )
            k = torch.cat(kernels)
            mid = time.perf_counter()
            x = self.nonblind(y, k)
            end = time.perf_counter()
            ctx.progress("non-blind", 1, 1)
        return Result(
            image=x,
            kernel=k,
            history=history,
            timings={"kernel_estimation": mid - start, "nonblind": end - mid},
            config={**self.params(), "kernel_size": size, "seed": ctx.seed},
        )
