"""Hook implementations of deblur-gankernel: cheap to import (records only; factories are import strings)."""

from __future__ import annotations

from collections.abc import Iterator

from deblur.plugins import (
    BenchmarkRecord,
    BenchRun,
    KernelRepresentationRecord,
    MethodRecord,
    PriorRecord,
    ScriptRun,
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
)
from deblur.plugins.slots import ESTIMATOR_FORWARD, PHOTO_NONBLIND, kernel_rep_slot

GANKERNEL = (
    "Zhang, Yue, Wang, Zhao & Meng, Blind image deconvolution by generative-based kernel prior and "
    "initializer via latent encoding, ECCV 2024"
)

#: The paper's configuration (Sec. 4.1: SelfDeblur's image network and schedule, whole image), run as
#: the estimator of core's kernel-then-image flow.
PAPER = {
    "solver": {"kernel_size": 31, "crop": None, "kernel_threshold": 0.0, "threads": None},
    "estimator": {
        "steps": 5000,
        "lr_image": 1e-2,
        "lr_kernel": 5e-4,
        "milestones": [0.4, 0.6, 0.8],
        "gamma": 0.5,
        "width": 128,
        "levels": 5,
        "skip": 16,
    },
    "estimator.kernel_rep": {"space": "w", "init": "encoder"},
}

#: The CPU preset: the estimator's defaults on a 128 px textured window, one torch thread (the networks
#: are small); 31 px kernels by default, the size of the first shipped generator; core's photo settings
#: of the non-blind step.
FAST = {"solver": {"kernel_size": 31, "crop": 128, "threads": 1}, "nonblind": PHOTO_NONBLIND}
COMPONENTS = {"estimator": "gankernel", "estimator.kernel_rep": "gan-latent", "nonblind": "hqs"}


@hookimpl
def deblur_priors() -> Iterator[PriorRecord]:
    yield PriorRecord(
        name="gan-kernel-prior",
        summary="Pre-trained GAN kernel generator: sample, project onto its manifold, distance penalty",
        factory="deblur_gankernel.prior:GanKernelPrior",
        provides={"kernel", "penalty", "generator", "projection", "sample", "pretrained"},
        citation=GANKERNEL,
    )


@hookimpl
def deblur_kernel_representations() -> Iterator[KernelRepresentationRecord]:
    yield KernelRepresentationRecord(
        name="gan-latent",
        summary="Kernel on a pre-trained GAN's manifold (feature map w, code z or weights), encoder start",
        factory="deblur_gankernel.representation:gan_latent",
        provides={"kernel", "differentiable", "latent", "pretrained", "initializable"},
        citation=GANKERNEL,
    )


@hookimpl
def deblur_solvers() -> Iterator[SolverRecord]:
    yield SolverRecord(
        name="gankernel",
        summary="Joint Adam on a DIP image and a kernel representation (Algorithm 2): the kernel estimate",
        factory="deblur_gankernel.solver:GanKernelEstimator",
        provides={"kernel-estimator"},
        requires={
            "kernel_rep": kernel_rep_slot("gan-latent"),
            "forward": ESTIMATOR_FORWARD,
        },
        citation=GANKERNEL,
        quick={"steps": 3},
    )


@hookimpl
def deblur_methods() -> Iterator[MethodRecord]:
    yield MethodRecord(
        name="gankernel",
        summary="GAN kernel prior + encoder start, CPU preset: 128 px window, narrow DIP, 1500 steps",
        solver="kernel-then-image",
        components=COMPONENTS,
        params=FAST,
        needs_weights=True,
        citation=GANKERNEL,
    )
    yield MethodRecord(
        name="gankernel-paper",
        summary="GAN kernel prior + encoder start as published: whole image, SelfDeblur DIP, 5000 steps",
        solver="kernel-then-image",
        components=COMPONENTS,
        params=PAPER,
        needs_weights=True,
        citation=GANKERNEL,
    )


@hookimpl
def deblur_trainers() -> Iterator[TrainerRecord]:
    yield TrainerRecord(
        name="gankernel-generator",
        summary="Adversarial training of the kernel generator on camera-shake kernels (Sec. 3.3)",
        factory="deblur_gankernel.train_generator:train",
        citation=GANKERNEL,
    )
    yield TrainerRecord(
        name="gankernel-initializer",
        summary="Collaborative training of the latent-code kernel initializer (Sec. 3.4, Algorithm 1)",
        factory="deblur_gankernel.train_initializer:train",
        citation=GANKERNEL,
    )


#: The paper's Table 3: which variables of the kernel generator the BID process optimises, by run.
SPACES = {
    "w (Eq. 6)": "levin-gankernel",
    "z (Eq. 5)": "levin-gankernel-z",
    "z and the generator": "levin-gankernel-generator",
}
#: The images on which ``bench/gankernel_ceiling.py`` starts the BID process at the true kernel's projection.
CEILING_BID = ("im01_ker03", "im02_ker04", "im03_ker05", "im04_ker07")


LEVIN = ("--kernel-size", "31")  # the generator's size (the protocol)


@hookimpl
def deblur_benchmarks() -> Iterator[BenchmarkRecord]:
    yield BenchmarkRecord(
        name="gankernel",
        title="GAN kernel prior and initializer (deblur-gankernel)",
        render="deblur_gankernel.benchmarks:levin",
        runs=(
            BenchRun("levin-gankernel", ("gankernel",), args=LEVIN, table=LEVIN_BLIND, montages=True),
            BenchRun(  # the larger shipped generator: it holds six of the eight kernels (not 61, 65 px)
                "realistic-gankernel",
                ("gankernel",),
                dataset=REALISTIC,
                args=("--kernel-size", "55"),
                images=REALISTIC_SUBSET,
                table=REALISTIC_BLIND,
            ),
            *(
                BenchRun(
                    name,
                    ("gankernel",),
                    args=(*LEVIN, "--set", f"estimator.kernel_rep.space={space}"),
                    images=LEVIN_ABLATION,
                )
                for name, space in (("levin-gankernel-z", "z"), ("levin-gankernel-generator", "generator"))
            ),
            BenchRun("levin-gankernel-init", ("gankernel",), args=(*LEVIN, "--set", "estimator.steps=1")),
            BenchRun(  # the GAN latent inside DIP-MC, at the learning rate gankernel uses for it
                "levin-dipmc-gan-latent",
                ("dipmc",),
                args=("--use", "estimator.kernel_rep=gan-latent", "--set", "estimator.lr_kernel=0.005"),
                images=LEVIN_ABLATION,
                table=COMPOSITIONS,
            ),
            ScriptRun(
                "gankernel-init",
                ("python", "bench/gankernel_figures.py", "--out", "docs/images", "--json", "{out}"),
            ),
            ScriptRun(
                "gankernel-ceiling",
                (
                    "python",
                    "bench/gankernel_ceiling.py",
                    "--levin",
                    "{levin}",
                    "--bid",
                    ",".join(CEILING_BID),
                    "--json",
                    "{out}",
                ),
            ),
        ),
        order=300,
    )
