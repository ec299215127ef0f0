"""Hook implementations of deblur-kdiff: cheap to import (records only; factories are import strings)."""

from __future__ import annotations

from collections.abc import Iterator

from deblur.plugins import (
    BenchmarkRecord,
    BenchRun,
    MethodRecord,
    Requirement,
    SolverRecord,
    TrainerRecord,
    hookimpl,
)
from deblur.plugins.records import (
    COMPOSITIONS,
    LEVIN_ABLATION,
    LEVIN_BLIND,
    REALISTIC,
    REALISTIC_BLIND,
    REALISTIC_SUBSET,
    SYNTHETIC_SV,
)
from deblur.plugins.slots import FFT_FORWARD, PHOTO_NONBLIND, classic_refine

KDIFF = "Sanghvi, Chi & Chan, Kernel Diffusion: An Alternate Approach to Blind Deconvolution, arXiv 2023"
DWDN = (
    "Dong, Roth & Schiele, Deep Wiener Deconvolution: Wiener Meets Deep Learning for Image Deblurring, "
    "NeurIPS 2020"
)

#: The estimator's slots: the non-blind solver of the guidance (optional: ``none`` samples unguided, the
#: paper's Table 4 ablation) and a kernel prior for composition (empty, weight 0: the paper).
ESTIMATOR_SLOTS = {
    "guide": Requirement(
        "solver",
        {"non-blind", "differentiable-kernel"},
        default="wiener",
        optional=True,
        summary="non-blind solver of the reblur loss that guides the sampler ('none': unguided)",
    ),
    "kernel_prior": Requirement(
        "prior",
        {"kernel", "log_prob"},
        optional=True,
        summary="kernel prior whose log density joins the guidance of Stage I (not in the paper)",
    ),
}

#: The paper's protocol (Algorithm 1, Appendix E): all 1000 reverse steps of the linear schedule, the
#: learned DWDN guide and final solver, Stage II, one draw, the whole image, the kernel as sampled.
PAPER_COMPONENTS = {"estimator": "kdiff", "estimator.guide": "dwdn", "nonblind": "dwdn"}
PAPER = {
    "solver": {
        "kernel_size": 31,
        "crop": None,
        "kernel_threshold": 0.0,
        "center_kernel": False,
        "threads": None,
    },
    "estimator": {"steps": 1000, "samples": 1, "clip": False},
}

#: The CPU preset: 50 respaced steps, 4 draws in a batch (the best kept, all deconvolved for the
#: uncertainty map), core's Wiener filter as the guide, a 160 px textured window on one thread, core's
#: kernel-size rule for photos (``min(H, W) // 10`` within [7, 75] px) unless ``--kernel-size``; the kernel
#: draws polished on the whole image by core's ``classic-refine`` over the four finest pyramid levels
#: (with the ``classic`` method's kernel weight), the best fit kept, and the photo deconvolved by core's
#: photo HQS (neither in the paper).
FAST_COMPONENTS = {
    "estimator": "kdiff",
    "estimator.guide": "wiener",
    "refiner": "classic-refine",
    "nonblind": "hqs",
}
FAST = {
    "solver": {"crop": 160, "threads": 1},
    **classic_refine(levels=4),
    "nonblind": PHOTO_NONBLIND,
}


@hookimpl
def deblur_solvers() -> Iterator[SolverRecord]:
    yield SolverRecord(
        name="dwdn",
        summary="Learned non-blind solver: Wiener deconvolution of learned features + decoder (DWDN)",
        factory="deblur_kdiff.dwdn:DWDNDeconvolver",
        provides={"non-blind", "differentiable-kernel", "pretrained"},
        requires={"forward": FFT_FORWARD},
        citation=DWDN,
    )
    yield SolverRecord(
        name="kdiff",
        summary="Guided reverse kernel diffusion + Stage II on the window (Algorithm 1): the kernel estimate",
        factory="deblur_kdiff.solver:KdiffEstimator",
        provides={"kernel-estimator"},
        requires=ESTIMATOR_SLOTS,
        citation=KDIFF,
        quick={"steps": 3, "samples": 2, "refine_steps": 2},
    )


@hookimpl
def deblur_methods() -> Iterator[MethodRecord]:
    yield MethodRecord(
        name="kdiff",
        summary="Kernel diffusion, CPU preset: 50 guided steps x 4 draws, Wiener guide, classic refine, HQS",
        solver="kernel-then-image",
        components=FAST_COMPONENTS,
        params=FAST,
        needs_weights=True,
        citation=KDIFF,
    )
    yield MethodRecord(
        name="kdiff-paper",
        summary="Kernel diffusion as published: 1000 DWDN-guided steps, Stage II, DWDN deconvolution",
        solver="kernel-then-image",
        components=PAPER_COMPONENTS,
        params=PAPER,
        needs_weights=True,
        citation=KDIFF,
    )


@hookimpl
def deblur_trainers() -> Iterator[TrainerRecord]:
    yield TrainerRecord(
        name="kdiff-diffusion",
        summary="Conditional kernel diffusion eps(k_t, y, t): DDPM, linear schedule, EMA (Sec. 3.3, Eq. 17)",
        factory="deblur_kdiff.train_diffusion:train",
        citation=KDIFF,
    )
    yield TrainerRecord(
        name="kdiff-dwdn",
        summary="Learned non-blind solver after DWDN: feature-space Wiener deconvolution + decoder",
        factory="deblur_kdiff.train_dwdn:train",
        citation=DWDN,
    )


#: The paper's Table 4 in spirit, on core's held-out synthetic set: what each stage of Algorithm 1 adds
#: (no refinement stage), then the whole CPU method and the learned solver with the true kernel.
SYNTHETIC = "synthetic:32"
NO_REFINE = ("--use", "refiner=none")
TABLE4 = {
    "synthetic-kdiff-unguided": (
        *NO_REFINE,
        "--use",
        "estimator.guide=none",
        "--set",
        "estimator.refine_steps=0",
    ),
    "synthetic-kdiff-guided": (*NO_REFINE, "--set", "estimator.refine_steps=0"),
    "synthetic-kdiff-stage2": NO_REFINE,
}


@hookimpl
def deblur_benchmarks() -> Iterator[BenchmarkRecord]:
    yield BenchmarkRecord(
        name="kdiff",
        title="Kernel diffusion (deblur-kdiff)",
        render="deblur_kdiff.benchmarks:section",
        runs=(
            BenchRun("levin-kdiff", ("kdiff",), table=LEVIN_BLIND, montages=True),
            BenchRun("levin-kdiff-no-refine", ("kdiff",), args=NO_REFINE),
            BenchRun("levin-kdiff-paper", ("kdiff-paper",), images=LEVIN_ABLATION),
            BenchRun("levin-dwdn", ("true-kernel:dwdn",)),
            *(
                BenchRun(
                    name, ("classic",), dataset=dataset, args=("--use", "nonblind=dwdn"), table=COMPOSITIONS
                )
                for name, dataset in (
                    ("levin-classic-dwdn", "levin:{levin}"),
                    ("synthetic-sv-classic-dwdn", SYNTHETIC_SV),
                )
            ),
            *(BenchRun(name, ("kdiff",), dataset=SYNTHETIC, args=args) for name, args in TABLE4.items()),
            BenchRun("synthetic-kdiff", ("kdiff", "true-kernel:dwdn", "true-kernel:hqs"), dataset=SYNTHETIC),
            BenchRun("synthetic-classic", ("classic",), dataset=SYNTHETIC),
            BenchRun(
                "realistic-kdiff",
                ("kdiff",),
                dataset=REALISTIC,
                images=REALISTIC_SUBSET,
                table=REALISTIC_BLIND,
            ),
        ),
        order=400,
    )
