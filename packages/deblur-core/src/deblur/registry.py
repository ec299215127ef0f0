"""The component registry: every record of every loaded plugin, by kind and name, with provenance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deblur.errors import CompositionError, PluginError
from deblur.plugins.manager import PluginManager, PluginStatus
from deblur.plugins.records import KINDS

_PLURAL = {
    "operator": "operators",
    "prior": "priors",
    "solver": "solvers",
    "kernel_representation": "kernel representations",
    "method": "methods",
    "trainer": "trainers",
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


def _describe(entry: Registered) -> str:
    who = entry.distribution or entry.plugin
    return f"{who} {entry.version}" if entry.version else who


class Registry:
    """Components by kind and name. Two providers of one name are an error naming both."""

    def __init__(self, manager: PluginManager | None = None) -> None:
        self.manager = manager if manager is not None else PluginManager()
        if self.manager.conflicts:
            raise PluginError(self.manager.conflicts[0])
        self._entries: dict[str, dict[str, Registered]] = {kind: {} for kind in KINDS}
        order = {status.name: i for i, status in enumerate(self.manager.statuses())}
        for kind, pairs in self.manager.collect().items():
            for record, status in sorted(pairs, key=lambda pair: order[pair[1].name]):
                self._add(kind, record, status)

    def _add(self, kind: str, record: Any, status: PluginStatus) -> None:
        entry = Registered(record, status.name, status.distribution, status.version)
        taken = self._entries[kind].get(record.name)
        if taken is not None:
            raise PluginError(
                f"{kind.replace('_', ' ')} {record.name!r} is provided by both "
                f"{_describe(taken)} and {_describe(entry)}; uninstall one or disable it with "
                "DEBLUR_LOAD_PLUGINS"
            )
        self._entries[kind][record.name] = entry

    def get(self, kind: str, name: str) -> Registered:
        """The component ``name`` of ``kind``; an unknown name is a :class:`CompositionError`."""
        try:
            return self._entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._entries[kind])) or "none"
            raise CompositionError(
                f"unknown {kind.replace('_', ' ')} {name!r}; registered {_PLURAL[kind]}: {known}"
            ) from None

    def all(self, kinds: Iterable[str] = KINDS) -> list[Registered]:
        """Every registered component of the given kinds, in kind then load order."""
        return [entry for kind in kinds for entry in self._entries[kind].values()]

    def fitting(self, kind: str, capabilities: Iterable[str]) -> list[str]:
        """Names of the components of ``kind`` that provide all ``capabilities``."""
        wanted = set(capabilities)
        return [name for name, e in self._entries[kind].items() if wanted <= e.record.provides]
