"""deblur-gankernel as a plugin: records, recipes, the solver, and composition with other packages."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deblur.context import RunContext
from deblur.data import blur_image
from deblur.errors import CompositionError, InputError
from deblur.pipeline import resolve_method, run
from deblur.registry import Registry
from deblur.solvers.kernel_then_image import KernelThenImage
from deblur.testing import registry_with
from deblur_gankernel.representation import gan_latent
from deblur_gankernel.solver import GanKernelEstimator
from tests.gankernel.conftest import SIZE

#: Networks and steps small enough for a test, and the whole image as the window.
TINY_ESTIMATOR = {"steps": 30, "width": 4, "levels": 2, "skip": 2}
TINY = {"solver": {"crop": None}, "estimator": TINY_ESTIMATOR}


def weight_params(weights: dict[str, Path]) -> dict[str, str]:
    return {"generator": str(weights["generator"]), "initializer": str(weights["initializer"])}


def test_records_are_registered_with_their_capabilities(registry: Registry) -> None:
    rep = registry.get("kernel_representation", "gan-latent")
    assert rep.distribution == "deblur-gankernel"
    assert {"kernel", "differentiable", "latent", "pretrained"} <= rep.record.provides
    assert {"kernel", "penalty", "projection", "sample"} <= registry.get(
        "prior", "gan-kernel-prior"
    ).record.provides
    assert registry.get("solver", "gankernel").record.provides == {"kernel-estimator"}
    for method in ("gankernel", "gankernel-paper"):
        record = registry.get("method", method).record
        assert record.needs_weights and "Zhang" in record.citation
    assert {e.name for e in registry.all(["trainer"])} >= {"gankernel-generator", "gankernel-initializer"}


def test_listing_imports_no_torch() -> None:
    code = "import sys, deblur_gankernel.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_gankernel_resolves_to_the_expected_tree(registry: Registry) -> None:
    plan = resolve_method(registry, "gankernel")
    assert {n.path: n.entry.name for n in plan.root.walk()} == {
        "solver": "kernel-then-image",
        "estimator": "gankernel",
        "estimator.kernel_rep": "gan-latent",
        "estimator.forward": "uniform",
        "nonblind": "hqs",
        "nonblind.prior": "hyper-laplacian",
        "nonblind.forward": "uniform",
    }
    assert plan.root.params == {"kernel_size": 31, "crop": 128, "threads": 1}


def test_paper_preset_carries_the_papers_settings(registry: Registry) -> None:
    nodes = {n.path: n for n in resolve_method(registry, "gankernel-paper").root.walk()}
    solver = nodes["estimator"].params
    assert (solver["steps"], solver["lr_image"], solver["lr_kernel"], solver["gamma"]) == (
        5000,
        1e-2,
        5e-4,
        0.5,
    )
    assert (solver["width"], solver["levels"], solver["skip"]) == (128, 5, 16)
    assert nodes["solver"].params["crop"] is None and "refiner" in nodes["solver"].empty
    assert nodes["estimator.kernel_rep"].params == {"space": "w", "init": "encoder"}
    for node in nodes.values():
        node.check_params()  # every parameter is accepted by its factory


def test_solver_lowers_the_reblur_loss(tiny_weights: dict[str, Path]) -> None:
    g = torch.Generator().manual_seed(0)
    from deblur.data import dead_leaves

    x = dead_leaves(48 + SIZE - 1, g)
    k = torch.zeros(1, 1, SIZE, SIZE)
    k[..., SIZE // 2, 2:-2] = 1 / (SIZE - 4)
    y = blur_image(x, k, noise_sigma=0.0)
    estimator = GanKernelEstimator(kernel_rep=gan_latent(**weight_params(tiny_weights)), **TINY_ESTIMATOR)
    solver = KernelThenImage(estimator=estimator, nonblind=lambda y, k: y)
    result = solver(y, RunContext(kernel_size=SIZE, seed=0))
    loss = result.history["loss"]
    assert len(loss) == 30 and sum(loss[-5:]) < 0.6 * sum(loss[:5])
    assert result.kernel.shape == (1, 1, SIZE, SIZE) and abs(float(result.kernel.sum()) - 1) < 1e-5
    assert result.extras["dip_output"].shape == y.shape
    assert result.config["window"] == [0, 0, 48, 48] and result.config["gankernel"]["steps"] == 30
    again = solver(y, RunContext(kernel_size=SIZE, seed=0))
    assert again.history["loss"] == loss, "the same seed gives the same run"


def test_runs_end_to_end_through_the_registry(registry: Registry, tiny_weights: dict[str, Path]) -> None:
    y = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    params = {**TINY, "estimator.kernel_rep": weight_params(tiny_weights)}
    result = run(y, "gankernel", kernel_size=SIZE, registry=registry, params=params)
    estimator = result.config["solver"]["slots"]["estimator"]
    assert result.image.shape == y.shape and estimator["slots"]["kernel_rep"]["name"] == "gan-latent"
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1


def test_solver_takes_core_representations_and_refuses_bad_input(registry: Registry) -> None:
    y = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    params = {**TINY, "estimator": {**TINY_ESTIMATOR, "steps": 3, "lr_kernel": 5e-3}}
    simplex = {"estimator.kernel_rep": "simplex"}
    result = run(y, "gankernel", kernel_size=5, registry=registry, components=simplex, params=params)
    assert result.kernel.shape == (1, 1, 5, 5)
    with pytest.raises(InputError, match="kernel size 31 is too large"):
        run(
            y,
            "gankernel",
            kernel_size=31,
            registry=registry,
            components=simplex,
            params=params,
        )
    refused = r"'gankernel' .* cannot fill slot 'nonblind'.*lacks non-blind"
    with pytest.raises(CompositionError, match=refused):
        resolve_method(registry, "gankernel", {"nonblind": "gankernel"})


@pytest.mark.skipif(importlib.util.find_spec("deblur_dipmc") is None, reason="deblur-dipmc is not installed")
def test_dipmc_composes_with_the_gan_latent_kernel(tiny_weights: dict[str, Path]) -> None:
    import deblur_dipmc.plugin
    import deblur_gankernel.plugin

    both = registry_with(deblur_gankernel.plugin, deblur_dipmc.plugin)
    y = torch.rand(1, 1, 40, 40, generator=torch.Generator().manual_seed(3))
    params = {
        "solver": {"crop": None},
        "estimator": {"steps": 5, "mc_samples": 1},
        "estimator.image_net": {"width": 4, "levels": 2, "skip": 2},
        "estimator.kernel_rep": weight_params(tiny_weights),
    }
    components = {"estimator.kernel_rep": "gan-latent"}
    result = run(y, "dipmc", kernel_size=SIZE, registry=both, components=components, params=params)
    assert result.config["solver"]["slots"]["estimator"]["slots"]["kernel_rep"]["name"] == "gan-latent"
    assert result.kernel.shape == (1, 1, SIZE, SIZE)
