"""Resolving recipes and overrides into pipelines, capability checks, and deblur.run on toy parts."""

from __future__ import annotations

import pytest
import torch

from deblur import hookimpl
from deblur.errors import CompositionError, InputError
from deblur.pipeline import resolve_method, resolve_solver, run
from deblur.plugins import MethodRecord, PluginManager, PriorRecord, Requirement, SolverRecord
from deblur.registry import Registry
from deblur.result import Result


class Scale:
    """A 'prior' that only carries a number."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight


class ScaleSolver:
    """A 'blind solver' returning the image times its prior's weight and a delta kernel."""

    def __init__(self, prior: Scale, offset: float = 0.0) -> None:
        self.prior, self.offset = prior, offset

    def __call__(self, y: torch.Tensor, ctx) -> Result:
        ctx.progress("scale", 1, 1)
        kernel = torch.zeros(1, 1, 3, 3)
        kernel[..., 1, 1] = 1
        return Result(image=y * self.prior.weight + self.offset, kernel=kernel, config={"seen": ctx.seed})


class Toy:
    @hookimpl
    def deblur_priors(self):
        yield PriorRecord(name="scale", summary="s", factory=Scale, provides={"image", "number"})

    @hookimpl
    def deblur_solvers(self):
        yield SolverRecord(
            name="scaler",
            summary="s",
            factory=ScaleSolver,
            provides={"blind"},
            requires={"prior": Requirement("prior", {"number"}, default="scale")},
        )

    @hookimpl
    def deblur_methods(self):
        yield MethodRecord(name="toy", summary="toy", solver="scaler", params={"prior": {"weight": 2.0}})


@pytest.fixture
def toy_registry() -> Registry:
    manager = PluginManager(autoload=False)
    manager.register(Toy(), "toy", distribution="toy-dist", version="9")
    return Registry(manager)


def test_classic_resolves_with_core_defaults(registry: Registry) -> None:
    plan = resolve_method(registry, "classic")
    assert {n.path: n.entry.name for n in plan.root.walk()} == {
        "solver": "classic",
        "image_prior": "l0-gradient",
        "kernel_prior": "kernel-l2",
        "nonblind": "hqs",
        "nonblind.prior": "hyper-laplacian",
        "nonblind.forward": "uniform",
    }


def test_overrides_reach_nested_slots(registry: Registry) -> None:
    plan = resolve_method(registry, "classic", {"nonblind.prior": "tv"}, {"nonblind.prior": {"weight": 0.1}})
    prior = plan.root.children["nonblind"].children["prior"]
    assert (prior.entry.name, prior.params) == ("tv", {"weight": 0.1})


@pytest.mark.parametrize("nonblind", ["wiener", "richardson-lucy"])
def test_swapping_a_component_drops_the_recipe_choices_made_for_the_replaced_one(
    registry: Registry, nonblind: str
) -> None:
    # classic's recipe sets nonblind.prior (and its weight) for hqs; other solvers have no such slot
    plan = resolve_method(registry, "classic", {"nonblind": nonblind}, {"solver": {"iterations": 2}})
    assert {n.path: n.entry.name for n in plan.root.walk()} == {
        "solver": "classic",
        "image_prior": "l0-gradient",
        "kernel_prior": "kernel-l2",
        "nonblind": nonblind,
        "nonblind.forward": "uniform",
    }
    assert plan.root.children["kernel_prior"].params == {"weight": 4.0}, "unswapped slots keep theirs"
    result = run(torch.rand(1, 1, 40, 40), "classic", registry=registry, kernel_size=5, nonblind=nonblind)
    assert result.config["solver"]["slots"]["nonblind"]["name"] == nonblind


def test_swapping_a_nested_component_drops_its_recipe_parameters(registry: Registry) -> None:
    plan = resolve_method(registry, "classic", {"nonblind.prior": "tv"})
    assert plan.root.children["nonblind"].children["prior"].params == {}, "tv takes its own default weight"
    same = resolve_method(registry, "classic", {"nonblind": "hqs"})
    assert same.root.children["nonblind"].children["prior"].params == {"weight": 1e-4}, "same choice: kept"


def test_a_user_setting_below_a_swapped_slot_must_exist_there(registry: Registry) -> None:
    with pytest.raises(CompositionError, match=r"no slot 'nonblind.prior' in 'classic'"):
        resolve_method(registry, "classic", {"nonblind": "wiener"}, {"nonblind.prior": {"weight": 1.0}})


def test_capability_mismatch_names_both_sides_and_what_fits(registry: Registry) -> None:
    with pytest.raises(CompositionError) as info:
        resolve_method(registry, "classic", {"kernel_prior": "tv"})
    message = str(info.value)
    assert "'tv' (deblur-core) cannot fill slot 'kernel_prior' of 'classic'" in message
    assert "lacks kernel, quadratic" in message and "priors that fit: kernel-l2" in message


def test_unknown_names_list_what_is_registered(registry: Registry) -> None:
    with pytest.raises(CompositionError, match=r"unknown method 'nope'; registered methods: classic"):
        resolve_method(registry, "nope")
    with pytest.raises(CompositionError, match="unknown solver 'nope'"):
        resolve_method(registry, "classic", {"nonblind": "nope"})
    with pytest.raises(CompositionError, match=r"no slot 'kernel_rep' in 'classic'; its slots are"):
        resolve_method(registry, "classic", {"kernel_rep": "simplex"})


def test_a_blind_method_needs_a_blind_solver(registry: Registry) -> None:
    with pytest.raises(CompositionError, match="solver 'hqs' is not blind; blind solvers: classic"):
        resolve_solver(registry, "hqs", need="blind")


def test_unknown_parameters_are_refused_before_anything_runs(toy_registry: Registry) -> None:
    plan = resolve_method(toy_registry, "toy", params={"prior": {"wieght": 3.0}})
    with pytest.raises(
        CompositionError, match=r"prior 'scale' at 'prior' does not take wieght; it takes: weight"
    ):
        plan.build()


def test_run_builds_with_method_defaults_and_overrides(toy_registry: Registry) -> None:
    image = torch.full((1, 1, 8, 8), 0.25)
    # the toy doubles its input, which its delta kernel cannot explain: kept by fallback=False
    result = run(image, "toy", registry=toy_registry, seed=7, fallback=False)
    assert torch.allclose(result.image, torch.full_like(image, 0.5))
    assert not result.confidence[0].reliable
    assert torch.equal(run(image, "toy", registry=toy_registry).image, image), "the input handed back"
    result = run(
        image, "toy", registry=toy_registry, prior={"weight": 3.0}, solver={"offset": 0.5}, fallback=False
    )
    assert torch.allclose(result.image, torch.ones_like(image)), "clipped once at output"
    assert result.config["solver"]["slots"]["prior"]["params"] == {"weight": 3.0}
    assert result.config["method"] == "toy" and result.config["seen"] == 0
    assert result.timings["total"] >= 0


def test_run_accepts_arrays_and_checks_input(toy_registry: Registry) -> None:
    import numpy as np

    result = run(np.full((8, 8, 3), 64, np.uint8), "toy", registry=toy_registry)
    assert result.image.shape == (1, 3, 8, 8)
    with pytest.raises(InputError, match="non-finite"):
        run(torch.full((1, 1, 8, 8), float("nan")), "toy", registry=toy_registry)
    with pytest.raises(InputError, match="odd"):
        run(torch.zeros(1, 1, 32, 32), "toy", registry=toy_registry, kernel_size=4)
    with pytest.raises(InputError, match="too large for a 32x32 image"):
        run(torch.zeros(1, 1, 32, 32), "toy", registry=toy_registry, kernel_size=31)
    with pytest.raises(InputError, match=r"shape \(B, 1 or 3, H, W\)"):
        run(torch.zeros(1, 2, 8, 8), "toy", registry=toy_registry)


class _AnyOperator:
    """A solver whose slot takes an operator that is uniform or spatially varying."""

    @hookimpl
    def deblur_solvers(self):
        yield SolverRecord(
            name="needs-any",
            summary="test",
            factory="deblur.solvers.wiener:WienerDeconvolver",
            provides={"non-blind"},
            requires={
                "op": Requirement(
                    "operator", {"linear"}, default="uniform", any_of={"uniform", "spatially-varying"}
                )
            },
        )


def test_any_of_requirements_take_a_component_with_one_of_them() -> None:
    from deblur.testing import registry_with

    req = Requirement("operator", {"linear"}, any_of={"uniform", "spatially-varying"})
    assert req.missing(frozenset({"linear", "uniform"})) == []
    assert req.missing(frozenset({"linear"})) == ["one of spatially-varying, uniform"]
    registry = registry_with(_AnyOperator())
    for operator in ("uniform", "kernel-field"):
        plan = resolve_solver(registry, "needs-any", need="non-blind", components={"op": operator})
        assert plan.root.children["op"].entry.name == operator


def test_an_optional_slot_is_left_empty_by_none_and_built_as_none(registry: Registry) -> None:
    plan = resolve_method(registry, "classic")
    assert plan.root.empty == []
    with pytest.raises(CompositionError, match=r"slot 'nonblind' of 'classic' needs a solver providing"):
        resolve_method(registry, "classic", {"nonblind": "none"})
