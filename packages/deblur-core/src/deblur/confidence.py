r"""How far a blind result can be trusted, measured on its own observation (no ground truth).

A blind method can hand back a worse photo than it was given: a wrong kernel deconvolves into ringing
echoes and amplified noise. :func:`assess` measures, for a result with a uniform kernel, three things a
wrong estimate spoils:

- ``kernel_focus``: the share of the kernel's mass in its largest 8-connected blob (entries above 5% of
  the peak). A camera-shake kernel is one connected trajectory; a scattered cloud means the estimate
  fitted texture or noise.
- ``reblur``: the RMS of ``k * x - y`` over the interior, clipped pixels left out, in units of the
  observation's noise (:func:`deblur.observation.noise_level`): how well the estimate, as handed out
  (in [0, 1]), explains the observation. A sound estimate explains it down to the noise (about 1); a
  wrong kernel cannot be inverted into an image in range that reblurs to ``y``, and leaves several
  noise levels (5-12 measured). Where the image handed out fails this, the kernel is given a second
  chance: ``kernel_reblur`` is the same error for core's HQS deconvolution with that kernel (the
  photo settings of the ``nonblind`` slots), so that a non-blind solver that is not data-consistent
  (a learned one such as ``dwdn``, whose output reblurs to 7-9 noise levels with a correct kernel on
  Levin) does not make a good kernel look wrong. A wrong kernel fails both. The image itself must
  still stay within :data:`MAX_IMAGE_REBLUR` noise levels of explaining the photo, or it is not
  an image of that photo under its own kernel (a solver that brightens, hallucinates or returns noise).
- ``kernel_agreement``: on a photo large enough to cut in two (halves of :data:`MIN_HALF_PIXELS` and
  more, sides of four kernel sizes; Levin's 255 px images are not), the kernel is refitted on each
  half on its own (:data:`HALF_ITERATIONS` alternations of classic's finest level at the weight scale
  :data:`HALF_WEIGHT_SCALE`, from the kernel itself) and this is the MNC of the two refits. Both
  halves are blurred by the same shake, so a sound kernel stays itself on both; a kernel fitted to
  texture, noise or a flat sky (where a deconvolution with any kernel explains the photo, so the
  reblur test cannot tell) is pulled apart by the halves' own data. The same check for every method,
  whatever found the kernel. NaN where not measured.
- ``noise_gain``: the noise level of the estimate over that of the observation, recorded for the user
  but not part of the rule (a correct deconvolution of a dense texture raises it as much as ringing).

The result is ``reliable`` when the kernel is focused, its halves agree (where measured) and it
explains the observation (through the image or through the reference deconvolution) (thresholds
:data:`MIN_FOCUS`, :data:`MIN_AGREEMENT`, :data:`MAX_REBLUR`, calibrated on the realistic set's tuning
cases and checked on the others, see docs/benchmarks.md). :func:`deblur.run` attaches the assessment
to every result that has a kernel; where it says unreliable, it falls back to the input (the most
conservative estimate: a photo is never made worse without notice), keeps the estimate as
``extras["estimate"]`` and ``deblur run`` prints a one-line warning (``--no-fallback`` keeps the
estimate as the result).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import ndimage

from deblur.observation import SATURATION, luminance, noise_level, saturation_mask

__all__ = [
    "HALF_ITERATIONS",
    "HALF_WEIGHT_SCALE",
    "MAX_IMAGE_REBLUR",
    "MAX_REBLUR",
    "MIN_AGREEMENT",
    "MIN_FOCUS",
    "MIN_HALF_PIXELS",
    "Confidence",
    "assess",
    "halves",
    "kernel_agreement",
    "kernel_focus",
]

MIN_FOCUS = 0.6
"""Least share of the kernel's mass in its main blob for a reliable result."""

MIN_AGREEMENT = 0.5
"""Least MNC between the kernel's refits on the two halves of the photo for a reliable result."""

MIN_HALF_PIXELS = 100_000
"""Least pixels of each half for the halves check (photos from about 450 x 450 px)."""

HALF_ITERATIONS = 3
"""Alternations of the refit on each half."""

HALF_WEIGHT_SCALE = 0.2
"""Weight scale of the latent prior in the refit (classic's finest level runs at 0.05). A stronger edge
selection keeps only the edges the kernel must explain; a finer latent can follow almost any kernel.
Measured on the realistic set's tuning cases 40-55 with classic's kernels: the one that lost 7.5 dB
(MNC 0.36 to the truth) refits to an agreement of 0.41 at 0.05 and 0.30 at 0.2, while the kernels that
gained 1 dB or more refit to 0.76-1.0 at 0.05 and 0.58-1.0 at 0.2."""

MAX_REBLUR = 4.0
"""Largest reblur error, in units of the observation's noise, for a reliable kernel."""

MAX_IMAGE_REBLUR = 12.0
"""Largest reblur error of the image handed out when its kernel is reliable: ``dwdn`` with classic's
kernels on Levin reaches 7.2-9.0."""

QUANTISATION = 1 / (255 * 12**0.5)
"""The noise floor of an 8-bit image (uniform rounding error), the unit of ``reblur`` on clean images."""


@dataclass(frozen=True)
class Confidence:
    """The measured trust in a result; ``reasons`` says why it is not ``reliable`` (empty when it is);
    ``fallback`` is set when :func:`deblur.run` handed back the input instead of the estimate."""

    reliable: bool
    kernel_focus: float
    noise_gain: float
    reblur: float
    noise: float
    kernel_reblur: float = float("nan")
    kernel_agreement: float = float("nan")
    reasons: tuple[str, ...] = ()
    fallback: bool = False

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``None`` for a measure that could not be taken (an image too small)."""
        values = {
            key: None if isinstance(v, float) and not math.isfinite(v) else v
            for key, v in asdict(self).items()
        }
        return {**values, "reasons": list(self.reasons)}

    def warning(self) -> str:
        """One line for the user: why the estimate is not trusted and what was done about it."""
        done = "; the input is kept as the result, the estimate beside it" if self.fallback else ""
        return "the estimate may be worse than the input: " + "; ".join(self.reasons) + done


def kernel_focus(k: torch.Tensor, threshold: float = 0.05) -> float:
    """Share of the mass of ``k`` (h, w) in its largest 8-connected blob of entries above ``threshold``
    of the peak (1 for one connected trajectory)."""
    arr = k.detach().to("cpu", torch.float64).clamp_min(0).numpy()
    if arr.max() <= 0:
        return 0.0
    labels, n = ndimage.label(arr > threshold * arr.max(), structure=np.ones((3, 3)))
    mass = ndimage.sum(arr, labels, index=np.arange(1, n + 1))
    return float(mass.max() / arr.sum())


def halves(y: torch.Tensor, size: int, min_pixels: int) -> list[torch.Tensor]:
    """``y`` (..., H, W) cut across its longer side into two halves; empty when a half would have fewer
    than ``min_pixels`` pixels or a side under four times the kernel ``size``."""
    H, W = y.shape[-2:]
    dim = -1 if W >= H else -2
    half = y.shape[dim] // 2
    if half * (H if dim == -1 else W) < min_pixels or min(H, W, half) < 4 * size:
        return []
    return [y.narrow(dim, 0, half), y.narrow(dim, half, y.shape[dim] - half)]


def kernel_agreement(gray: torch.Tensor, kernel: torch.Tensor) -> float:
    """MNC of ``kernel`` (1, 1, h, w) refitted on either half of the gray observation ``gray``
    (1, 1, H, W) by classic's finest level (:class:`~deblur.solvers.classic.ClassicRefiner` with the
    ``classic`` method's priors, :data:`HALF_ITERATIONS` alternations at :data:`HALF_WEIGHT_SCALE`);
    NaN when the photo is too small to cut."""
    from deblur.metrics import kernel_mnc
    from deblur.plugins.slots import CLASSIC_KERNEL_WEIGHT
    from deblur.priors import KernelL2, L0Gradient
    from deblur.solvers.classic import ClassicRefiner

    parts = halves(gray, max(kernel.shape[-2:]), MIN_HALF_PIXELS)
    if not parts:
        return float("nan")
    refiner = ClassicRefiner(
        image_prior=L0Gradient(),
        kernel_prior=KernelL2(CLASSIC_KERNEL_WEIGHT),
        iterations=HALF_ITERATIONS,
        min_weight_scale=HALF_WEIGHT_SCALE,
    )
    first, second = (refiner.refine(part, kernel.to(part)) for part in parts)
    return float(kernel_mnc(first, second))


def _reblur_error(y: torch.Tensor, x: torch.Tensor, k: torch.Tensor) -> float:
    """RMS of ``k * x - y`` on the interior where the blur of ``x`` (on ``y``'s grid) is fully seen,
    clipped pixels left out."""
    from deblur.operators.uniform import convolve

    h, w = k.shape[-2:]
    if y.shape[-2] <= 2 * h or y.shape[-1] <= 2 * w:
        return float("nan")
    reblurred = convolve(x, k, boundary="valid")
    observed = y[..., h // 2 : y.shape[-2] - h // 2, w // 2 : y.shape[-1] - w // 2]
    fitted = ~saturation_mask(observed, SATURATION)
    diff = (reblurred - observed)[fitted.expand_as(observed)]
    return float(diff.square().mean().sqrt()) if diff.numel() else float("nan")


def _reference(gray: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Core's HQS deconvolution of the gray observation with ``k``, as the ``nonblind`` slots of the
    methods run it on photos (:data:`deblur.plugins.slots.PHOTO_NONBLIND`), clipped to [0, 1]."""
    from deblur.plugins.slots import PHOTO_NONBLIND
    from deblur.solvers.hqs import HQSDeconvolver

    return HQSDeconvolver(**PHOTO_NONBLIND)(gray, k.to(gray)).clamp(0.0, 1.0)


def assess(y: torch.Tensor, image: torch.Tensor, kernel: torch.Tensor) -> Confidence:
    """The confidence in a restored ``image`` (1, C, H, W) with the uniform ``kernel`` (1, 1, h, w) of
    the observation ``y`` (1, C, H, W); batches are assessed item by item by the caller."""
    gray_y, gray_x = luminance(y.detach()).double(), luminance(image.detach()).double()
    sigma = noise_level(gray_y)
    focus = kernel_focus(kernel[0, 0])
    gain = noise_level(gray_x) / sigma if sigma > 0 else float("nan")
    k = kernel.detach().double().to(gray_y.device)
    unit = max(sigma, QUANTISATION)
    reblur = _reblur_error(gray_y, gray_x, k) / unit
    kernel_reblur = reblur
    if math.isfinite(reblur) and reblur > MAX_REBLUR:  # NaN: an image too small to measure
        kernel_reblur = _reblur_error(gray_y, _reference(gray_y, k), k) / unit
    agreement = kernel_agreement(gray_y.float(), k.float())  # in float32: the refits are classic's
    reasons = []
    if focus < MIN_FOCUS:
        reasons.append(f"the kernel is scattered ({focus:.0%} of its mass in its main stroke)")
    if agreement < MIN_AGREEMENT:
        reasons.append(f"the two halves of the photo pull the kernel apart (agreement {agreement:.2f})")
    if math.isfinite(reblur) and min(reblur, kernel_reblur) > MAX_REBLUR:
        reasons.append(
            f"it explains the photo only to {reblur:.1f} times its noise (deconvolved by core's hqs with "
            f"its kernel: {kernel_reblur:.1f})"
        )
    elif math.isfinite(reblur) and reblur > MAX_IMAGE_REBLUR:
        reasons.append(
            f"the image explains the photo only to {reblur:.1f} times its noise, although its kernel "
            f"does to {kernel_reblur:.1f}"
        )
    return Confidence(
        reliable=not reasons,
        kernel_focus=focus,
        noise_gain=gain,
        reblur=reblur,
        noise=sigma,
        kernel_reblur=kernel_reblur,
        kernel_agreement=agreement,
        reasons=tuple(reasons),
    )
