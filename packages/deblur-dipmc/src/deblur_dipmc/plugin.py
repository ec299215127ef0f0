"""Hook implementations of deblur-dipmc: cheap to import (records only; factories are import strings)."""

from __future__ import annotations

from collections.abc import Iterator

from deblur.plugins import (
    BenchmarkRecord,
    BenchRun,
    ImageNetworkRecord,
    KernelRepresentationRecord,
    MethodRecord,
    Requirement,
    ScriptRun,
    SolverRecord,
    hookimpl,
)
from deblur.plugins.records import LEVIN_ABLATION, LEVIN_BLIND, REALISTIC, REALISTIC_BLIND, REALISTIC_SUBSET
from deblur.plugins.slots import ESTIMATOR_FORWARD, PHOTO_NONBLIND, classic_refine, kernel_rep_slot

DIPMC = (
    "Li, Nan & Ji, Un-supervised learning for blind image deconvolution via Monte-Carlo sampling, "
    "Inverse Problems 38 (2022)"
)
SELFDEBLUR = "Ren, Zhang, Wang, Hu & Zuo, Neural blind deconvolution using deep priors, CVPR 2020"

#: The paper's configuration (Sec. 3.1) by slot path: the estimator's schedule, the whole image, the
#: kernel as the network gives it, no refinement; the factories' defaults are the ``fast`` preset.
PAPER = {
    "solver": {"crop": None, "kernel_threshold": 0.0, "center_kernel": False, "threads": None},
    "estimator": {
        "steps": 5000,
        "samples": 1,
        "mu": 1e-4,
        "lr_image": 1e-2,
        "lr_kernel": 1e-4,
        "lr_switch": 0.6,
        "lr_decay": 0.5,
        "dropout": 0.3,
        "dropout_end": 0.001,
        "dropout_switch": 0.3,
        "noise": "auto",
        "noise_end": 0.001,
        "noise_switch": 0.7,
        "early_stop": 0.0,
        "mc_samples": 10,
    },
    "estimator.image_net": {"width": 128, "levels": 6, "skip": 16},
    "estimator.kernel_rep": {"width": 64, "levels": 4},
}

#: Both presets run DIP-MC as the estimator of core's kernel-then-image flow.
ESTIMATOR = {"estimator": "dipmc", "estimator.image_net": "dipmc-image-generator", "nonblind": "hqs"}
#: The ``fast`` preset is the factories' defaults with SelfDeblur's fully-connected kernel generator,
#: which recovered thin motion paths where the U-Net kernel gave blobs in short CPU runs, and the kernel
#: refined on the whole image by core's ``classic-refine`` (not in the paper).
FAST_COMPONENTS = {**ESTIMATOR, "estimator.kernel_rep": "fcn-kernel", "refiner": "classic-refine"}
PAPER_COMPONENTS = {**ESTIMATOR, "estimator.kernel_rep": "dipmc-kernel-net"}
#: The fast preset: a 128 px textured window, the softmax floor cut at 5% of the peak, one torch thread
#: (the networks are small: two threads gain ~20% on an idle 2-core machine and lose several times over
#: on a loaded one); the refinement prunes at 2% of the peak with the ``classic`` method's kernel weight
#: (deblur.plugins.slots.CLASSIC_KERNEL_WEIGHT).
FAST = {
    "solver": {"crop": 128, "kernel_threshold": 0.05, "threads": 1},
    **classic_refine(iterations=5, kernel_threshold=0.02),
    "nonblind": PHOTO_NONBLIND,
}


@hookimpl
def deblur_image_networks() -> Iterator[ImageNetworkRecord]:
    yield ImageNetworkRecord(
        name="dipmc-image-generator",
        summary="Randomized DIP image generator G_x(z + eps; theta, M) with input noise and dropout",
        factory="deblur_dipmc.generators:image_generator",
        provides={"image", "generator", "randomized"},
        citation=DIPMC,
    )


@hookimpl
def deblur_kernel_representations() -> Iterator[KernelRepresentationRecord]:
    yield KernelRepresentationRecord(
        name="dipmc-kernel-net",
        summary="Small U-Net on a fixed input ending in a softmax (DIP-MC's G_k)",
        factory="deblur_dipmc.kernels:kernel_net",
        provides={"kernel", "differentiable", "network", "randomizable"},
        citation=DIPMC,
    )
    yield KernelRepresentationRecord(
        name="fcn-kernel",
        summary="Fully-connected net from a fixed code to softmax kernel logits (SelfDeblur)",
        factory="deblur_dipmc.kernels:fcn_kernel",
        provides={"kernel", "differentiable", "network", "randomizable"},
        citation=SELFDEBLUR,
    )


@hookimpl
def deblur_solvers() -> Iterator[SolverRecord]:
    yield SolverRecord(
        name="dipmc",
        summary="Monte-Carlo MAP_k kernel estimate with a randomized deep image prior (Algorithm 1)",
        factory="deblur_dipmc.solver:DIPMC",
        provides={"kernel-estimator"},
        requires={
            "image_net": Requirement(
                "image_network",
                {"image", "generator", "randomized"},
                default="dipmc-image-generator",
                summary="randomized image generator G_x",
            ),
            "kernel_rep": kernel_rep_slot("dipmc-kernel-net"),
            "forward": ESTIMATOR_FORWARD,
        },
        quick={"steps": 3, "mc_samples": 2},
        citation=DIPMC,
    )


@hookimpl
def deblur_methods() -> Iterator[MethodRecord]:
    yield MethodRecord(
        name="dipmc",
        summary="DIP-MC, CPU preset: textured 128 px window, narrow nets, 2500 steps; no weights",
        solver="kernel-then-image",
        components=FAST_COMPONENTS,
        params=FAST,
        citation=DIPMC,
    )
    yield MethodRecord(
        name="dipmc-paper",
        summary="DIP-MC as published: whole image, 6x128 generator, 5000 steps (GPU-sized)",
        solver="kernel-then-image",
        components=PAPER_COMPONENTS,
        params=PAPER,
        citation=DIPMC,
    )


@hookimpl
def deblur_benchmarks() -> Iterator[BenchmarkRecord]:
    full = BenchRun("levin-dipmc", ("dipmc",), table=LEVIN_BLIND, montages=True)
    yield BenchmarkRecord(
        name="dipmc-monte-carlo",
        title="DIP-MC: what the Monte-Carlo randomization buys (Sec. 3.5, Table 5)",
        render="deblur_dipmc.benchmarks:monte_carlo",
        runs=(
            full,
            BenchRun(
                "levin-dipmc-no-mc",
                ("dipmc",),
                args=("--set", "estimator.randomize=none"),
                images=LEVIN_ABLATION,
            ),
        ),
        order=200,
    )
    yield BenchmarkRecord(
        name="dipmc-paper-preset",
        title="DIP-MC: the paper preset",
        render="deblur_dipmc.benchmarks:paper_preset",
        runs=(
            ScriptRun(
                "dipmc-step-time",
                ("python", "bench/dipmc_step_time.py", "--levin", "{levin}", "--out", "{out}"),
            ),
        ),
        order=210,
    )
    unrefined = "bench/out/levin-dipmc-no-refine"  # its kernels feed the variants
    yield BenchmarkRecord(
        name="dipmc-refinement",
        title="DIP-MC: refining the kernel on the whole image (not in the paper)",
        render="deblur_dipmc.benchmarks:refinement",
        runs=(
            full,
            # gathered into core's realistic table: the refinement is what carries DIP-MC's window
            # estimate to a 1000 px photo
            BenchRun(
                "realistic-dipmc",
                ("dipmc",),
                dataset=REALISTIC,
                images=REALISTIC_SUBSET,
                table=REALISTIC_BLIND,
            ),
            BenchRun(
                "levin-dipmc-no-refine",
                ("dipmc",),
                args=("--use", "refiner=none"),
                images=LEVIN_ABLATION,
            ),
            ScriptRun(
                "dipmc-refine-variants",
                (
                    "python",
                    "bench/dipmc_refine_variants.py",
                    "--levin",
                    "{levin}",
                    "--run",
                    unrefined,
                    "--out",
                    "{out}",
                ),
            ),
        ),
        order=220,
    )
