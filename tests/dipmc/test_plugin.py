"""deblur-dipmc as a plugin: its records, the resolved recipes and composition with core's parts."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from deblur.errors import CompositionError
from deblur.pipeline import resolve_method, run
from deblur.registry import Registry
from tests.dipmc.conftest import TINY


def test_records_are_registered_with_their_capabilities(registry: Registry) -> None:
    network = registry.get("image_network", "dipmc-image-generator")
    assert network.distribution == "deblur-dipmc"
    assert {"image", "generator", "randomized"} <= network.record.provides
    for name in ("dipmc-kernel-net", "fcn-kernel"):
        assert {"kernel", "differentiable"} <= registry.get("kernel_representation", name).record.provides
    assert registry.get("solver", "dipmc").record.provides == {"kernel-estimator"}
    for method in ("dipmc", "dipmc-paper"):
        assert "Li, Nan & Ji" in registry.get("method", method).record.citation


def test_dipmc_resolves_to_the_expected_tree(registry: Registry) -> None:
    plan = resolve_method(registry, "dipmc")
    assert {n.path: n.entry.name for n in plan.root.walk()} == {
        "solver": "kernel-then-image",
        "estimator": "dipmc",
        "estimator.image_net": "dipmc-image-generator",
        "estimator.kernel_rep": "fcn-kernel",
        "estimator.forward": "uniform",
        "refiner": "classic-refine",
        "refiner.image_prior": "l0-gradient",
        "refiner.kernel_prior": "kernel-l2",
        "nonblind": "hqs",
        "nonblind.prior": "hyper-laplacian",
        "nonblind.forward": "uniform",
    }


def test_paper_preset_carries_the_papers_settings(registry: Registry) -> None:
    plan = resolve_method(registry, "dipmc-paper")
    nodes = {n.path: n for n in plan.root.walk()}
    assert "refiner" not in nodes and plan.root.empty == ["refiner"], "not in the paper"
    assert nodes["solver"].params == {
        "crop": None,
        "kernel_threshold": 0.0,
        "center_kernel": False,
        "threads": None,
    }
    solver = nodes["estimator"].params
    assert (solver["steps"], solver["lr_image"], solver["lr_kernel"], solver["mu"]) == (
        5000,
        1e-2,
        1e-4,
        1e-4,
    )
    assert (solver["dropout"], solver["dropout_end"], solver["dropout_switch"]) == (0.3, 0.001, 0.3)
    assert (solver["noise_end"], solver["noise_switch"], solver["lr_switch"]) == (0.001, 0.7, 0.6)
    assert nodes["estimator.image_net"].params == {"width": 128, "levels": 6, "skip": 16}
    assert nodes["estimator.kernel_rep"].entry.name == "dipmc-kernel-net"
    plan.build()  # every parameter is accepted by its factory


def test_refinement_uses_the_classic_methods_kernel_prior(registry: Registry) -> None:
    from deblur.solvers.classic import KERNEL_PRIOR_WEIGHT

    classic = registry.get("method", "classic").record.params["kernel_prior"]["weight"]
    refiner = resolve_method(registry, "dipmc").build().refiner
    assert refiner.kernel_prior.weight == classic == KERNEL_PRIOR_WEIGHT
    assert (refiner.iterations, refiner.kernel_threshold) == (5, 0.02)
    assert resolve_method(registry, "dipmc", {"refiner": "none"}).build().refiner is None


def test_factories_are_lazy() -> None:
    code = "import sys, deblur_dipmc.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_runs_end_to_end_with_core_simplex_representation(registry: Registry) -> None:
    y = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    params = {
        "solver": TINY["solver"],
        "estimator": {**TINY["estimator"], "lr_kernel": 5e-3},
        "estimator.image_net": TINY["estimator.image_net"],
    }
    components = {"estimator.kernel_rep": "simplex"}
    result = run(y, "dipmc", kernel_size=5, registry=registry, components=components, params=params)
    assert result.config["solver"]["slots"]["estimator"]["slots"]["kernel_rep"]["name"] == "simplex"
    assert result.kernel.shape == (1, 1, 5, 5) and abs(float(result.kernel.sum()) - 1) < 1e-5
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1, "clipped by the pipeline"


def test_runs_with_the_fcn_kernel_and_ablation_switches(registry: Registry) -> None:
    y = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    params = {**TINY, "estimator": {**TINY["estimator"], "randomize": "none", "randomize_kernel": True}}
    components = {"estimator.kernel_rep": "fcn-kernel"}
    result = run(y, "dipmc", kernel_size=5, registry=registry, components=components, params=params)
    assert result.config["dipmc"]["randomize"] == "none" and result.config["dipmc"]["randomize_kernel"]


def test_slots_refuse_what_does_not_fit(registry: Registry) -> None:
    with pytest.raises(CompositionError, match=r"unknown image network 'tv'; registered image networks"):
        resolve_method(registry, "dipmc", {"estimator.image_net": "tv"})
    with pytest.raises(
        CompositionError, match="registered kernel representations: dipmc-kernel-net, fcn-kernel"
    ):
        resolve_method(registry, "dipmc", {"estimator.kernel_rep": "kernel-l2"})
    with pytest.raises(CompositionError, match=r"'hqs' \(deblur-core\) cannot fill slot 'estimator'"):
        resolve_method(registry, "dipmc", {"estimator": "hqs"})


def test_shortcut_options_fill_the_one_slot_of_their_name(registry: Registry) -> None:
    from deblur.cli.run import shortcut_paths

    plan = resolve_method(registry, "dipmc")
    assert shortcut_paths(registry, plan, {"kernel_rep": "simplex", "image_prior": None}) == {
        "estimator.kernel_rep": "simplex"
    }
    assert list(plan.slot_paths("kernel_prior")) == ["refiner.kernel_prior"]
    assert list(resolve_method(registry, "dipmc-paper").slot_paths("refiner")) == ["refiner"], "empty, a slot"
