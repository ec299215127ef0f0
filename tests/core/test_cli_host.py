"""The CLI's listing commands, plugin report, option parsing and one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from deblur.cli import main, parse_settings, parse_uses
from deblur.errors import InputError

BROKEN = {"broken_mod": "raise ImportError('needs libfoo')"}


def invoke(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env=env or None)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("deblur, version ")


def test_list_methods_text_and_json() -> None:
    text = invoke("list-methods")
    assert text.exit_code == 0, text.output
    assert "classic" in text.output and "nonblind.prior=hyper-laplacian" in text.output
    (classic,) = json.loads(invoke("list-methods", "--json").output)
    assert classic["name"] == "classic" and classic["distribution"] == "deblur-core"
    assert classic["needs_weights"] is False
    assert classic["components"]["kernel_prior"] == "kernel-l2"


def test_list_components_by_kind() -> None:
    items = json.loads(invoke("list-components", "--kind", "solver", "--json").output)
    by_name = {i["name"]: i for i in items}
    assert {"wiener", "hqs", "richardson-lucy", "classic"} <= set(by_name)
    assert by_name["hqs"]["requires"]["prior"]["default"] == "hyper-laplacian"
    assert invoke("list-components", "--kind", "bogus").exit_code == 2


def test_list_components_text_shows_what_each_slot_requires() -> None:
    text = invoke("list-components", "--kind", "solver")
    assert text.exit_code == 0, text.output
    header, *rows = text.output.splitlines()
    assert header.split() == ["KIND", "NAME", "PLUGIN", "PROVIDES", "REQUIRES", "SUMMARY"]
    classic = next(row for row in rows if row.split()[1] == "classic")
    assert "nonblind:solver[non-blind]=hqs" in classic
    assert "kernel_prior:prior[kernel,quadratic]=kernel-l2" in classic
    wiener = next(row for row in rows if row.split()[1] == "wiener")
    assert wiener.split()[4] == "forward:operator[uniform]=uniform"
    kernel_then_image = next(row for row in rows if row.split()[1] == "kernel-then-image")
    assert "refiner:solver[kernel-refiner]" in kernel_then_image, "optional: no default"


def test_broken_plugin_is_reported_and_does_not_break_listing(install_plugin) -> None:
    install_plugin("broken-dist", "0.1", BROKEN, {"broken": "broken_mod"})
    listing = invoke("list-methods", DEBLUR_LOAD_PLUGINS="broken")
    assert listing.exit_code == 0 and "classic" in listing.output
    report = invoke("plugins", DEBLUR_LOAD_PLUGINS="broken")
    assert "failed: ImportError: needs libfoo" in report.output
    statuses = json.loads(invoke("plugins", "--json", DEBLUR_LOAD_PLUGINS="broken").output)
    by_name = {s["name"]: s["status"] for s in statuses}
    assert statuses[0]["name"] == "deblur-core"
    assert (by_name["deblur-core"], by_name["broken"]) == ("loaded", "failed")


def test_no_plugins_flag_disables_external_plugins(install_plugin) -> None:
    install_plugin("broken-dist", "0.1", BROKEN, {"broken": "broken_mod"})
    statuses = json.loads(
        CliRunner()
        .invoke(main, ["--no-plugins", "plugins", "--json"], env={"DEBLUR_LOAD_PLUGINS": None})
        .output
    )
    by_name = {s["name"]: s["status"] for s in statuses}
    assert by_name["deblur-core"] == "loaded"
    assert set(by_name.values()) == {"loaded", "disabled"}


def test_user_errors_are_one_line_with_exit_code_2(tmp_path) -> None:
    result = invoke("run", "no-such-method", str(tmp_path / "x.png"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: unknown method 'no-such-method'; registered methods: classic"
    ]
    missing = invoke("run", "classic", str(tmp_path / "missing.png"), "-o", str(tmp_path / "out"))
    assert missing.exit_code == 2 and "missing.png" in missing.output
    assert not (tmp_path / "out").exists()
    bad_set = invoke("run", "classic", "x.png", "--set", "iterations=3")
    assert bad_set.exit_code == 2 and "expected SLOT.PARAM=VALUE" in bad_set.output


def test_debug_keeps_the_traceback(tmp_path) -> None:
    result = CliRunner().invoke(main, ["--debug", "run", "no-such-method", "x.png"])
    assert result.exit_code != 2 and type(result.exception).__name__ == "CompositionError"


def test_settings_and_uses_parse_into_slot_paths() -> None:
    # values stay text: the pipeline reads each by its parameter's declared type
    assert parse_settings(("solver.iterations=500", "nonblind.prior.weight=2e-3", "solver.mode=fast")) == {
        "solver": {"iterations": "500", "mode": "fast"},
        "nonblind.prior": {"weight": "2e-3"},
    }
    assert parse_uses(("nonblind.prior=tv",), kernel_prior="kernel-l2", image_prior=None) == {
        "kernel_prior": "kernel-l2",
        "nonblind.prior": "tv",
    }
    with pytest.raises(InputError):
        parse_uses(("nonblind.prior",))
