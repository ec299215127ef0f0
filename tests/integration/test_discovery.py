"""End to end: the pip-installed fixture plugin is discovered, isolated failures, conflicts, laziness."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.conftest import write_distribution


def test_plugins_lists_core_and_the_fixture_with_versions(deblur_cli) -> None:
    done = deblur_cli("plugins", "--json")
    assert done.returncode == 0, done.stderr
    statuses = {s["name"]: s for s in json.loads(done.stdout)}
    assert statuses["deblur-core"]["status"] == "loaded" and statuses["deblur-core"]["version"]
    fixture = statuses["fixture"]
    assert (fixture["distribution"], fixture["version"], fixture["status"]) == (
        "deblur-fixture-plugin",
        "0.3.1",
        "loaded",
    )
    assert fixture["hooks"] == ["deblur_methods", "deblur_solvers", "deblur_trainers"]


def test_list_methods_shows_the_fixture_method_with_provenance(deblur_cli) -> None:
    methods = {m["name"]: m for m in json.loads(deblur_cli("list-methods", "--json").stdout)}
    box = methods["fixture-box"]
    assert (box["plugin"], box["distribution"], box["version"]) == (
        "fixture",
        "deblur-fixture-plugin",
        "0.3.1",
    )
    assert box["components"] == {"solver": "fixture-box", "nonblind": "wiener", "nonblind.forward": "uniform"}


def test_the_fixture_method_runs_and_composes_with_core(deblur_cli, tmp_path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 40), dtype=np.uint8)).save(
        tmp_path / "in.png"
    )
    done = deblur_cli(
        "run",
        "fixture-box",
        str(tmp_path / "in.png"),
        "-o",
        str(tmp_path / "out"),
        "--nonblind",
        "richardson-lucy",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "in-report.json").read_text())
    assert report["config"]["solver"]["slots"]["nonblind"]["name"] == "richardson-lucy"
    assert Image.open(tmp_path / "out" / "in-deblurred.png").size == (40, 48)


@pytest.mark.parametrize("method", ["classic", "dipmc", "gankernel"])
def test_a_third_party_nonblind_solver_fills_every_nonblind_slot(method: str, monkeypatch) -> None:
    """The fixture's `fixture-landweber` composes into each installed method with a `nonblind` slot,
    and the recipe's choices for the solver it replaces (`nonblind.prior` of `hqs`) are dropped."""
    from deblur.pipeline import resolve_method
    from deblur.plugins import PluginManager
    from deblur.registry import Registry

    monkeypatch.delenv("DEBLUR_LOAD_PLUGINS", raising=False)
    registry = Registry(PluginManager())
    if method not in {e.name for e in registry.all(["method"])}:
        pytest.skip(f"{method} is not installed")
    plan = resolve_method(registry, method, {"nonblind": "fixture-landweber"}).check()
    nodes = {n.path: n.entry.name for n in plan.root.walk()}
    assert nodes["nonblind"] == "fixture-landweber" and "nonblind.prior" not in nodes


def test_classic_runs_with_the_fixture_nonblind_solver(deblur_cli, tmp_path) -> None:
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 40), dtype=np.uint8)).save(
        tmp_path / "in.png"
    )
    args = ["run", "classic", str(tmp_path / "in.png"), "--kernel-size", "5", "--quiet"]
    for nonblind in ("fixture-landweber", "wiener"):
        out = tmp_path / nonblind
        done = deblur_cli(*args, "-o", str(out), "--nonblind", nonblind, "--set", "solver.iterations=2")
        assert done.returncode == 0, done.stderr
        report = json.loads((out / "in-report.json").read_text())
        used = report["config"]["solver"]["slots"]["nonblind"]
        assert (used["name"], used["params"]) == (nonblind, {})
        assert used["provider"] == (
            "deblur-fixture-plugin" if nonblind.startswith("fixture") else "deblur-core"
        )
        assert "prior" not in used["slots"], "hqs's prior, chosen by the recipe, is dropped"
        assert Image.open(out / "in-deblurred.png").size == (40, 48)


def test_a_plugin_that_raises_on_import(deblur_cli, tmp_path) -> None:
    root = write_distribution(
        tmp_path / "site",
        "broken-dist",
        "0.1",
        {"broken_mod": "raise RuntimeError('boom at import')"},
        {"broken": "broken_mod"},
    )
    listing = deblur_cli("list-methods", pythonpath=str(root))
    assert listing.returncode == 0 and "classic" in listing.stdout
    report = deblur_cli("plugins", pythonpath=str(root))
    assert "failed: RuntimeError: boom at import" in report.stdout
    strict = deblur_cli("list-methods", pythonpath=str(root), DEBLUR_STRICT_PLUGINS="1")
    assert strict.returncode != 0
    assert "Traceback" in strict.stderr and "boom at import" in strict.stderr


def test_two_providers_of_one_solver_name(deblur_cli, tmp_path) -> None:
    clash = textwrap.dedent("""
        from deblur import hookimpl
        from deblur.plugins import SolverRecord

        @hookimpl
        def deblur_solvers():
            yield SolverRecord(name="fixture-box", summary="clash", factory="math:sqrt", provides={"blind"})
    """)
    root = write_distribution(
        tmp_path / "site", "clash-dist", "1.0", {"clash_mod": clash}, {"zclash": "clash_mod"}
    )
    done = deblur_cli("list-methods", "--json", pythonpath=str(root))
    assert done.returncode == 0, done.stderr
    methods = {m["name"]: m for m in json.loads(done.stdout)}
    assert methods["fixture-box"]["components"] == {
        "solver": "fixture-box",
        "nonblind": "wiener",
        "nonblind.forward": "uniform",
    }
    statuses = {
        s["name"]: s for s in json.loads(deblur_cli("plugins", "--json", pythonpath=str(root)).stdout)
    }
    assert statuses["fixture"]["status"] == "loaded"
    assert (statuses["zclash"]["status"], statuses["zclash"]["error"]) == (
        "failed",
        "solver 'fixture-box' is already provided by deblur-fixture-plugin 0.3.1",
    )
    strict = deblur_cli("list-methods", pythonpath=str(root), DEBLUR_STRICT_PLUGINS="1")
    assert strict.returncode == 2
    (line,) = strict.stderr.strip().splitlines()
    assert line.startswith("Error: solver 'fixture-box' is provided by both ")
    assert "deblur-fixture-plugin 0.3.1" in line and "clash-dist 1.0" in line


def test_a_second_distribution_declaring_an_installed_entry_point_name(deblur_cli, tmp_path) -> None:
    pytest.importorskip("deblur_dipmc")
    root = write_distribution(
        tmp_path / "site",
        "dipmc-extras",
        "9.0",
        {"extras_mod": "raise ImportError('never imported')"},
        {"dipmc": "extras_mod"},
    )
    done = deblur_cli("list-methods", "--json", pythonpath=str(root))
    assert done.returncode == 0, done.stderr
    assert {m["name"]: m["distribution"] for m in json.loads(done.stdout)}["dipmc"] == "deblur-dipmc"
    report = json.loads(deblur_cli("plugins", "--json", pythonpath=str(root)).stdout)
    dipmc = [(s["distribution"], s["status"]) for s in report if s["name"] == "dipmc"]
    assert dipmc == [("deblur-dipmc", "loaded"), ("dipmc-extras", "failed")]
    (rejected,) = (s for s in report if s["distribution"] == "dipmc-extras")
    assert rejected["error"].startswith(
        "entry point 'dipmc' of group 'deblur' is also declared by deblur-dipmc "
    )
    strict = deblur_cli("list-methods", pythonpath=str(root), DEBLUR_STRICT_PLUGINS="1")
    assert strict.returncode == 2 and "is provided by both" in strict.stderr


def test_listing_imports_no_heavy_module() -> None:
    probe = textwrap.dedent("""
        import json, sys, time
        start = time.perf_counter()
        from click.testing import CliRunner
        from deblur.cli import main
        result = CliRunner().invoke(main, ["list-methods"])
        assert result.exit_code == 0, result.output
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "numpy", "deblur_fixture"})
        print(json.dumps({"heavy": heavy, "seconds": time.perf_counter() - start}))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["heavy"] == ["deblur_fixture", "deblur_fixture.plugin"]


def test_help_loads_no_plugin_machinery() -> None:
    """`deblur --help` and a command's help start without pluggy, entry-point discovery or torch."""
    probe = textwrap.dedent("""
        import json, sys
        from click.testing import CliRunner
        from deblur.cli import main
        for args in (["--help"], ["run", "--help"], ["bench", "--help"]):
            assert CliRunner().invoke(main, args).exit_code == 0
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "numpy", "pluggy"})))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
