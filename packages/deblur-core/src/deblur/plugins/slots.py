"""Slot requirements that several plugins declare, written once (every ``forward`` slot holds an
operator builder, kernel -> operator, with the slot's settings bound)."""

from __future__ import annotations

from deblur.plugins.records import Requirement

__all__ = [
    "ANY_FORWARD",
    "CLASSIC_KERNEL_WEIGHT",
    "ESTIMATOR_FORWARD",
    "FFT_FORWARD",
    "PHOTO_NONBLIND",
    "classic_refine",
    "kernel_rep_slot",
]

#: A non-blind solver that inverts one kernel by FFT.
FFT_FORWARD = Requirement(
    "operator", {"uniform"}, default="uniform", summary="blur model, one kernel inverted by FFT"
)
#: An iterative solver that needs only forward and adjoint.
ANY_FORWARD = Requirement(
    "operator", {"linear", "adjoint"}, default="uniform", summary="blur model: any linear operator"
)
#: A kernel estimator's data term, differentiated with respect to the kernel it is built from.
ESTIMATOR_FORWARD = Requirement(
    "operator",
    {"linear", "uniform", "differentiable-kernel"},
    default="uniform",
    summary="blur model of the data term, built from the kernel being estimated",
)


#: Core's ``hqs`` set for photos, the ``nonblind`` parameters of every method's recipe: clipped pixels
#: left out (at the top 8-bit level, deblur.observation.SATURATION; this module must not import torch)
#: and the prior raised to 4 sigma^2 of the photo's noise. Neither acts on Levin's captures, which
#: have no clipped region and noise of about 0.001.
PHOTO_NONBLIND = {"saturation": 0.998, "noise_weight": 4.0}


#: The ``classic`` method's kernel-prior weight gamma (for images in [0, 1]), here so that recipes can use it
#: without importing torch (``deblur.solvers.classic.KERNEL_PRIOR_WEIGHT``).
CLASSIC_KERNEL_WEIGHT = 4.0


def classic_refine(**params: object) -> dict[str, dict[str, object]]:
    """The parameters of core's ``classic-refine`` in a method's ``refiner`` slot: ``params`` for the
    refiner and the ``classic`` method's kernel weight for its kernel prior (``kernel-l2``'s own default,
    1e-3, barely regularises the kernel and costs a refined kernel 0.5-3 dB on Levin)."""
    return {"refiner": dict(params), "refiner.kernel_prior": {"weight": CLASSIC_KERNEL_WEIGHT}}


def kernel_rep_slot(default: str) -> Requirement:
    """A kernel estimator's ``kernel_rep`` slot: a differentiable kernel representation."""
    return Requirement(
        "kernel_representation",
        {"kernel", "differentiable"},
        default=default,
        summary="how the kernel is parameterised while it is estimated",
    )
