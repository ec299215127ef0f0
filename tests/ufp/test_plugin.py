"""deblur-ufp as a plugin: its records and capabilities, core's contract checks, a cheap import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import deblur_ufp.plugin
import pytest
from deblur_ufp.networks import load_flow

from deblur.errors import WeightsError
from deblur.registry import Registry
from deblur.testing import check_plugin
from tests.ufp.conftest import SIZE


def test_records_carry_their_capabilities_and_citations(registry: Registry) -> None:
    prior = registry.get("prior", "ufp-flow")
    assert prior.distribution == "deblur-ufp"
    assert {
        "kernel",
        "penalty",
        "log_prob",
        "score",
        "sample",
        "latent",
        "pretrained",
    } <= prior.record.provides
    rep = registry.get("kernel_representation", "ufp-flow-latent").record
    assert {"kernel", "differentiable"} <= rep.provides
    solver = registry.get("solver", "ufp").record
    assert {"blind", "spatially-varying"} <= solver.provides
    assert solver.requires["nonblind"].optional, "the network restores when the slot is empty"
    for name in ("ufp", "ufp-hqs", "ufp-paper"):
        record = registry.get("method", name).record
        assert record.solver == "ufp" and record.needs_weights and "Fang" in record.citation
    assert registry.get("method", "ufp-paper").record.params["solver"]["layout"] == "pixel"
    assert registry.get("method", "ufp-hqs").record.components["nonblind"] == "hqs"
    assert {e.name for e in registry.all(["trainer"])} >= {"ufp-flow", "ufp-estimator", "ufp-deblur"}


def test_listing_imports_no_torch() -> None:
    code = "import sys, deblur_ufp.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_every_component_keeps_cores_contracts(tiny_weights: dict[str, Path]) -> None:
    stems = {name: str(tiny_weights[name]) for name in ("estimator", "flow", "deblur")}
    params = {
        "ufp-flow": {"flow": stems["flow"]},
        "ufp-flow-latent": {"flow": stems["flow"]},
        "ufp": {"solver": {"size": SIZE, **stems}},
    }
    report = check_plugin(deblur_ufp.plugin, size=SIZE, params=params, pretrained=True)
    assert not any("skipped" in line for line in report), report
    assert "solver 'ufp': capabilities, blind, deterministic" in report


def test_a_stem_of_another_size_is_refused(tiny_weights: dict[str, Path]) -> None:
    with pytest.raises(WeightsError, match=f"are for {SIZE} px kernels, not {SIZE + 2} px"):
        load_flow(SIZE + 2, tiny_weights["flow"])
