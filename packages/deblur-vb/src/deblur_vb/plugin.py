"""Hook implementations of deblur-vb: cheap to import (records only; factories are import strings)."""

from __future__ import annotations

from collections.abc import Iterator

from deblur.plugins import (
    BenchmarkRecord,
    BenchRun,
    KernelRepresentationRecord,
    MethodRecord,
    ScriptRun,
    SolverRecord,
    TrainerRecord,
    hookimpl,
)
from deblur.plugins.records import (
    COMPOSITIONS,
    LEVIN_BLIND,
    REALISTIC,
    REALISTIC_BLIND,
    REALISTIC_SUBSET,
)
from deblur.plugins.slots import PHOTO_NONBLIND, classic_refine

VB = (
    "Wang, Yue, Zhao & Meng, A Deep Variational Bayesian Framework for Blind Image Deblurring, "
    "arXiv 2106.02884 (2021)"
)

#: ``vb-refine``, the CPU default: Kernel-Net's mean kernel polished on the whole image by core's
#: ``classic-refine`` over every pyramid level from it (with the ``classic`` method's kernel weight),
#: then core's photo HQS. Neither stage is in the paper; ``vb`` and ``vb-kd`` run without them.
REFINE_COMPONENTS = {"estimator": "vb-kernel", "refiner": "classic-refine", "nonblind": "hqs"}
REFINE_LEVELS = 8
REFINE = {"solver": {"threads": 1}, **classic_refine(levels=REFINE_LEVELS), "nonblind": PHOTO_NONBLIND}


@hookimpl
def deblur_solvers() -> Iterator[SolverRecord]:
    yield SolverRecord(
        name="vb",
        summary="Amortised posterior in one pass: Gaussian image (Deblur-Net), Dirichlet kernel (Kernel-Net)",
        factory="deblur_vb.solver:VBSolver",
        provides={"blind", "pretrained"},
        citation=VB,
        quick={"draws": 2},
    )
    yield SolverRecord(
        name="vb-kernel",
        summary="Kernel-Net's posterior mean kernel of the window (a kernel estimator for any blind flow)",
        factory="deblur_vb.solver:VBKernelEstimator",
        provides={"kernel-estimator", "pretrained"},
        citation=VB,
    )
    yield SolverRecord(
        name="vb-deblurnet",
        summary="Kernel-dependent Deblur-Net (SFT-conditioned U-Net): the posterior mean given a kernel",
        factory="deblur_vb.solver:KDDeblurNet",
        provides={"non-blind", "pretrained"},
        citation=VB,
    )


@hookimpl
def deblur_kernel_representations() -> Iterator[KernelRepresentationRecord]:
    yield KernelRepresentationRecord(
        name="vb-kernel-init",
        summary="Simplex kernel pixels started from Kernel-Net's posterior mean of the observation",
        factory="deblur_vb.representation:kernel_net_init",
        provides={"kernel", "differentiable", "pretrained"},
        citation=VB,
    )


@hookimpl
def deblur_methods() -> Iterator[MethodRecord]:
    yield MethodRecord(
        name="vb",
        summary="VBDeblurNet, kernel-free posterior (Eq. 8-9): one forward pass, image and kernel with std",
        solver="vb",
        needs_weights=True,
        citation=VB,
    )
    yield MethodRecord(
        name="vb-kd",
        summary="VBDeblurNet, kernel-dependent posterior (Eq. 10-11): the image given Kernel-Net's kernels",
        solver="vb",
        params={"solver": {"structure": "kd"}},
        needs_weights=True,
        citation=VB,
    )
    yield MethodRecord(
        name="vb-refine",
        summary="Kernel-Net's kernel polished by classic-refine on the whole photo, then HQS (CPU default)",
        solver="kernel-then-image",
        components=REFINE_COMPONENTS,
        params=REFINE,
        needs_weights=True,
        citation=VB,
    )


#: The paper's home ground: rendered text (Hradis et al.'s protocol), and the MSE baselines' weights.
TEXT = "text:32"
MSE_WEIGHTS = "bench/weights/mse-{}-31"


@hookimpl
def deblur_benchmarks() -> Iterator[BenchmarkRecord]:
    yield BenchmarkRecord(
        name="vb",
        title="Deep variational Bayes (deblur-vb)",
        render="deblur_vb.benchmarks:section",
        runs=(
            BenchRun("levin-vb", ("vb", "vb-kd", "vb-refine"), table=LEVIN_BLIND),
            BenchRun("levin-vb-kernel-net", ("vb-refine",), args=("--use", "refiner=none")),
            BenchRun("text-vb", ("vb", "vb-kd", "vb-refine", "classic"), dataset=TEXT),
            *(
                BenchRun(
                    f"text-vb-mse-{s}",
                    (m,),
                    dataset=TEXT,
                    args=("--set", f"solver.weights={MSE_WEIGHTS.format(s)}"),
                )
                for s, m in (("kf", "vb"), ("kd", "vb-kd"))
            ),
            BenchRun(
                "realistic-vb-refine",
                ("vb-refine",),
                dataset=REALISTIC,
                images=REALISTIC_SUBSET,
                table=REALISTIC_BLIND,
            ),
            ScriptRun("vb-calibration", ("python", "bench/vb_calibration.py", "--json", "{out}")),
            # the KD Deblur-Net as classic's last step
            BenchRun(
                "levin-classic-vb-deblurnet",
                ("classic",),
                args=("--use", "nonblind=vb-deblurnet"),
                table=COMPOSITIONS,
            ),
        ),
        order=600,
    )


@hookimpl
def deblur_trainers() -> Iterator[TrainerRecord]:
    yield TrainerRecord(
        name="vb-kf",
        summary="Deblur-Net + Kernel-Net, kernel-free posterior, by the ELBO of Eq. 13 (or MSE: Table 1)",
        factory="deblur_vb.train:train",
        citation=VB,
    )
    yield TrainerRecord(
        name="vb-kd",
        summary="Deblur-Net with SFT kernel conditioning + Kernel-Net, by the ELBO of Eq. 14 (or MSE)",
        factory="deblur_vb.train:train",
        citation=VB,
    )
