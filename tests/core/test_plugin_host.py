"""Records, the plugin manager's isolation and conflict detection, and the registry."""

from __future__ import annotations

import dataclasses

import pytest

from deblur import hookimpl
from deblur.errors import PluginError
from deblur.plugins import (
    MethodRecord,
    PluginManager,
    PriorRecord,
    Requirement,
    SolverRecord,
)
from deblur.plugins.manager import HOOK_NAMES
from deblur.registry import Registry

GOOD = """
from deblur import hookimpl
from deblur.plugins import SolverRecord

@hookimpl
def deblur_solvers():
    yield SolverRecord(name="{name}", summary="s", factory="math:sqrt", provides={{"non-blind"}})
"""


class TwoSolvers:
    @hookimpl
    def deblur_solvers(self):
        yield SolverRecord(name="alpha", summary="a", factory="math:sqrt", provides={"non-blind"})

    @hookimpl
    def deblur_methods(self):
        yield MethodRecord(name="alpha-method", summary="m", solver="alpha")


class RaisingHook:
    @hookimpl
    def deblur_priors(self):
        raise RuntimeError("database unreachable")


# -- records -------------------------------------------------------------------------------------


def test_records_are_frozen_and_normalise_collections() -> None:
    record = PriorRecord(name="p", summary="s", factory="math:sqrt", provides=["image", "image"])
    assert record.provides == frozenset({"image"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "q"  # type: ignore[misc]
    method = MethodRecord(name="m", summary="s", solver="x", params={"solver": {"n": 1}})
    with pytest.raises(TypeError):
        method.params["solver"]["n"] = 2  # type: ignore[index]


def test_record_names_and_requirement_kinds_are_checked() -> None:
    with pytest.raises(PluginError, match="invalid solver name"):
        SolverRecord(name="Bad Name", summary="s", factory="math:sqrt")
    with pytest.raises(PluginError, match="requirement kind"):
        Requirement("network")


def test_string_factories_resolve_lazily() -> None:
    import math

    record = SolverRecord(name="s", summary="s", factory="math:sqrt")
    assert record.load_factory() is math.sqrt
    broken = SolverRecord(name="t", summary="t", factory="no_such_module_xyz:thing")
    with pytest.raises(PluginError, match="cannot load factory 'no_such_module_xyz:thing'"):
        broken.load_factory()


def test_every_kind_has_a_hook() -> None:
    assert set(HOOK_NAMES.values()) == {
        "deblur_operators",
        "deblur_priors",
        "deblur_solvers",
        "deblur_kernel_representations",
        "deblur_methods",
        "deblur_trainers",
    }


# -- manager -------------------------------------------------------------------------------------


def test_core_registers_itself_through_the_hooks() -> None:
    manager = PluginManager(autoload=False)
    (core,) = manager.statuses()
    assert (core.name, core.distribution, core.status) == ("deblur-core", "deblur-core", "loaded")
    assert set(core.hooks) == set(HOOK_NAMES.values()) - {"deblur_trainers"}, "core ships no weights"


def test_registered_plugin_components_carry_provenance() -> None:
    manager = PluginManager(autoload=False)
    manager.register(TwoSolvers(), "two", distribution="two-dist", version="1.2")
    entry = Registry(manager).get("solver", "alpha")
    assert entry.provenance() == {"plugin": "two", "distribution": "two-dist", "version": "1.2"}


def test_a_hook_that_raises_fails_only_its_plugin() -> None:
    manager = PluginManager(autoload=False)
    manager.register(RaisingHook(), "raiser")
    registry = Registry(manager)
    status = manager.status("raiser")
    assert status.status == "failed"
    assert "deblur_priors() raised RuntimeError: database unreachable" in status.error
    assert registry.get("solver", "hqs").plugin == "deblur-core"


def test_strict_mode_reraises_hook_failures() -> None:
    manager = PluginManager(autoload=False, strict=True)
    manager.register(RaisingHook(), "raiser")
    with pytest.raises(RuntimeError, match="database unreachable"):
        manager.collect()


def test_entry_point_that_fails_to_import_is_isolated(install_plugin) -> None:
    install_plugin(
        "broken-dist", "0.1", {"broken_mod": "raise ImportError('needs libfoo')"}, {"broken": "broken_mod"}
    )
    install_plugin("good-dist", "2.0", {"good_mod": GOOD.format(name="good-solver")}, {"good": "good_mod"})
    manager = PluginManager(allow=["broken", "good"])
    by_name = {s.name: s for s in manager.statuses()}
    assert by_name["broken"].status == "failed"
    assert by_name["broken"].error == "ImportError: needs libfoo"
    assert (by_name["broken"].distribution, by_name["broken"].version) == ("broken-dist", "0.1")
    assert Registry(manager).get("solver", "good-solver").distribution == "good-dist"


def test_strict_mode_reraises_import_failures(install_plugin) -> None:
    install_plugin(
        "broken-dist", "0.1", {"broken_mod": "raise ImportError('needs libfoo')"}, {"broken": "broken_mod"}
    )
    with pytest.raises(ImportError, match="needs libfoo"):
        PluginManager(allow=["broken"], strict=True)


def test_allowlist_disables_the_others(install_plugin) -> None:
    install_plugin("good-dist", "2.0", {"good_mod": GOOD.format(name="good-solver")}, {"good": "good_mod"})
    manager = PluginManager(allow=[])
    assert manager.status("good").status == "disabled"
    assert manager.status("deblur-core").status == "loaded"
    by_distribution = PluginManager(allow=["good-dist"])
    assert by_distribution.status("good").status == "loaded"


def test_two_distributions_with_one_entry_point_name_are_named(install_plugin) -> None:
    install_plugin("first-dist", "1.0", {"first_mod": GOOD.format(name="one")}, {"same": "first_mod"})
    install_plugin("second-dist", "2.0", {"second_mod": GOOD.format(name="two")}, {"same": "second_mod"})
    manager = PluginManager(allow=["same"])
    with pytest.raises(PluginError, match="provided by both") as info:
        Registry(manager)
    assert "first-dist 1.0" in str(info.value) and "second-dist 2.0" in str(info.value)
    assert manager.status("same").status == "failed"


def test_two_providers_of_one_solver_name_are_named(install_plugin) -> None:
    install_plugin("first-dist", "1.0", {"first_mod": GOOD.format(name="shared")}, {"first": "first_mod"})
    install_plugin("second-dist", "2.0", {"second_mod": GOOD.format(name="shared")}, {"second": "second_mod"})
    with pytest.raises(PluginError) as info:
        Registry(PluginManager(allow=["first", "second"]))
    message = str(info.value)
    assert "solver 'shared' is provided by both" in message
    assert "first-dist 1.0" in message and "second-dist 2.0" in message


def test_a_plugin_clashing_with_core_is_named() -> None:
    class Clash:
        @hookimpl
        def deblur_solvers(self):
            yield SolverRecord(name="hqs", summary="mine", factory="math:sqrt")

    manager = PluginManager(autoload=False)
    manager.register(Clash(), "clash", distribution="clash-dist", version="0.0.1")
    with pytest.raises(PluginError, match=r"'hqs' is provided by both deblur-core .* and clash-dist 0.0.1"):
        Registry(manager)


def test_wrong_record_type_fails_the_plugin() -> None:
    class Wrong:
        @hookimpl
        def deblur_solvers(self):
            yield PriorRecord(name="p", summary="s", factory="math:sqrt")

    manager = PluginManager(autoload=False)
    manager.register(Wrong(), "wrong")
    Registry(manager)
    assert "expected SolverRecord" in manager.status("wrong").error
