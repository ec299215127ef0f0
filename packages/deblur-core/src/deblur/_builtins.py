"""Core's own components, registered through the same hooks as any plugin.

Factories are import strings, so listing them imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterator

from deblur.plugins.hookspecs import hookimpl
from deblur.plugins.records import (
    COMPOSITIONS,
    LEVIN_BLIND,
    REALISTIC,
    REALISTIC_BLIND,
    BenchmarkRecord,
    BenchRun,
    KernelRepresentationRecord,
    MethodRecord,
    OperatorRecord,
    PriorRecord,
    Requirement,
    ScriptRun,
    SolverRecord,
)
from deblur.plugins.slots import ANY_FORWARD, CLASSIC_KERNEL_WEIGHT, FFT_FORWARD, PHOTO_NONBLIND

KRISHNAN = "Krishnan & Fergus, Fast image deconvolution using hyper-Laplacian priors, NeurIPS 2009"
PAN = "Pan, Hu, Su & Yang, Deblurring text images via L0-regularized intensity and gradient prior, CVPR 2014"
XU = "Xu, Zheng & Jia, Unnatural L0 sparse representation for natural image deblurring, CVPR 2013"

GRADIENT_PRIOR = {"image", "penalty", "gradient-shrink"}
#: What both spatially varying operators offer (a kernel field, or kernels mixed by weight maps).
SPATIALLY_VARYING = {
    "linear",
    "adjoint",
    "spatially-varying",
    "boundary-valid",
    "boundary-same",
    "differentiable-kernel",
}
#: The priors of one level of the classic alternation (``classic`` and ``classic-refine``).
CLASSIC_PRIORS = {
    "image_prior": Requirement(
        "prior",
        GRADIENT_PRIOR,
        default="l0-gradient",
        summary="prior of the intermediate latent image",
    ),
    "kernel_prior": Requirement(
        "prior",
        {"kernel", "quadratic"},
        default="kernel-l2",
        summary="kernel regulariser of the least-squares step",
    ),
}


@hookimpl
def deblur_operators() -> Iterator[OperatorRecord]:
    yield OperatorRecord(
        name="uniform",
        summary="Spatially uniform blur: true convolution, valid/same/circular, direct or FFT",
        factory="deblur.operators.uniform:UniformBlur",
        provides={
            "linear",
            "adjoint",
            "uniform",
            "boundary-valid",
            "boundary-same",
            "boundary-circular",
            "differentiable-kernel",
        },
    )
    yield OperatorRecord(
        name="kernel-field",
        summary="Spatially varying blur with one kernel per pixel",
        factory="deblur.operators.spatially_varying:KernelFieldBlur",
        provides=SPATIALLY_VARYING,
    )
    yield OperatorRecord(
        name="kernel-basis",
        summary="Spatially varying blur as K kernels mixed by K weight maps",
        factory="deblur.operators.spatially_varying:BasisBlur",
        provides=SPATIALLY_VARYING,
    )


@hookimpl
def deblur_priors() -> Iterator[PriorRecord]:
    yield PriorRecord(
        name="tv",
        summary="Anisotropic total variation on image gradients (soft threshold)",
        factory="deblur.priors.image:TotalVariation",
        provides=GRADIENT_PRIOR,
        citation="Rudin, Osher & Fatemi, Physica D 1992",
    )
    yield PriorRecord(
        name="hyper-laplacian",
        summary="Hyper-Laplacian |grad x|^alpha (alpha=0.8) natural-image prior",
        factory="deblur.priors.image:HyperLaplacian",
        provides=GRADIENT_PRIOR,
        citation=KRISHNAN,
    )
    yield PriorRecord(
        name="l0-gradient",
        summary="L0 norm of image gradients (hard threshold), favours sharp edges",
        factory="deblur.priors.image:L0Gradient",
        provides=GRADIENT_PRIOR,
        citation=XU,
    )
    yield PriorRecord(
        name="kernel-l2",
        summary="Quadratic (Tikhonov) penalty weight*||k||^2 on the kernel",
        factory="deblur.priors.kernel:KernelL2",
        provides={"kernel", "penalty", "quadratic", "log_prob"},
    )
    yield PriorRecord(
        name="kernel-sparsity",
        summary="Sparsity penalty weight*sum k^p (p<1) on the kernel",
        factory="deblur.priors.kernel:KernelSparsity",
        provides={"kernel", "penalty", "log_prob"},
    )
    yield PriorRecord(
        name="dirichlet",
        summary="Symmetric Dirichlet log-density on the kernel simplex",
        factory="deblur.priors.kernel:Dirichlet",
        provides={"kernel", "penalty", "log_prob"},
    )


@hookimpl
def deblur_solvers() -> Iterator[SolverRecord]:
    yield SolverRecord(
        name="wiener",
        summary="Wiener/Tikhonov deconvolution in the Fourier domain with edge tapering",
        factory="deblur.solvers.wiener:WienerDeconvolver",
        provides={"non-blind", "differentiable-kernel"},
        requires={"forward": FFT_FORWARD},
    )
    yield SolverRecord(
        name="hqs",
        summary="Half-quadratic splitting with a gradient prior and the valid boundary model",
        factory="deblur.solvers.hqs:HQSDeconvolver",
        provides={"non-blind", "differentiable-kernel", "boundary-valid", "operator-input"},
        requires={
            "prior": Requirement(
                "prior", GRADIENT_PRIOR, default="hyper-laplacian", summary="image prior on gradients"
            ),
            "forward": FFT_FORWARD,
        },
        citation=KRISHNAN,
        quick={"iterations": 1, "cg_iterations": 3},
    )
    yield SolverRecord(
        name="richardson-lucy",
        summary="Richardson-Lucy with optional TV regularisation, valid boundary model",
        factory="deblur.solvers.richardson_lucy:RichardsonLucy",
        provides={"non-blind", "differentiable-kernel", "boundary-valid", "operator-input"},
        requires={"forward": ANY_FORWARD},
        citation="Richardson 1972; Lucy 1974; Dey et al., TV-regularised RL, 2006",
        quick={"iterations": 5},
    )
    yield SolverRecord(
        name="cg",
        summary="Conjugate gradients on the Tikhonov (gradient) normal equations, any linear operator",
        factory="deblur.solvers.cg:ConjugateGradient",
        provides={"non-blind", "differentiable-kernel", "boundary-valid", "operator-input"},
        requires={"forward": ANY_FORWARD},
        citation="Hestenes & Stiefel, Methods of conjugate gradients for solving linear systems, 1952",
        quick={"iterations": 5},
    )
    yield SolverRecord(
        name="classic",
        summary="Coarse-to-fine alternating MAP with an L0 gradient prior, then non-blind HQS",
        factory="deblur.solvers.classic:ClassicBlind",
        provides={"blind"},
        requires={
            **CLASSIC_PRIORS,
            "nonblind": Requirement(
                "solver",
                {"non-blind"},
                default="hqs",
                summary="final deconvolution with the estimated kernel",
            ),
        },
        citation=f"{XU}; {PAN}",
        quick={"iterations": 1, "cg_iterations": 5},
    )
    yield SolverRecord(
        name="classic-refine",
        summary="Refine a given kernel on the whole image: the finest level of classic's alternation",
        factory="deblur.solvers.classic:ClassicRefiner",
        provides={"kernel-refiner"},
        requires=CLASSIC_PRIORS,
        citation=f"{XU}; {PAN}",
        quick={"iterations": 1, "cg_iterations": 5},
    )
    yield SolverRecord(
        name="kernel-then-image",
        summary="Kernel by a pluggable estimator on a textured window, optional refinement, non-blind step",
        factory="deblur.solvers.kernel_then_image:KernelThenImage",
        provides={"blind"},
        requires={
            "estimator": Requirement(
                "solver", {"kernel-estimator"}, summary="estimates the kernel of the window (the method)"
            ),
            "refiner": Requirement(
                "solver",
                {"kernel-refiner"},
                optional=True,
                summary="refines the kernel on the whole image (not in the papers; 'none' for no refinement)",
            ),
            "nonblind": Requirement(
                "solver",
                {"non-blind"},
                default="hqs",
                summary="final deconvolution with the estimated kernel",
            ),
        },
    )


@hookimpl
def deblur_kernel_representations() -> Iterator[KernelRepresentationRecord]:
    yield KernelRepresentationRecord(
        name="simplex",
        summary="Explicit kernel pixels kept on the simplex by projection after each step",
        factory="deblur.kernels.representation:simplex_kernel",
        provides={"kernel", "differentiable", "explicit"},
    )


@hookimpl
def deblur_methods() -> Iterator[MethodRecord]:
    yield MethodRecord(
        name="classic",
        summary="Classic blind deblurring (L0 alternating MAP + hyper-Laplacian HQS); no weights, CPU",
        solver="classic",
        components={
            "image_prior": "l0-gradient",
            "kernel_prior": "kernel-l2",
            "nonblind": "hqs",
            "nonblind.prior": "hyper-laplacian",
        },
        params={
            "kernel_prior": {"weight": CLASSIC_KERNEL_WEIGHT},
            "nonblind": PHOTO_NONBLIND,
            "nonblind.prior": {"weight": 1e-4},
        },
        citation=f"{XU}; {PAN}",
    )


BENCHMARKS = (
    BenchmarkRecord(
        name="operator-speed",
        title="Uniform blur operator against scipy",
        render="deblur.benchsections:operator_speed",
        runs=(ScriptRun("operator-speed", ("python", "bench/operator_speed.py", "--out", "{out}")),),
        order=10,
    ),
    BenchmarkRecord(
        name="levin-nonblind",
        title="Non-blind solvers with the true kernel (Levin)",
        render="deblur.benchsections:levin_nonblind",
        runs=(
            BenchRun(
                "levin-nonblind", ("true-kernel:wiener", "true-kernel:hqs", "true-kernel:richardson-lucy")
            ),
        ),
        order=20,
    ),
    BenchmarkRecord(
        name="levin-blind",
        title="Blind methods (Levin)",
        render="deblur.benchsections:levin_blind",
        runs=(BenchRun("levin-classic", ("classic",), table=LEVIN_BLIND, montages=True),),
        order=30,
    ),
    BenchmarkRecord(
        name="realistic-blind",
        title="Blind methods on realistic photos",
        render="deblur.benchsections:realistic_blind",
        runs=(
            BenchRun(
                "realistic-classic", ("classic",), dataset=REALISTIC, table=REALISTIC_BLIND, montages=True
            ),
            # the ceiling of every method's last step: core's photo hqs given the true kernel
            BenchRun(
                "realistic-true-kernel",
                ("true-kernel:hqs",),
                dataset=REALISTIC,
                args=tuple(a for key, v in PHOTO_NONBLIND.items() for a in ("--set", f"solver.{key}={v}")),
            ),
        ),
        order=40,
    ),
    BenchmarkRecord(
        name="compositions",
        title="Compositions across packages",
        render="deblur.benchsections:compositions",
        runs=tuple(
            BenchRun(
                f"levin-classic-{solver}",
                ("classic",),
                args=("--use", f"nonblind={solver}"),
                table=COMPOSITIONS,
            )
            for solver in ("richardson-lucy", "cg", "wiener")
        ),
        order=900,
    ),
    BenchmarkRecord(
        name="real-photo",
        title="A real motion-blurred photo",
        render="deblur.benchsections:real_photo",
        runs=(ScriptRun("clock-motion", ("python", "bench/clock_motion.py", "--json", "{out}")),),
        order=90,
    ),
)


@hookimpl
def deblur_benchmarks() -> Iterator[BenchmarkRecord]:
    yield from BENCHMARKS
