"""deblur.compositions: the slots of a method with their fillers, the compositions a registry allows, the
quick settings, and check_composition naming a broken combination."""

from __future__ import annotations

import pytest
import torch

from deblur import hookimpl
from deblur.compositions import compositions, method_slots, quick_params
from deblur.plugins import MethodRecord, PriorRecord, Requirement, SolverRecord
from deblur.plugins.records import NONE
from deblur.result import Result
from deblur.testing import check_composition, registry_with


class Blind:
    """A blind solver: its nonblind slot's output and a delta kernel, or NaN when asked."""

    def __init__(self, nonblind, kernel_prior=None, broken: bool = False, steps: int = 100) -> None:
        self.nonblind, self.broken, self.steps = nonblind, broken, steps

    def __call__(self, y: torch.Tensor, ctx) -> Result:
        k = torch.zeros(1, 1, ctx.kernel_size, ctx.kernel_size)
        k[..., ctx.kernel_size // 2, ctx.kernel_size // 2] = 1
        x = self.nonblind(y, k)
        return Result(image=x * float("nan") if self.broken else x, kernel=k, config={"steps": self.steps})


class Toy:
    @hookimpl
    def deblur_priors(self):
        yield PriorRecord(name="toy-kernel-prior", summary="t", factory=dict, provides={"kernel", "log_prob"})

    @hookimpl
    def deblur_solvers(self):
        yield SolverRecord(
            name="toy-blind",
            summary="t",
            factory=Blind,
            provides={"blind"},
            requires={
                "nonblind": Requirement("solver", {"non-blind"}, default="wiener"),
                "kernel_prior": Requirement("prior", {"kernel", "log_prob"}, optional=True),
            },
            quick={"steps": 2},
        )
        yield SolverRecord(
            name="toy-needy",
            summary="a non-blind solver whose prior slot has no default",
            factory="deblur.solvers.hqs:HQSDeconvolver",
            provides={"non-blind"},
            requires={"prior": Requirement("prior", {"image", "gradient-shrink", "penalty"})},
        )

    @hookimpl
    def deblur_methods(self):
        yield MethodRecord(name="toy", summary="t", solver="toy-blind", params={"solver": {"steps": 50}})
        yield MethodRecord(
            name="toy-prior", summary="t", solver="toy-blind", components={"kernel_prior": "toy-kernel-prior"}
        )
        yield MethodRecord(
            name="toy-broken", summary="t", solver="toy-blind", params={"solver": {"broken": True}}
        )


@pytest.fixture
def registry():
    return registry_with(Toy())


def test_slots_are_listed_depth_first_with_what_fills_them_and_what_fits(registry) -> None:
    views = {v.path: v for v in method_slots(registry, "toy")}
    assert list(views) == ["nonblind", "nonblind.forward", "kernel_prior"]
    assert views["nonblind"].current == "wiener" and "toy-needy" in views["nonblind"].fillers
    assert views["kernel_prior"].current is None and views["kernel_prior"].optional
    assert "toy-kernel-prior" in views["kernel_prior"].fillers and "tv" not in views["kernel_prior"].fillers


def test_compositions_swap_one_slot_fill_required_sub_slots_and_empty_optional_ones(registry) -> None:
    found = {c.label: c for c in compositions(registry, ["toy"])}
    assert "toy nonblind=wiener" not in found, "the recipe's own choice is not a composition"
    needy = found["toy nonblind=toy-needy nonblind.prior=tv"]
    assert needy.args() == ["--use", "nonblind=toy-needy", "--use", "nonblind.prior=tv"]
    assert "toy kernel_prior=toy-kernel-prior" in found
    assert not any(c.component == NONE for c in found.values()), "kernel_prior is already empty"
    (emptied,) = (c for c in compositions(registry, ["toy-prior"]) if c.component == NONE)
    assert emptied.components == {"kernel_prior": NONE}


def test_quick_settings_win_over_the_recipe(registry) -> None:
    assert quick_params(registry, "toy") == {"solver": {"steps": 2}}
    result = check_composition(registry, next(c for c in compositions(registry, ["toy"])))
    assert result.config["steps"] == 2


def test_a_broken_composition_is_named(registry) -> None:
    (first, *_) = compositions(registry, ["toy-broken"])
    with pytest.raises(AssertionError, match=f"^{first.label}: the image"):
        check_composition(registry, first)
