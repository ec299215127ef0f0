"""The capability vocabulary covers every string in use, the docs show it, and core keeps its promises."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deblur import hookimpl
from deblur.capabilities import CAPABILITIES, Capability, markdown_table
from deblur.plugins import PluginManager, PriorRecord
from deblur.plugins.records import COMPONENT_KINDS
from deblur.registry import Registered, Registry
from deblur.testing import check_capabilities, check_plugin, registry_with

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"
PLUGINS = ("deblur_dipmc.plugin", "deblur_gankernel.plugin", "deblur_fixture.plugin")
#: The kinds whose components deblur.testing.check_capabilities builds.
BUILT_KINDS = ("operator", "prior", "solver", "kernel_representation")


def _plugin(name: str) -> ModuleType:
    return pytest.importorskip(name)


@pytest.fixture(params=[None, *PLUGINS], ids=["core", *(p.split(".")[0] for p in PLUGINS)])
def loaded(request: pytest.FixtureRequest) -> Registry:
    """Core alone, then core with each installed plugin (skipped when it is not installed)."""
    return registry_with() if request.param is None else registry_with(_plugin(request.param))


def _uses(registry: Registry) -> list[tuple[str, str, str]]:
    """``(capability, kind, who)`` for every provided or required capability of every component."""
    uses = []
    for entry in registry.all(COMPONENT_KINDS):
        uses += [(c, entry.kind, entry.name) for c in entry.record.provides]
        for slot, req in entry.record.requires.items():
            uses += [(c, req.kind, f"{entry.name}.{slot}") for c in req.capabilities]
    return uses


def test_every_capability_in_use_is_in_the_vocabulary(loaded: Registry) -> None:
    unknown = sorted({(c, who) for c, _, who in _uses(loaded) if c not in CAPABILITIES})
    assert not unknown, f"capabilities missing from deblur.capabilities: {unknown}"


def test_every_installed_plugin_uses_the_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever is installed in this environment, not only the plugins named above."""
    monkeypatch.delenv("DEBLUR_LOAD_PLUGINS", raising=False)
    installed = Registry(PluginManager(allow=None))
    unknown = sorted({(c, who) for c, _, who in _uses(installed) if c not in CAPABILITIES})
    assert not unknown, f"capabilities missing from deblur.capabilities: {unknown}"


def test_capabilities_are_used_on_their_kinds(loaded: Registry) -> None:
    wrong = sorted({(c, kind, who) for c, kind, who in _uses(loaded) if kind not in CAPABILITIES[c].kinds})
    assert not wrong, f"capabilities used on a kind their entry does not list: {wrong}"


def test_the_documented_huber_prior_uses_the_vocabulary() -> None:
    provides = re.findall(r"provides=\{([^}]*)\}", DOC.read_text())
    names = {s for group in provides for s in re.findall(r'"([^"]+)"', group)}
    assert names and names <= set(CAPABILITIES)


def test_entries_are_well_formed() -> None:
    for name, cap in CAPABILITIES.items():
        assert isinstance(cap, Capability) and cap.name == name
        assert cap.kinds and set(cap.kinds) <= set(COMPONENT_KINDS), name
        assert cap.meaning.endswith(".") and "\n" not in cap.meaning, name
    with pytest.raises(TypeError):
        CAPABILITIES["new"] = CAPABILITIES["blind"]  # type: ignore[index]


def test_markdown_table_has_one_row_per_capability() -> None:
    rows = markdown_table().splitlines()[2:]
    assert [row.split("|")[1].strip().strip("`") for row in rows] == sorted(CAPABILITIES)


def test_docs_show_the_generated_table() -> None:
    text = DOC.read_text()
    found = re.search(r"<!-- capabilities:start -->\n(.*?)<!-- capabilities:end -->", text, flags=re.S)
    assert found, "docs/writing-plugins.md lacks the capabilities markers"
    assert found.group(1).strip("\n") == markdown_table().strip("\n"), (
        "the table in docs/writing-plugins.md is stale; paste deblur.capabilities.markdown_table()"
    )


def test_the_module_does_not_import_torch() -> None:
    code = "import sys, deblur.capabilities; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _protocol(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_protocols_name_runtime_checkable_protocols_in_core() -> None:
    for cap in CAPABILITIES.values():
        if cap.protocol:
            assert cap.protocol.startswith("deblur."), cap.name
            assert getattr(_protocol(cap.protocol), "_is_runtime_protocol", False), cap.protocol


def _promised(entries: list[Registered]) -> set[str]:
    """The capabilities of ``entries`` that state a protocol or members (what the check can see)."""
    return {
        c for e in entries for c in e.record.provides if CAPABILITIES[c].protocol or CAPABILITIES[c].members
    }


def test_core_components_keep_their_promises() -> None:
    """Every component of core, operators included (built with random operands by deblur.testing); with
    the installed plugins, which fill slots core leaves to them (``kernel-then-image``'s estimator)."""
    installed = [
        importlib.import_module(name) for name in PLUGINS if importlib.util.find_spec(name.split(".")[0])
    ]
    registry = registry_with(*installed)
    core = [e for e in registry.all(BUILT_KINDS) if e.plugin == "deblur-core"]
    assert {e.kind for e in core} == set(BUILT_KINDS)
    assert _promised(core) >= {"penalty", "gradient-shrink", "quadratic", "non-blind", "linear", "adjoint"}
    for entry in core:
        check_capabilities(registry, entry.kind, entry.name)


def test_plugin_components_keep_their_promises(loaded: Registry) -> None:
    """The same check on each installed plugin's components that build without shipped weights."""
    for entry in loaded.all(BUILT_KINDS):
        if entry.plugin != "deblur-core" and "pretrained" not in entry.record.provides:
            check_capabilities(loaded, entry.kind, entry.name)


class ShrinklessPrior:
    """Claims ``gradient-shrink`` for core's kernel-l2 prior, which has no ``shrink``."""

    @hookimpl
    def deblur_priors(self):
        yield PriorRecord(
            name="shrinkless",
            summary="s",
            factory="deblur.priors.kernel:KernelL2",
            provides={"image", "penalty", "gradient-shrink"},
        )


def test_promise_check_can_fail() -> None:
    """A prior that claims ``gradient-shrink`` without ``shrink`` is caught by the same check."""
    registry = registry_with(ShrinklessPrior())
    broken = (
        r"^prior 'shrinkless' provides 'gradient-shrink' but is not a deblur\.priors\.base\.GradientPrior$"
    )
    with pytest.raises(AssertionError, match=broken):
        check_capabilities(registry, "prior", "shrinkless")


@pytest.mark.parametrize("name", PLUGINS, ids=[p.split(".")[0] for p in PLUGINS])
def test_our_plugins_pass_the_contract_suite(name: str) -> None:
    """deblur.testing.check_plugin on each of our plugins (components that need weights are skipped)."""
    report = check_plugin(_plugin(name))
    assert report and all("'" in line for line in report)
