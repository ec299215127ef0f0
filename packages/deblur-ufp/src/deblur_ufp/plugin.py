"""Hook implementations of deblur-ufp: cheap to import (records only; factories are import strings)."""

from __future__ import annotations

from collections.abc import Iterator

from deblur.plugins import (
    BenchmarkRecord,
    BenchRun,
    KernelRepresentationRecord,
    MethodRecord,
    PriorRecord,
    Requirement,
    ScriptRun,
    SolverRecord,
    TrainerRecord,
    hookimpl,
)
from deblur.plugins.records import COMPOSITIONS, LEVIN_ABLATION, LEVIN_BLIND, SYNTHETIC_SV
from deblur.plugins.slots import PHOTO_NONBLIND

UFP = (
    "Fang, Wu, Zhang & Zhang, Self-supervised Non-uniform Kernel Estimation with Flow-based Motion Prior "
    "for Blind Image Deblurring, CVPR 2023"
)

#: ``ufp-hqs``: core's HQS on the estimated field's operator (conjugate gradients inside the splitting),
#: with core's photo settings and the ``classic`` method's final prior weight.
HQS_COMPONENTS = {"nonblind": "hqs", "nonblind.prior": "hyper-laplacian"}
HQS_PARAMS = {
    "nonblind": {**PHOTO_NONBLIND, "iterations": 1, "cg_iterations": 5},
    "nonblind.prior": {"weight": 1e-4},
}


@hookimpl
def deblur_priors() -> Iterator[PriorRecord]:
    yield PriorRecord(
        name="ufp-flow",
        summary="Normalizing-flow motion prior: exact log density, score, sample, encode/decode (19, 31 px)",
        factory="deblur_ufp.prior:FlowKernelPrior",
        provides={"kernel", "penalty", "log_prob", "score", "sample", "latent", "pretrained"},
        citation=UFP,
    )


@hookimpl
def deblur_kernel_representations() -> Iterator[KernelRepresentationRecord]:
    yield KernelRepresentationRecord(
        name="ufp-flow-latent",
        summary="Kernel decoded by the frozen flow from its latent z, the only parameter",
        factory="deblur_ufp.representation:flow_latent",
        provides={"kernel", "differentiable", "latent", "pretrained"},
        citation=UFP,
    )


@hookimpl
def deblur_solvers() -> Iterator[SolverRecord]:
    yield SolverRecord(
        name="ufp",
        summary="Kernel field by the flow-latent estimator, then the kernel-attention network or a solver",
        factory="deblur_ufp.solver:UFPSolver",
        provides={"blind", "spatially-varying"},
        requires={
            "nonblind": Requirement(
                "solver",
                {"non-blind", "operator-input"},
                optional=True,
                summary="deconvolves the estimated field's operator instead of the network (ufp-hqs)",
            )
        },
        citation=UFP,
    )


@hookimpl
def deblur_methods() -> Iterator[MethodRecord]:
    yield MethodRecord(
        name="ufp",
        summary="UFPNet, CPU preset: flow-latent kernels on a ~32 px grid, kernel-attention NAFNet",
        solver="ufp",
        needs_weights=True,
        citation=UFP,
    )
    yield MethodRecord(
        name="ufp-hqs",
        summary="UFPNet's kernel field deconvolved by core's HQS (the kernel estimate on its own)",
        solver="ufp",
        components=HQS_COMPONENTS,
        params=HQS_PARAMS,
        needs_weights=True,
        citation=UFP,
    )
    yield MethodRecord(
        name="ufp-paper",
        summary="UFPNet with per-pixel kernels (the paper's layout), kernel-attention NAFNet",
        solver="ufp",
        params={"solver": {"layout": "pixel"}},
        needs_weights=True,
        citation=UFP,
    )


@hookimpl
def deblur_trainers() -> Iterator[TrainerRecord]:
    yield TrainerRecord(
        name="ufp-flow",
        summary="The flow motion prior (RealNVP) by maximum likelihood on camera-shake kernels (Sec. 3.1)",
        factory="deblur_ufp.train_flow:train",
        citation=UFP,
    )
    yield TrainerRecord(
        name="ufp-estimator",
        summary="Kernel estimator in the flow's latent space with uncertainty, reblur-supervised (Sec. 3.2)",
        factory="deblur_ufp.train_estimator:train",
        citation=UFP,
    )
    yield TrainerRecord(
        name="ufp-deblur",
        summary="Deblurring network with kernel attention on the frozen estimator (Sec. 3.3, Eq. 8)",
        factory="deblur_ufp.train_deblur:train",
        citation=UFP,
    )


#: The flow prior in kdiff's kernel-prior slot (its default pull, kdiff's PRIOR_WEIGHT).
FLOW_PRIOR = ("--use", "estimator.kernel_prior=ufp-flow")
#: The runs of the spatially varying table, in its order (``classic``, ``kdiff``: uniform baselines).
SV_RUNS = ("synthetic-sv-classic", "synthetic-sv-kdiff", "synthetic-sv-ufp", "synthetic-sv-ufp-hqs")


@hookimpl
def deblur_benchmarks() -> Iterator[BenchmarkRecord]:
    yield BenchmarkRecord(
        name="ufp",
        title="Flow-based kernel prior, spatially varying blur (deblur-ufp)",
        render="deblur_ufp.benchmarks:section",
        runs=(
            BenchRun("synthetic-sv-classic", ("classic",), dataset=SYNTHETIC_SV),
            BenchRun("synthetic-sv-ufp", ("ufp",), dataset=SYNTHETIC_SV, montages=True),
            BenchRun("synthetic-sv-ufp-hqs", ("ufp-hqs",), dataset=SYNTHETIC_SV, montages=True),
            BenchRun("levin-ufp", ("ufp",), table=LEVIN_BLIND),
            BenchRun("levin-ufp-hqs", ("ufp-hqs",), table=LEVIN_BLIND),
            ScriptRun("ufp-ablation", ("python", "bench/ufp_ablation.py", "--json", "{out}")),
            # the flow prior and its latent borrowed by other packages' methods
            BenchRun("levin-kdiff-ufp-flow", ("kdiff",), args=FLOW_PRIOR, table=COMPOSITIONS),
            BenchRun("synthetic-sv-kdiff", ("kdiff",), dataset=SYNTHETIC_SV),
            BenchRun(
                "synthetic-sv-kdiff-ufp-flow",
                ("kdiff",),
                dataset=SYNTHETIC_SV,
                args=FLOW_PRIOR,
                table=COMPOSITIONS,
            ),
            BenchRun(
                "levin-dipmc-flow-latent",
                ("dipmc",),
                args=("--use", "estimator.kernel_rep=ufp-flow-latent", "--set", "estimator.lr_kernel=0.005"),
                images=LEVIN_ABLATION,
                table=COMPOSITIONS,
            ),
        ),
        order=500,
    )
