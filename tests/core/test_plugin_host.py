"""Records, the plugin manager's isolation and conflict detection, and the registry."""

from __future__ import annotations

import dataclasses
import json
from importlib import metadata

import pytest
from click.testing import CliRunner

from deblur import hookimpl
from deblur.cli import main
from deblur.errors import CompositionError, PluginError
from deblur.plugins import (
    MethodRecord,
    PluginManager,
    PriorRecord,
    Requirement,
    SolverRecord,
)
from deblur.plugins.manager import GROUP, HOOK_NAMES, core_version
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


class ClashesWithCore:
    """Registers core's ``hqs`` solver name, plus a solver of its own."""

    @hookimpl
    def deblur_solvers(self):
        yield SolverRecord(name="hqs", summary="mine", factory="math:sqrt")
        yield SolverRecord(name="clash-own", summary="mine too", factory="math:sqrt")


METHOD = """
from deblur import hookimpl
from deblur.plugins import MethodRecord

@hookimpl
def deblur_methods():
    yield MethodRecord(name="{name}", summary="m", solver="hqs")
"""

TV_CLASH = """
from deblur import hookimpl
from deblur.plugins import PriorRecord

@hookimpl
def deblur_priors():
    yield PriorRecord(name="tv", summary="my tv", factory="math:sqrt", provides={"image"})
"""


def cli(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env=env or None)


def _same_named(name: str) -> list[metadata.EntryPoint]:
    return [ep for ep in metadata.entry_points(group=GROUP) if ep.name == name]


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
        "deblur_image_networks",
        "deblur_methods",
        "deblur_trainers",
        "deblur_benchmarks",
    }


# -- manager -------------------------------------------------------------------------------------


def test_core_registers_itself_through_the_hooks() -> None:
    manager = PluginManager(autoload=False)
    (core,) = manager.statuses()
    assert (core.name, core.distribution, core.status) == ("deblur-core", "deblur-core", "loaded")
    assert set(core.hooks) == set(HOOK_NAMES.values()) - {"deblur_trainers", "deblur_image_networks"}


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


def test_duplicate_entry_point_name_keeps_the_distribution_named_after_it(install_plugin) -> None:
    install_plugin("Deblur_Same", "1.0", {"owner_mod": GOOD.format(name="one")}, {"same": "owner_mod"})
    install_plugin("other-dist", "2.0", {"other_mod": GOOD.format(name="two")}, {"same": "other_mod"})
    assert [ep.dist.name for ep in _same_named("same")] == ["other-dist", "Deblur_Same"], "found first"
    manager = PluginManager(allow=["same"])
    same = [(s.distribution, s.status) for s in manager.statuses() if s.name == "same"]
    assert same == [("Deblur_Same", "loaded"), ("other-dist", "failed")]
    rejected = next(s for s in manager.statuses() if s.name == "same" and s.status == "failed")
    assert rejected.error == (
        "entry point 'same' of group 'deblur' is also declared by Deblur_Same 1.0 (named after it), "
        "which is used instead"
    )
    assert manager.status("same").distribution == "Deblur_Same"
    registry = Registry(manager)
    assert registry.get("solver", "one").distribution == "Deblur_Same"
    assert "two" not in registry.fitting("solver", {"non-blind"})


def test_duplicate_entry_point_name_without_owner_keeps_the_first_found(install_plugin) -> None:
    install_plugin("first-dist", "1.0", {"first_mod": GOOD.format(name="one")}, {"same": "first_mod"})
    install_plugin("second-dist", "2.0", {"second_mod": GOOD.format(name="two")}, {"same": "second_mod"})
    eps = _same_named("same")
    for order in (eps, eps[::-1]):
        manager = PluginManager(autoload=False, allow=["same"])
        manager.load_entry_points(order)
        kept, rejected = (s for s in manager.statuses() if s.name == "same")
        assert (kept.distribution, kept.status) == (order[0].dist.name, "loaded")
        assert (rejected.distribution, rejected.status) == (order[1].dist.name, "failed")
        assert (
            f"also declared by {kept.distribution} " in rejected.error and "(found first)" in rejected.error
        )


def test_allowing_one_of_two_duplicate_entry_points_by_distribution(install_plugin) -> None:
    install_plugin("deblur-same", "1.0", {"owner_mod": GOOD.format(name="one")}, {"same": "owner_mod"})
    install_plugin("other-dist", "2.0", {"other_mod": GOOD.format(name="two")}, {"same": "other_mod"})
    manager = PluginManager(allow=["other-dist"])
    assert [(s.distribution, s.status) for s in manager.statuses() if s.name == "same"] == [
        ("other-dist", "loaded"),
        ("deblur-same", "disabled"),
    ]
    assert Registry(manager).get("solver", "two").distribution == "other-dist"


def test_strict_mode_refuses_duplicate_entry_point_names(install_plugin) -> None:
    install_plugin("first-dist", "1.0", {"first_mod": GOOD.format(name="one")}, {"same": "first_mod"})
    install_plugin("second-dist", "2.0", {"second_mod": GOOD.format(name="two")}, {"same": "second_mod"})
    with pytest.raises(PluginError, match="entry point 'same' of group 'deblur' is provided by both") as info:
        PluginManager(allow=["same"], strict=True)
    assert "first-dist 1.0" in str(info.value) and "second-dist 2.0" in str(info.value)


def test_duplicate_entry_point_names_leave_the_cli_working(install_plugin) -> None:
    install_plugin("deblur-same", "1.0", {"owner_mod": METHOD.format(name="same")}, {"same": "owner_mod"})
    install_plugin("other-dist", "2.0", {"other_mod": METHOD.format(name="other")}, {"same": "other_mod"})
    listing = cli("list-methods", "--json", DEBLUR_LOAD_PLUGINS="same")
    assert listing.exit_code == 0, listing.output
    assert {m["name"]: m["distribution"] for m in json.loads(listing.output)} == {
        "classic": "deblur-core",
        "same": "deblur-same",
    }
    report = json.loads(cli("plugins", "--json", DEBLUR_LOAD_PLUGINS="same").output)
    same = [(s["distribution"], s["status"]) for s in report if s["name"] == "same"]
    assert same == [("deblur-same", "loaded"), ("other-dist", "failed")]


def test_a_late_plugin_clashing_with_an_earlier_one_fails_alone(install_plugin) -> None:
    install_plugin("first-dist", "1.0", {"first_mod": GOOD.format(name="shared")}, {"first": "first_mod"})
    install_plugin("second-dist", "2.0", {"second_mod": GOOD.format(name="shared")}, {"second": "second_mod"})
    manager = PluginManager(allow=["first", "second"])
    registry = Registry(manager)
    assert registry.get("solver", "shared").distribution == "first-dist"
    assert manager.status("first").status == "loaded"
    second = manager.status("second")
    assert (second.status, second.error) == (
        "failed",
        "solver 'shared' is already provided by first-dist 1.0",
    )


def test_a_plugin_clashing_with_core_fails_alone_and_contributes_nothing() -> None:
    manager = PluginManager(autoload=False)
    manager.register(ClashesWithCore(), "clash", distribution="clash-dist", version="0.0.1")
    registry = Registry(manager)
    assert registry.get("solver", "hqs").plugin == "deblur-core"
    status = manager.status("clash")
    assert status.status == "failed"
    assert status.error == f"solver 'hqs' is already provided by deblur-core {core_version()}"
    assert all(entry.plugin == "deblur-core" for entry in registry.all())
    with pytest.raises(CompositionError, match="unknown solver 'clash-own'"):
        registry.get("solver", "clash-own")


def test_a_plugin_registering_one_name_twice_fails_alone() -> None:
    class Twice:
        @hookimpl
        def deblur_solvers(self):
            yield SolverRecord(name="twice", summary="a", factory="math:sqrt")
            yield SolverRecord(name="twice", summary="b", factory="math:sqrt")

    manager = PluginManager(autoload=False)
    manager.register(Twice(), "twice", distribution="twice-dist", version="1")
    Registry(manager)
    assert manager.status("twice").error == "solver 'twice' is registered twice by twice-dist 1"


def test_strict_mode_refuses_a_component_clash_naming_both() -> None:
    manager = PluginManager(autoload=False, strict=True)
    manager.register(ClashesWithCore(), "clash", distribution="clash-dist", version="0.0.1")
    with pytest.raises(PluginError, match=r"'hqs' is provided by both deblur-core .* and clash-dist 0.0.1"):
        Registry(manager)


def test_a_component_clash_is_reported_by_deblur_plugins_and_spares_the_rest(install_plugin) -> None:
    install_plugin("tv-dist", "1.0", {"tv_mod": TV_CLASH}, {"mytv": "tv_mod"})
    report = {s["name"]: s for s in json.loads(cli("plugins", "--json", DEBLUR_LOAD_PLUGINS="mytv").output)}
    assert (report["mytv"]["status"], report["mytv"]["error"]) == (
        "failed",
        f"prior 'tv' is already provided by deblur-core {core_version()}",
    )
    listing = cli("list-components", "--kind", "prior", "--json", DEBLUR_LOAD_PLUGINS="mytv")
    assert listing.exit_code == 0, listing.output
    assert {p["name"]: p["distribution"] for p in json.loads(listing.output)}["tv"] == "deblur-core"
    strict = cli("list-methods", DEBLUR_LOAD_PLUGINS="mytv", DEBLUR_STRICT_PLUGINS="1")
    assert strict.exit_code == 2
    assert strict.output.strip().splitlines() == [
        f"Error: prior 'tv' is provided by both deblur-core {core_version()} and tv-dist 1.0; "
        "uninstall one or disable it with DEBLUR_LOAD_PLUGINS"
    ]


def test_unknown_names_point_at_the_plugins_not_loaded(install_plugin, tmp_path) -> None:
    install_plugin(
        "broken-dist", "0.1", {"broken_mod": "raise ImportError('needs libfoo')"}, {"broken": "broken_mod"}
    )
    install_plugin(
        "deblur-extra", "1.0", {"extra_mod": METHOD.format(name="extra-fast")}, {"extra": "extra_mod"}
    )
    result = cli("run", "extra-fast", str(tmp_path / "missing.png"), DEBLUR_LOAD_PLUGINS="broken")
    assert result.exit_code == 2, "resolved before the image is read (which would say missing.png)"
    assert result.output.strip().splitlines() == [
        "Error: unknown method 'extra-fast'; registered methods: classic; "
        "plugin 'broken' (broken-dist 0.1), which failed to load (ImportError: needs libfoo), "
        "may provide it; "
        "plugin 'extra' is disabled (DEBLUR_LOAD_PLUGINS) and may provide it"
    ]
    unrelated = cli("run", "unrelated", str(tmp_path / "missing.png"), DEBLUR_LOAD_PLUGINS="broken")
    assert "'extra'" not in unrelated.output and "plugin 'broken'" in unrelated.output


def test_unknown_component_of_any_kind_names_a_failed_plugin() -> None:
    manager = PluginManager(autoload=False)
    manager.register(RaisingHook(), "raiser")
    with pytest.raises(CompositionError) as info:
        Registry(manager).get("prior", "huber-gradient")
    assert str(info.value).endswith(
        "; plugin 'raiser', which failed to load "
        "(deblur_priors() raised RuntimeError: database unreachable), may provide it"
    )


def test_wrong_record_type_fails_the_plugin() -> None:
    class Wrong:
        @hookimpl
        def deblur_solvers(self):
            yield PriorRecord(name="p", summary="s", factory="math:sqrt")

    manager = PluginManager(autoload=False)
    manager.register(Wrong(), "wrong")
    Registry(manager)
    assert "expected SolverRecord" in manager.status("wrong").error


# -- hooks that match no specification (pluggy's check_pending, per plugin) ------------------------

TYPO = """
from deblur import hookimpl
from deblur.plugins import PriorRecord, SolverRecord

@hookimpl
def deblur_prior():
    yield PriorRecord(name="typo-prior", summary="p", factory="math:sqrt", provides={"image"})

@hookimpl
def deblur_solvers():
    yield SolverRecord(name="typo-solver", summary="s", factory="math:sqrt", provides={"non-blind"})
"""


def _typo_error() -> str:
    hooks = ", ".join(sorted(HOOK_NAMES.values()))
    return f"unknown hook deblur_prior (did you mean deblur_priors?); hooks: {hooks}"


def test_a_misspelt_hook_fails_only_its_plugin(install_plugin) -> None:
    install_plugin("typo-dist", "0.2", {"typo_mod": TYPO}, {"typo": "typo_mod"})
    install_plugin("good-dist", "2.0", {"good_mod": GOOD.format(name="good-solver")}, {"good": "good_mod"})
    manager = PluginManager(allow=["typo", "good"])
    typo = manager.status("typo")
    assert (typo.status, typo.error, typo.distribution) == ("failed", _typo_error(), "typo-dist")
    assert manager.status("good").status == "loaded"
    registry = Registry(manager)
    assert registry.get("solver", "good-solver").distribution == "good-dist"
    with pytest.raises(CompositionError, match=r"unknown solver 'typo-solver'.*plugin 'typo' .*deblur_prior"):
        registry.get("solver", "typo-solver")  # its correctly named hook contributes nothing either


def test_a_misspelt_hook_shows_in_deblur_plugins(install_plugin) -> None:
    install_plugin("typo-dist", "0.2", {"typo_mod": TYPO}, {"typo": "typo_mod"})
    install_plugin("good-dist", "2.0", {"good_mod": GOOD.format(name="good-solver")}, {"good": "good_mod"})
    result = cli("plugins", "--json", DEBLUR_LOAD_PLUGINS="typo,good")
    assert result.exit_code == 0, result.output
    report = {s["name"]: s for s in json.loads(result.output)}
    assert (report["typo"]["status"], report["typo"]["error"]) == ("failed", _typo_error())
    assert (report["good"]["status"], report["deblur-core"]["status"]) == ("loaded", "loaded")
    table = cli("plugins", DEBLUR_LOAD_PLUGINS="typo")
    assert "failed: unknown hook deblur_prior (did you mean deblur_priors?)" in table.output


def test_strict_mode_refuses_a_misspelt_hook(install_plugin) -> None:
    install_plugin("typo-dist", "0.2", {"typo_mod": TYPO}, {"typo": "typo_mod"})
    with pytest.raises(PluginError, match=r"^plugin 'typo' \(typo-dist 0\.2\): unknown hook deblur_prior"):
        PluginManager(allow=["typo"], strict=True)
    strict = cli("list-methods", DEBLUR_LOAD_PLUGINS="typo", DEBLUR_STRICT_PLUGINS="1")
    assert strict.exit_code == 2
    assert strict.output.strip().splitlines() == [f"Error: plugin 'typo' (typo-dist 0.2): {_typo_error()}"]


def test_unknown_hooks_are_listed_and_optional_ones_allowed() -> None:
    class TwoTypos:
        @hookimpl
        def deblur_solver(self):
            return []

        @hookimpl
        def deblur_zzz(self):
            return []

    class Optional:
        @hookimpl(optionalhook=True)
        def deblur_future_kind(self):
            return []

    manager = PluginManager(autoload=False)
    manager.register(TwoTypos(), "two-typos")
    manager.register(Optional(), "optional")
    assert manager.status("two-typos").error.startswith(
        "unknown hooks deblur_solver (did you mean deblur_solvers?), deblur_zzz; hooks: "
    )
    assert manager.status("optional").status == "loaded", "pluggy's optionalhook is honoured"
    Registry(manager)
    manager._pm.check_pending()  # nothing pending: the offender was unregistered


def test_a_hook_taking_arguments_fails_alone() -> None:
    class TakesArguments:
        @hookimpl
        def deblur_priors(self, weight):
            return []

    manager = PluginManager(autoload=False)
    manager.register(TakesArguments(), "args")
    status = manager.status("args")
    assert status.status == "failed"
    assert status.error.startswith("invalid hook: Plugin 'args' for hook 'deblur_priors'")
    assert "'weight'" in status.error
    assert Registry(manager).get("solver", "hqs").plugin == "deblur-core"
