"""The component registry: every record of every loaded plugin, by kind and name, with provenance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deblur.errors import CompositionError
from deblur.plugins.manager import PluginManager
from deblur.plugins.records import KINDS, Requirement

_PLURAL = {
    "operator": "operators",
    "prior": "priors",
    "solver": "solvers",
    "kernel_representation": "kernel representations",
    "image_network": "image networks",
    "method": "methods",
    "trainer": "trainers",
    "benchmark": "benchmarks",
}


@dataclass(frozen=True)
class Registered:
    """A record plus where it came from."""

    record: Any
    plugin: str
    distribution: str | None
    version: str | None

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def kind(self) -> str:
        return self.record.kind

    def provenance(self) -> dict[str, str | None]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version}


class Registry:
    """Components by kind and name, one provider per name: :meth:`PluginManager.collect` has already
    resolved clashes (the first provider in load order keeps a name; strict mode raises)."""

    def __init__(self, manager: PluginManager | None = None) -> None:
        self.manager = manager if manager is not None else PluginManager()
        self._entries: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
        for kind, pairs in self.manager.collect().items():
            for record, status in pairs:
                entry = Registered(record, status.name, status.distribution, status.version)
                self._entries[kind].setdefault(record.name, entry)

    def get(self, kind: str, name: str) -> Registered:
        """The component ``name`` of ``kind``; an unknown name is a one-line :class:`CompositionError`
        that also names the plugins not loaded that may provide it (see :meth:`_unloaded_providers`)."""
        try:
            return self._entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._entries[kind])) or "none"
            message = f"unknown {kind.replace('_', ' ')} {name!r}; registered {_PLURAL[kind]}: {known}"
            raise CompositionError("; ".join([message, *self._unloaded_providers(name)])) from None

    def _unloaded_providers(self, name: str) -> list[str]:
        """One clause per plugin that is not loaded and may provide ``name``: every failed plugin
        (what it registers is unknown), and each disabled one that ``name`` is named after."""
        clauses = []
        for status in self.manager.statuses():
            if status.status == "failed":
                who = f"plugin {status.name!r}" + (f" ({status.describe()})" if status.distribution else "")
                reason = status.error or "no reason given"
                clauses.append(f"{who}, which failed to load ({reason}), may provide it")
            elif status.status == "disabled" and status.named_like(name):
                clauses.append(f"plugin {status.name!r} is disabled (DEBLUR_LOAD_PLUGINS) and may provide it")
        return clauses

    def all(self, kinds: Iterable[str] = KINDS) -> list[Registered]:
        """Every registered component of the given kinds, in kind then load order."""
        return [entry for kind in kinds for entry in self._entries[kind].values()]

    def fitting(self, kind: str, capabilities: Iterable[str]) -> list[str]:
        """Names of the components of ``kind`` that provide all ``capabilities``."""
        wanted = set(capabilities)
        return [name for name, e in self._entries[kind].items() if wanted <= e.record.provides]

    def fillers(self, requirement: Requirement) -> list[str]:
        """Names of the components that can fill a slot of ``requirement`` (its ``any_of`` included),
        in load order."""
        names = self.fitting(requirement.kind, requirement.capabilities)
        return [
            n for n in names if not requirement.missing(self._entries[requirement.kind][n].record.provides)
        ]
