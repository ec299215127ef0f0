"""deblur-kdiff as a plugin: records, presets, the end-to-end method, its outputs and its slots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import deblur_kdiff.plugin
import pytest
import torch
from click.testing import CliRunner

from deblur import hookimpl
from deblur.cli import main
from deblur.data import blur_image, dead_leaves
from deblur.errors import CompositionError, InputError
from deblur.io import read_kernel, write_image
from deblur.kernels import motion_kernel
from deblur.pipeline import resolve_method, run
from deblur.plugins import PriorRecord
from deblur.registry import Registry
from deblur.testing import registry_with
from tests.kdiff.conftest import SIZE


def tiny_params(weights: dict[str, Path], **estimator) -> dict[str, dict]:
    """The ``kdiff`` method on the tiny test weights, a few steps, the whole image as the window."""
    return {
        "solver": {"crop": None},
        "estimator": {
            "weights": str(weights["diffusion"]),
            "weights_size": SIZE,
            "steps": 3,
            "samples": 2,
            "refine_steps": 2,
            **estimator,
        },
    }


def _observation(channels: int = 1, side: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k = motion_kernel(SIZE, generator=g)
    x = dead_leaves(side + SIZE - 1, g).expand(1, channels, -1, -1).contiguous()
    return blur_image(x, k, noise_sigma=0.005, generator=g), k


class LinePrior:
    """A kernel prior with a log density: a Gaussian around a horizontal line (counts its calls)."""

    calls = 0

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def log_prob(self, k: torch.Tensor) -> torch.Tensor:
        LinePrior.calls += 1
        line = torch.zeros_like(k)
        line[..., k.shape[-2] // 2, :] = 1 / k.shape[-1]
        return -self.weight * (k - line).square().flatten(1).sum(1)


class NoDensity:
    """A kernel prior without ``log_prob`` (a penalty only)."""

    def penalty(self, k: torch.Tensor) -> torch.Tensor:
        return k.abs().sum()


class FixturePriors:
    """A third-party plugin adding the two priors above."""

    @hookimpl
    def deblur_priors(self):
        yield PriorRecord(
            name="fixture-line-prior",
            summary="Gaussian around a horizontal line (test fixture)",
            factory="tests.kdiff.test_plugin:LinePrior",
            provides={"kernel", "log_prob"},
        )
        yield PriorRecord(
            name="fixture-penalty-only",
            summary="L1 penalty without a density (test fixture)",
            factory="tests.kdiff.test_plugin:NoDensity",
            provides={"kernel", "penalty"},
        )


def test_records_carry_their_capabilities_and_citations(registry: Registry) -> None:
    dwdn = registry.get("solver", "dwdn")
    assert dwdn.distribution == "deblur-kdiff"
    assert {"non-blind", "differentiable-kernel", "pretrained"} <= dwdn.record.provides
    assert registry.get("solver", "kdiff").record.provides == {"kernel-estimator"}
    for method in ("kdiff", "kdiff-paper"):
        record = registry.get("method", method).record
        assert record.needs_weights and "Sanghvi" in record.citation
    assert {e.name for e in registry.all(["trainer"])} >= {"kdiff-diffusion", "kdiff-dwdn"}


def test_listing_imports_no_torch() -> None:
    code = "import sys, deblur_kdiff.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_two_presets_resolve_as_documented(registry: Registry) -> None:
    fast = {n.path: n for n in resolve_method(registry, "kdiff").root.walk()}
    assert fast["estimator.guide"].entry.name == "wiener" and fast["refiner"].entry.name == "classic-refine"
    assert fast["nonblind"].entry.name == "hqs" and "estimator.kernel_prior" not in fast
    assert fast["refiner"].params == {"levels": 4}
    assert fast["refiner.kernel_prior"].params == {"weight": 4.0}, "the classic method's kernel weight"
    paper = {n.path: n for n in resolve_method(registry, "kdiff-paper").root.walk()}
    assert paper["estimator.guide"].entry.name == "dwdn" and paper["nonblind"].entry.name == "dwdn"
    assert "refiner" in paper["solver"].empty, "the paper has no refinement stage"
    assert paper["estimator"].params["steps"] == 1000 and paper["solver"].params["crop"] is None
    for node in [*fast.values(), *paper.values()]:
        node.check_params()  # every parameter is accepted by its factory


def test_kdiff_runs_end_to_end_with_kernel_samples_and_uncertainty(
    registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y, _ = _observation()
    result = run(y, "kdiff", kernel_size=SIZE, registry=registry, params=tiny_params(tiny_weights))
    assert result.image.shape == y.shape and result.kernel.shape == (1, 1, SIZE, SIZE)
    assert result.kernel_samples.shape == (2, 1, SIZE, SIZE)
    assert torch.allclose(result.kernel_samples.sum((-2, -1)), torch.ones(2, 1), atol=1e-5)
    assert result.samples.shape == (2, *y.shape[1:]) and result.uncertainty.shape == (1, *y.shape[1:])
    assert float(result.uncertainty.min()) >= 0
    estimate = result.config["kdiff"]
    assert estimate["steps"] == 3 and estimate["guided"] and len(estimate["reblur"]) == 2
    assert result.config["refined_draw"] in (0, 1), "every draw refined, the best fit kept"
    assert set(result.history) >= {"guidance", "refine"}
    again = run(y, "kdiff", kernel_size=SIZE, registry=registry, params=tiny_params(tiny_weights))
    assert torch.equal(again.kernel_samples, result.kernel_samples), "the same seed gives the same draws"


def test_colour_is_estimated_on_the_luminance_and_every_channel_deconvolved(
    registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y, _ = _observation(channels=3)
    y[:, 1] *= 0.5  # channels that differ
    result = run(y, "kdiff", kernel_size=SIZE, registry=registry, params=tiny_params(tiny_weights))
    assert result.image.shape == y.shape and result.kernel.shape == (1, 1, SIZE, SIZE)
    assert not torch.allclose(result.image[:, 0], result.image[:, 1])


def test_a_kernel_larger_than_the_weights_is_estimated_downscaled(
    registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y, _ = _observation(side=60)
    params = tiny_params(tiny_weights)
    result = run(y, "kdiff", kernel_size=2 * SIZE + 1, registry=registry, params=params)
    assert result.kernel.shape == (1, 1, 2 * SIZE + 1, 2 * SIZE + 1)
    assert result.kernel_samples.shape[-1] == 2 * SIZE + 1
    assert result.config["kdiff"]["scale"] == pytest.approx(SIZE / (2 * SIZE + 1))
    smaller = run(y, "kdiff", kernel_size=SIZE - 4, registry=registry, params=params)
    assert smaller.kernel.shape == (1, 1, SIZE - 4, SIZE - 4)


def test_unguided_sampling_is_the_none_guide(registry: Registry, tiny_weights: dict[str, Path]) -> None:
    y, _ = _observation()
    result = run(
        y,
        "kdiff",
        kernel_size=SIZE,
        registry=registry,
        components={"estimator.guide": "none"},
        params=tiny_params(tiny_weights),
    )
    assert not result.config["kdiff"]["guided"]


def test_the_paper_protocol_runs_with_the_learned_guide(
    registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y, _ = _observation()
    dwdn = {"size": SIZE, "weights": str(tiny_weights["dwdn"])}
    params = {
        **tiny_params(tiny_weights),
        "estimator": {**tiny_params(tiny_weights)["estimator"], "samples": 1},
        "estimator.guide": dwdn,
        "nonblind": dwdn,
    }
    result = run(y, "kdiff-paper", kernel_size=SIZE, registry=registry, params=params)
    assert result.image.shape == y.shape and "refinement" not in result.timings
    assert result.config["solver"]["slots"]["estimator"]["slots"]["guide"]["name"] == "dwdn"


def test_a_kernel_prior_with_log_prob_fills_the_slot(tiny_weights: dict[str, Path]) -> None:
    registry = registry_with(deblur_kdiff.plugin, FixturePriors())
    y, _ = _observation()
    LinePrior.calls = 0
    params = tiny_params(tiny_weights)
    components = {"estimator.kernel_prior": "fixture-line-prior"}
    result = run(y, "kdiff", kernel_size=SIZE, registry=registry, components=components, params=params)
    slots = result.config["solver"]["slots"]["estimator"]["slots"]
    assert slots["kernel_prior"]["name"] == "fixture-line-prior"
    assert LinePrior.calls == 3, "the prior joined every guided step of Stage I, with no weight given"
    LinePrior.calls = 0
    run(
        y,
        "kdiff",
        kernel_size=SIZE,
        registry=registry,
        components=components,
        params=tiny_params(tiny_weights, prior_weight=0.0),
    )
    assert LinePrior.calls == 0, "prior_weight=0 turns the prior off"
    with pytest.raises(CompositionError, match=r"prior_weight=0.5 needs a kernel prior: fill estimator"):
        run(
            y,
            "kdiff",
            kernel_size=SIZE,
            registry=registry,
            params=tiny_params(tiny_weights, prior_weight=0.5),
        )


def test_a_kernel_prior_without_log_prob_is_refused_naming_both() -> None:
    registry = registry_with(deblur_kdiff.plugin, FixturePriors())
    refused = r"'fixture-penalty-only' .*cannot fill slot 'estimator.kernel_prior'.*lacks log_prob"
    with pytest.raises(CompositionError, match=refused) as caught:
        resolve_method(registry, "kdiff", {"estimator.kernel_prior": "fixture-penalty-only"})
    assert "\n" not in str(caught.value)


def test_dwdn_fills_the_nonblind_slot_of_another_method(
    registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y, _ = _observation()
    dwdn = {"size": SIZE, "weights": str(tiny_weights["dwdn"])}
    result = run(
        y,
        "classic",
        kernel_size=SIZE,
        registry=registry,
        components={"nonblind": "dwdn"},
        params={"nonblind": dwdn},
    )
    assert result.image.shape == y.shape
    assert result.config["solver"]["slots"]["nonblind"]["name"] == "dwdn"


def test_the_cli_writes_the_kernel_samples_and_the_uncertainty(
    tmp_path: Path, tiny_weights: dict[str, Path]
) -> None:
    y, _ = _observation(side=48)
    write_image(tmp_path / "photo.png", y)
    sets = [f"--set=estimator.{k}={v}" for k, v in tiny_params(tiny_weights)["estimator"].items()]
    args = ["run", "kdiff", tmp_path / "photo.png", "-o", tmp_path / "out", "--kernel-size", SIZE]
    result = CliRunner().invoke(main, [str(a) for a in args] + ["--set=solver.crop=null", *sets])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    for name in (
        "kernel-samples.npy",
        "kernel-samples.png",
        "uncertainty.npy",
        "uncertainty.png",
        "samples.npy",
    ):
        assert (out / f"photo-{name}").is_file(), name
    assert read_kernel(out / "photo-kernel-samples.npy").shape == (2, 1, SIZE, SIZE)
    report = json.loads((out / "photo-report.json").read_text())
    assert report["outputs"]["kernel-samples.npy"] == "photo-kernel-samples.npy"


def test_a_shortcut_fills_the_one_of_kdiffs_two_kernel_prior_slots_its_prior_fits(registry: Registry) -> None:
    from deblur.cli.run import shortcut_paths

    plan = resolve_method(registry, "kdiff")
    assert list(plan.slot_paths("kernel_prior")) == ["estimator.kernel_prior", "refiner.kernel_prior"]
    chosen = shortcut_paths(registry, plan, {"kernel_prior": "dirichlet"})  # log_prob, not quadratic
    assert chosen == {"estimator.kernel_prior": "dirichlet"}
    with pytest.raises(InputError, match=r"'kernel-l2' fits the slots estimator.kernel_prior, refiner"):
        shortcut_paths(registry, plan, {"kernel_prior": "kernel-l2"})
    with pytest.raises(CompositionError, match=r"'tv' \(deblur-core\) fits none of the kernel_prior slots"):
        shortcut_paths(registry, plan, {"kernel_prior": "tv"})
