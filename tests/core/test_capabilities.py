"""The capability vocabulary covers every string in use, the docs show it, and core keeps its promises."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deblur.capabilities import CAPABILITIES, Capability, markdown_table
from deblur.pipeline import resolve_solver
from deblur.plugins import PluginManager
from deblur.plugins.records import COMPONENT_KINDS
from deblur.registry import Registered, Registry
from tests.conftest import registry_with

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"
PLUGINS = ("deblur_dipmc.plugin", "deblur_gankernel.plugin", "deblur_fixture.plugin")
#: The kernel size core's kernel representations are built with here.
SIZE = 5


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


def _build(registry: Registry, entry: Registered) -> Any:
    """The component with default parameters and slots; a kernel representation's module of ``SIZE``."""
    if entry.kind == "solver":
        need = "non-blind" if "non-blind" in entry.record.provides else "blind"
        return resolve_solver(registry, entry.name, need=need).build()
    built = entry.record.load_factory()()
    return built(SIZE) if entry.kind == "kernel_representation" else built


def _promised(registry: Registry) -> list[tuple[Capability, Registered]]:
    """Core's components paired with each capability they provide that states a protocol or members.

    Operators are left out: building one takes a kernel tensor."""
    return [
        (CAPABILITIES[c], entry)
        for entry in registry.all(("prior", "solver", "kernel_representation"))
        if entry.plugin == "deblur-core"
        for c in sorted(entry.record.provides)
        if CAPABILITIES[c].protocol or CAPABILITIES[c].members
    ]


def test_protocols_name_runtime_checkable_protocols_in_core() -> None:
    for cap in CAPABILITIES.values():
        if cap.protocol:
            assert cap.protocol.startswith("deblur."), cap.name
            assert getattr(_protocol(cap.protocol), "_is_runtime_protocol", False), cap.protocol


def test_core_components_keep_their_promises() -> None:
    registry = registry_with()
    checked = _promised(registry)
    assert {cap.name for cap, _ in checked} >= {"penalty", "gradient-shrink", "quadratic", "non-blind"}
    for cap, entry in checked:
        built = _build(registry, entry)
        if cap.protocol:
            assert isinstance(built, _protocol(cap.protocol)), f"{entry.name} is not a {cap.protocol}"
        missing = [m for m in cap.members if not hasattr(built, m)]
        assert not missing, f"{entry.kind} {entry.name!r} provides {cap.name!r} but lacks {missing}"


def test_promise_check_can_fail() -> None:
    """A prior that claims ``gradient-shrink`` without ``shrink`` is caught by the same check."""
    from deblur.priors import KernelL2

    cap = CAPABILITIES["gradient-shrink"]
    assert not isinstance(KernelL2(), _protocol(cap.protocol or ""))
    assert not hasattr(KernelL2(), "shrink")
