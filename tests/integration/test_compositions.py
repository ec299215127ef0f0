"""Every composition the installed packages allow runs: method x slot x fitting component, read from the
registry's records (nothing is listed by hand, so a new plugin's components are covered as installed),
each on a small blurred image with its components' ``quick`` settings."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deblur.compositions import compositions
from deblur.registry import Registry
from deblur.testing import check_composition

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = Registry()
COMPOSITIONS = compositions(REGISTRY)


@pytest.mark.parametrize("composition", COMPOSITIONS, ids=lambda c: c.label)
def test_every_composition_the_registry_allows_runs(composition, one_thread) -> None:
    check_composition(REGISTRY, composition)


def test_every_method_and_every_slot_filler_is_reached() -> None:
    """Each method with a slot has compositions, and every component that fits one of a method's slots is
    tried in it (deblur-vb's one-pass `vb` and `vb-kd` have none: one forward pass of two networks)."""
    methods = {e.name for e in REGISTRY.all(["method"])} - {"vb", "vb-kd"}
    assert {c.method for c in COMPOSITIONS} == methods
    kdiff = {c.component for c in COMPOSITIONS if (c.method, c.path) == ("kdiff", "estimator.kernel_prior")}
    assert {e.name for e in REGISTRY.all(["prior"]) if "log_prob" in e.record.provides} == kdiff


def test_list_compositions_json_names_the_flow_prior_for_kdiffs_kernel_prior(deblur_cli) -> None:
    done = deblur_cli("list-compositions", "kdiff", "--json")
    assert done.returncode == 0, done.stderr
    (kdiff,) = json.loads(done.stdout)
    slots = {s["path"]: s for s in kdiff["slots"]}
    prior = slots["estimator.kernel_prior"]
    assert (prior["kind"], prior["current"], prior["optional"]) == ("prior", None, True)
    assert {"name": "ufp-flow", "provider": "deblur-ufp"} in prior["fillers"]
    assert slots["estimator"]["current"] == "kdiff" and slots["nonblind"]["fillers"]
    everything = json.loads(deblur_cli("list-compositions", "--json").stdout)
    assert {m["method"] for m in everything} == {e.name for e in REGISTRY.all(["method"])}


def test_list_compositions_imports_no_heavy_module() -> None:
    probe = textwrap.dedent("""
        import json, sys
        from click.testing import CliRunner
        from deblur.cli import main
        result = CliRunner().invoke(main, ["list-compositions"])
        assert result.exit_code == 0, result.output
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "numpy"})))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_kdiff_runs_with_the_flow_prior_from_the_cli(deblur_cli, tmp_path) -> None:
    quick = [
        "--set",
        "estimator.steps=3",
        "--set",
        "estimator.samples=2",
        "--set",
        "estimator.refine_steps=2",
    ]
    image = ROOT / "examples" / "astronaut-blurry.png"
    done = deblur_cli(
        "run", "kdiff", str(image), "--kernel-prior", "ufp-flow", "-o", str(tmp_path), "-q", *quick
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "astronaut-blurry-report.json").read_text())
    estimator = report["config"]["solver"]["slots"]["estimator"]
    assert estimator["slots"]["kernel_prior"]["name"] == "ufp-flow"
    assert (tmp_path / "astronaut-blurry-deblurred.png").is_file()
    assert (tmp_path / "astronaut-blurry-kernel.npy").is_file()


def test_an_image_prior_in_kdiffs_kernel_prior_slot_is_one_line_naming_both(deblur_cli, tmp_path) -> None:
    image = ROOT / "examples" / "astronaut-blurry.png"
    done = deblur_cli("run", "kdiff", str(image), "--kernel-prior", "tv", "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "'tv' (deblur-core) fits none of the kernel_prior slots of 'kdiff'" in message
    assert "estimator.kernel_prior needs a prior providing kernel, log_prob" in message
    assert not (tmp_path / "out").exists()


def test_vb_writes_the_posterior_of_the_example_photo(deblur_cli, tmp_path) -> None:
    """The installed deblur-vb (shipped weights inside its wheel) on the quick-start photo."""
    image = ROOT / "examples" / "astronaut-blurry.png"
    done = deblur_cli("run", "vb", str(image), "-o", str(tmp_path), "-q")
    assert done.returncode == 0, done.stderr
    for name in ("deblurred.png", "kernel.npy", "kernel.png", "uncertainty.png", "uncertainty.npy",
                 "kernel-uncertainty.npy", "kernel-uncertainty.png", "kernel-samples.npy", "samples.npy",
                 "report.json"):  # fmt: skip
        assert (tmp_path / f"astronaut-blurry-{name}").is_file(), name
    report = json.loads((tmp_path / "astronaut-blurry-report.json").read_text())
    assert report["config"]["vb"]["structure"] == "kf"
