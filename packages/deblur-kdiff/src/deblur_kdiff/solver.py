r"""The kernel estimator ``kdiff``: guided kernel diffusion (Algorithm 1) on the estimation window.

:class:`KdiffEstimator` is the ``estimator`` of core's kernel-then-image flow
(:class:`~deblur.solvers.kernel_then_image.KernelThenImage`), which owns the kernel size, the luminance,
the window, the clean-up and the final ``nonblind`` deconvolution of every channel. On the window it:

1. encodes the observation once (:meth:`~deblur_kdiff.network.KernelDenoiser.condition`);
2. draws ``samples`` kernels in one batch by guided reverse diffusion (Stage I,
   :func:`~deblur_kdiff.sampler.reverse`) over ``steps`` respaced steps (the paper: all 1000), the guide's
   non-blind solver in the reblur loss (the ``guide`` slot; ``none``: unguided, the paper's Table 4
   ablation), the ``kernel_prior`` slot's log density pulling with ``prior_weight`` relative to the
   reblur step (no prior: the paper);
3. keeps the draw with the lowest reblur loss and refines it by Stage II
   (:func:`~deblur_kdiff.sampler.refine`, ``refine_steps`` = J);
4. returns it with every draw (best first): the flow deconvolves the whole observation with each, and
   their per-pixel standard deviation is the Result's uncertainty map.

**Kernel sizes.** The denoiser is trained for one support ``S`` (``weights_size``, 31 px shipped). A
smaller requested kernel is estimated at ``S`` and its centre ``size x size`` kept (the training kernels
span 30-100% of ``S``). A larger one is estimated on the window downscaled by ``S / size`` (area
averaging) and the kernel upsampled to ``size`` (bilinear, renormalised): the blur of a downscaled image
is the downscaled blur. The ``kdiff`` method then polishes every draw on the whole image with core's
``classic-refine`` and keeps the best fit; ``kdiff-paper`` has no such stage.
``deblur train kdiff-diffusion --size N`` trains a denoiser for another support.

Reference: Sanghvi, Chi & Chan, Kernel Diffusion: An Alternate Approach to Blind Deconvolution (arXiv
2023), Sec. 3.3-3.4, Algorithm 1, Appendix E.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from deblur.checks import count, positive
from deblur.context import RunContext
from deblur.errors import CompositionError
from deblur.kernels import center, fit_support
from deblur.solvers.kernel_then_image import KernelEstimate
from deblur_kdiff.diffusion import Schedule, decode
from deblur_kdiff.network import KernelDenoiser, load_denoiser
from deblur_kdiff.sampler import Guidance, KernelPrior, ReblurLoss, refine, reverse

__all__ = ["PRIOR_WEIGHT", "KdiffEstimator", "resize_kernel"]

#: The default pull of a kernel prior in the ``kernel_prior`` slot, relative to the reblur step: chosen
#: on core's synthetic set (docs/compositions.md), not on Levin.
PRIOR_WEIGHT = 0.1

NonBlind = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def resize_kernel(k: torch.Tensor, size: int) -> torch.Tensor:
    """``k`` (1, 1, s, s) resampled to ``size`` px (bilinear), clipped at zero and renormalised."""
    out = F.interpolate(k, size=(size, size), mode="bilinear", align_corners=True).clamp_min(0)
    return out / out.sum().clamp_min(torch.finfo(k.dtype).tiny)


class KdiffEstimator:
    """The ``kdiff`` kernel estimator (see the module docstring).

    Args:
        guide: the non-blind solver of the reblur loss (differentiable in the kernel), or ``None``.
        kernel_prior: a kernel prior with ``log_prob`` (the composition slot), or ``None``.
        steps: reverse diffusion steps (respaced from T = 1000; 1000 is the paper).
        samples: kernels drawn in one batch (N).
        guidance: the step scale ``s`` of Eq. 33 (the paper's 0.1).
        clip: clip :math:`\\hat u_0` to [-1, 1] in the posterior step (not in the paper).
        refine_steps: Stage II gradient steps (J; 0: none).
        sparsity: Stage II's L1 weight, relative to the starting reblur loss.
        refine_lr: Stage II's largest relative step.
        prior_weight: the kernel prior's pull relative to the reblur step (:class:`~deblur_kdiff.sampler.
            Guidance`); ``None``: :data:`PRIOR_WEIGHT` when a prior fills the slot; 0: the prior is off.
        weights_size: the support the denoiser was trained for (shipped: 31).
        weights: a weight stem overriding the shipped file.
    """

    name = "kdiff"

    def __init__(
        self,
        *,
        guide: NonBlind | None = None,
        kernel_prior: KernelPrior | None = None,
        steps: int = 50,
        samples: int = 4,
        guidance: float = 0.1,
        clip: bool = True,
        refine_steps: int = 30,
        sparsity: float = 0.0,
        refine_lr: float = 0.05,
        prior_weight: float | None = None,
        weights_size: int = 31,
        weights: str | Path | None = None,
    ) -> None:
        if guide is not None and not callable(guide):
            raise CompositionError(f"guide must be a non-blind solver (y, k) -> x, got {guide!r}")
        if kernel_prior is not None and not callable(getattr(kernel_prior, "log_prob", None)):
            raise CompositionError(f"kernel_prior must offer log_prob(k), got {kernel_prior!r}")
        self.guide, self.kernel_prior = guide, kernel_prior
        self.steps = count("steps", steps, 1)
        if self.steps > 1000:
            raise CompositionError(f"steps must be at most T = 1000, got {steps}")
        self.samples = count("samples", samples, 1)
        self.guidance = positive("guidance", guidance, allow_zero=True)
        self.clip = bool(clip)
        self.refine_steps = count("refine_steps", refine_steps, 0)
        self.sparsity = positive("sparsity", sparsity, allow_zero=True)
        self.refine_lr = positive("refine_lr", refine_lr)
        if kernel_prior is None and prior_weight:
            raise CompositionError(
                f"prior_weight={prior_weight} needs a kernel prior: fill estimator.kernel_prior "
                "(--kernel-prior NAME)"
            )
        weight = PRIOR_WEIGHT if prior_weight is None else prior_weight
        self.prior_weight = 0.0 if kernel_prior is None else positive("prior_weight", weight, allow_zero=True)
        self.weights_size = count("weights_size", weights_size, 3)
        self.network: KernelDenoiser
        self.network, self.card = load_denoiser(self.weights_size, weights)  # a bad file fails here, early

    def estimate(self, y: torch.Tensor, size: int, ctx: RunContext) -> KernelEstimate:
        """Kernel draws for the window ``y`` (1, 1, H, W): the best refined, then every draw."""
        network = self.network.to(y.device)
        s = self.weights_size
        scale = min(1.0, s / size)
        window = y if scale == 1 else F.interpolate(y, scale_factor=scale, mode="area")
        generator = torch.Generator().manual_seed(ctx.seed)
        history: dict[str, list[float]] = {}
        timings: dict[str, float] = {}
        loss = None if self.guide is None else ReblurLoss(window, self.guide)
        guidance = Guidance(loss, self.guidance, self.kernel_prior, self.prior_weight)

        start = time.perf_counter()
        with torch.no_grad():
            cond = network.condition(window)
        schedule = Schedule.linear().respaced(self.steps)
        u0 = reverse(
            network,
            cond,
            schedule,
            self.samples,
            network.config.size,
            generator,
            clip=self.clip,
            guidance=guidance,
            progress=ctx.progress,
            history=history,
        )
        draws = decode(u0)
        timings["reverse_diffusion"] = time.perf_counter() - start

        start = time.perf_counter()
        scoring = loss or ReblurLoss(window, _wiener())
        with torch.no_grad():
            reblur = scoring(draws)
        order = reblur.argsort()
        draws = draws[order]
        best = refine(
            draws[:1],
            scoring,
            self.refine_steps,
            sparsity=self.sparsity,
            lr=self.refine_lr,
            progress=ctx.progress,
            history=history,
        )
        timings["stage_two"] = time.perf_counter() - start
        draws = torch.cat([best, draws[1:]])
        if size < s:
            draws = fit_support(center(draws), size)
        elif size > s:
            draws = torch.cat([resize_kernel(d[None], size) for d in draws])
        return KernelEstimate(
            kernel=draws[:1],
            kernels=draws,
            history=history,
            timings=timings,
            config={
                "steps": len(schedule),
                "samples": self.samples,
                "reblur": [round(float(v), 8) for v in reblur[order]],
                "weights_size": s,
                "scale": scale,
                "guided": self.guide is not None,
            },
        )

    def __repr__(self) -> str:
        return (
            f"KdiffEstimator(guide={self.guide!r}, kernel_prior={self.kernel_prior!r}, steps={self.steps}, "
            f"samples={self.samples}, refine_steps={self.refine_steps})"
        )


def _wiener() -> NonBlind:
    """Core's Wiener filter: ranks unguided draws by reblur loss when no guide is set."""
    from deblur.solvers.wiener import WienerDeconvolver

    return WienerDeconvolver()
