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
    prior = registry.get("prior", "dipmc-image-generator")
    assert prior.distribution == "deblur-dipmc"
    assert {"image", "generator", "randomized"} <= prior.record.provides
    for name in ("dipmc-kernel-net", "fcn-kernel"):
        assert {"kernel", "differentiable"} <= registry.get("kernel_representation", name).record.provides
    assert "blind" in registry.get("solver", "dipmc").record.provides
    for method in ("dipmc", "dipmc-paper"):
        assert "Li, Nan & Ji" in registry.get("method", method).record.citation


def test_dipmc_resolves_to_the_expected_tree(registry: Registry) -> None:
    plan = resolve_method(registry, "dipmc")
    assert {n.path: n.entry.name for n in plan.root.walk()} == {
        "solver": "dipmc",
        "image_net": "dipmc-image-generator",
        "kernel_rep": "fcn-kernel",
        "nonblind": "hqs",
        "nonblind.prior": "hyper-laplacian",
    }


def test_paper_preset_carries_the_papers_settings(registry: Registry) -> None:
    plan = resolve_method(registry, "dipmc-paper")
    nodes = {n.path: n for n in plan.root.walk()}
    solver = nodes["solver"].params
    assert (solver["steps"], solver["lr_image"], solver["lr_kernel"], solver["mu"]) == (
        5000,
        1e-2,
        1e-4,
        1e-4,
    )
    assert (solver["dropout"], solver["dropout_end"], solver["dropout_switch"]) == (0.3, 0.001, 0.3)
    assert (solver["noise_end"], solver["noise_switch"], solver["lr_switch"]) == (0.001, 0.7, 0.6)
    assert nodes["image_net"].params == {"width": 128, "levels": 6, "skip": 16}
    assert nodes["kernel_rep"].entry.name == "dipmc-kernel-net"
    plan.build()  # every parameter is accepted by its factory


def test_refinement_uses_the_classic_methods_kernel_prior(registry: Registry) -> None:
    classic = registry.get("method", "classic").record.params["kernel_prior"]["weight"]
    refiner = resolve_method(registry, "dipmc").build().refiner()
    assert refiner.kernel_prior.weight == classic and refiner.iterations == 5
    paper = {n.path: n for n in resolve_method(registry, "dipmc-paper").root.walk()}
    assert paper["solver"].params["refine"] == 0, "the paper's two-stage protocol has no refinement"


def test_factories_are_lazy() -> None:
    code = "import sys, deblur_dipmc.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_runs_end_to_end_with_core_simplex_representation(registry: Registry) -> None:
    y = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    params = {"solver": {**TINY["solver"], "lr_kernel": 5e-3}, "image_net": TINY["image_net"]}
    result = run(
        y, "dipmc", kernel_size=5, registry=registry, components={"kernel_rep": "simplex"}, params=params
    )
    assert result.config["solver"]["slots"]["kernel_rep"]["name"] == "simplex"
    assert result.kernel.shape == (1, 1, 5, 5) and abs(float(result.kernel.sum()) - 1) < 1e-5
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1, "clipped by the pipeline"


def test_runs_with_the_fcn_kernel_and_ablation_switches(registry: Registry) -> None:
    y = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    params = {**TINY, "solver": {**TINY["solver"], "randomize": "none", "randomize_kernel": True}}
    result = run(
        y, "dipmc", kernel_size=5, registry=registry, components={"kernel_rep": "fcn-kernel"}, params=params
    )
    assert result.config["dipmc"]["randomize"] == "none" and result.config["dipmc"]["randomize_kernel"]


def test_slots_refuse_what_does_not_fit(registry: Registry) -> None:
    with pytest.raises(CompositionError, match=r"cannot fill slot 'image_net'.*lacks generator, randomized"):
        resolve_method(registry, "dipmc", {"image_net": "tv"})
    with pytest.raises(
        CompositionError, match="registered kernel representations: dipmc-kernel-net, fcn-kernel"
    ):
        resolve_method(registry, "dipmc", {"kernel_rep": "kernel-l2"})
