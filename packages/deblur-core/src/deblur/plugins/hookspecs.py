"""The hooks through which every component of deblur is registered.

Each hook takes no argument and returns (or yields) records from :mod:`deblur.plugins.records`. Core
registers its own built-ins through the very same hooks. Import ``hookimpl`` from ``deblur``::

    from deblur import hookimpl
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from deblur.plugins.records import (
    BenchmarkRecord,
    ImageNetworkRecord,
    KernelRepresentationRecord,
    MethodRecord,
    OperatorRecord,
    PriorRecord,
    SolverRecord,
    TrainerRecord,
)

PROJECT = "deblur"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def deblur_operators() -> Iterable[OperatorRecord]:
    """Register blur forward models.

    The factory returns an operator object with ``forward(x)`` and ``adjoint(y)``::

        from deblur import hookimpl
        from deblur.plugins import OperatorRecord

        @hookimpl
        def deblur_operators():
            yield OperatorRecord(
                name="gaussian-blur",
                summary="Isotropic Gaussian blur with a fixed width",
                factory="my_plugin.operators:GaussianBlur",  # imported only when used
                provides={"linear", "adjoint", "uniform"},
                citation="",
            )
    """


@hookspec
def deblur_priors() -> Iterable[PriorRecord]:
    """Register image and kernel priors.

    The factory returns an object following a protocol of :mod:`deblur.priors.base` (``penalty``,
    ``shrink`` for gradient priors, ``log_prob`` where offered); ``provides`` names the protocols::

        from deblur import hookimpl
        from deblur.plugins import PriorRecord

        @hookimpl
        def deblur_priors():
            yield PriorRecord(
                name="cauchy-gradient",
                summary="Cauchy (Lorentzian) penalty on image gradients",
                factory="my_plugin.priors:CauchyGradient",
                provides={"image", "penalty", "gradient-shrink"},
            )
    """


@hookspec
def deblur_solvers() -> Iterable[SolverRecord]:
    """Register solvers.

    A non-blind solver's factory returns a callable ``(y, k) -> x``; a blind solver's factory returns a
    callable ``(y, ctx: RunContext) -> Result`` and declares the slots it needs with
    :class:`~deblur.plugins.Requirement`. The registry fills each slot with a component providing the
    listed capabilities, builds it, and passes it to the factory under the slot's name::

        from deblur import hookimpl
        from deblur.plugins import Requirement, SolverRecord

        @hookimpl
        def deblur_solvers():
            yield SolverRecord(
                name="my-blind",
                summary="Alternating minimisation with a pluggable non-blind step",
                factory="my_plugin.solver:MyBlind",  # MyBlind(nonblind=..., iterations=...)
                provides={"blind"},
                requires={
                    "nonblind": Requirement(
                        "solver", {"non-blind"}, default="hqs", summary="final deconvolution"
                    ),
                },
                citation="Doe et al., Blind deblurring, 2024",
            )
    """


@hookspec
def deblur_kernel_representations() -> Iterable[KernelRepresentationRecord]:
    """Register kernel parameterisations (explicit pixels, a network output, a latent code...).

    The kernel size is known only at run time, so the factory takes the parameters and returns a
    *builder* ``builder(size) -> torch.nn.Module``; the module's ``forward()`` gives a (1, 1, size, size)
    kernel on the simplex and ``constrain()`` restores that after an optimiser step (see
    :mod:`deblur.kernels.representation`)::

        from deblur import hookimpl
        from deblur.plugins import KernelRepresentationRecord

        @hookimpl
        def deblur_kernel_representations():
            yield KernelRepresentationRecord(
                name="softmax-pixels",
                summary="Free logits turned into a kernel by a softmax",
                factory="my_plugin.kernels:softmax_pixels",  # softmax_pixels(temperature=1.0) -> builder
                provides={"kernel", "differentiable"},
            )
    """


@hookspec
def deblur_image_networks() -> Iterable[ImageNetworkRecord]:
    """Register networks that generate images (a deep image prior's generator, a learned decoder).

    The factory returns a builder ``(channels, (H, W), *, generator) -> torch.nn.Module`` whose module
    maps its fixed input (and, for ``randomized`` networks, fresh noise and dropout) to images on the
    (H, W) grid; ``provides`` says what more it offers::

        @hookimpl
        def deblur_image_networks():
            yield ImageNetworkRecord(
                name="my-dip",
                summary="A U-Net deep image prior",
                factory="my_plugin.nets:dip_builder",
                provides={"image", "generator"},
            )
    """


@hookspec
def deblur_methods() -> Iterable[MethodRecord]:
    """Register named recipes that users run with ``deblur run NAME``.

    A method names a blind solver, the components for its slots (by slot path, nested slots joined by
    dots) and default parameters (by slot path; ``"solver"`` is the root)::

        from deblur import hookimpl
        from deblur.plugins import MethodRecord

        @hookimpl
        def deblur_methods():
            yield MethodRecord(
                name="my-method",
                summary="My blind solver with a TV final step",
                solver="my-blind",
                components={"nonblind": "hqs", "nonblind.prior": "tv"},
                params={"solver": {"iterations": 200}, "nonblind.prior": {"weight": 2e-3}},
                citation="Doe et al., Blind deblurring, 2024",
            )
    """


@hookspec
def deblur_trainers() -> Iterable[TrainerRecord]:
    """Register training commands, run as ``deblur train NAME``, that make the weights a plugin ships.

    The factory is a function ``train(spec: deblur.training.TrainSpec) -> Path``: it trains with the
    spec's size, steps, seed, device and ``--set`` parameters, runs its loop with
    :func:`deblur.training.fit` (progress, checkpoints, ``--resume``), and writes the weights with
    :func:`deblur.weights.save_weights`, recording ``spec.command`` in the card::

        from deblur import hookimpl
        from deblur.plugins import TrainerRecord

        @hookimpl
        def deblur_trainers():
            yield TrainerRecord(
                name="my-kernel-prior",
                summary="Train my kernel prior on synthetic motion kernels",
                factory="my_plugin.training:train_kernel_prior",
            )
    """


@hookspec
def deblur_benchmarks() -> Iterable[BenchmarkRecord]:
    """Register sections of the benchmark page: the runs each reads and how it is written.

    ``python -m deblur.benchdoc`` makes every declared run whose result is missing and renders the
    page from the results alone, so every figure on it is measured::

        from deblur import hookimpl
        from deblur.plugins import BenchmarkRecord, BenchRun

        @hookimpl
        def deblur_benchmarks():
            yield BenchmarkRecord(
                name="my-method-levin",
                title="My method on Levin",
                render="my_plugin.benchmarks:levin_section",  # (results) -> markdown
                runs=(BenchRun("levin-my-method", ("my-method",), table="levin-blind", montages=True),),
            )
    """
