"""Discovering, loading and isolating plugins.

Plugins are modules named by entry points in the group ``deblur``. Each one is loaded on its own: an
import error or a hook that raises marks that plugin ``failed`` with the reason and leaves the others
working. Environment switches:

- ``DEBLUR_LOAD_PLUGINS``: comma-separated allowlist of entry-point or distribution names; empty means
  no external plugin (core's built-ins always load). Unset means all.
- ``DEBLUR_STRICT_PLUGINS=1``: re-raise the first plugin failure with its original traceback.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from deblur.errors import PluginError
from deblur.plugins import hookspecs
from deblur.plugins.records import KINDS, check_records

GROUP = "deblur"
CORE = "deblur-core"

#: The hook that registers each kind of record: ``deblur_operators`` for ``operator`` and so on.
HOOK_NAMES = {kind: f"deblur_{kind}s" for kind in KINDS}


@dataclass
class PluginStatus:
    """What ``deblur plugins`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    status: str = "loaded"  # "loaded" | "failed" | "disabled"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "hooks": list(self.hooks),
        }


def _env_allowlist() -> set[str] | None:
    raw = os.environ.get("DEBLUR_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _env_strict() -> bool:
    return os.environ.get("DEBLUR_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def core_version() -> str:
    try:
        return metadata.version(CORE)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class PluginManager:
    """A fresh, self-contained set of plugins; cheap to build, so tests make their own.

    Args:
        builtins: register core's own components (``deblur._builtins``).
        autoload: discover and load the entry points of the group ``deblur``.
        allow: allowlist of entry-point or distribution names; ``None`` reads ``DEBLUR_LOAD_PLUGINS``.
        strict: re-raise plugin failures; ``None`` reads ``DEBLUR_STRICT_PLUGINS``.
    """

    def __init__(
        self,
        *,
        builtins: bool = True,
        autoload: bool = True,
        allow: Iterable[str] | None = None,
        strict: bool | None = None,
    ) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.strict = _env_strict() if strict is None else strict
        self.allow = _env_allowlist() if allow is None else set(allow)
        self._status: dict[str, PluginStatus] = {}
        self.conflicts: list[str] = []
        if builtins:
            from deblur import _builtins

            self.register(_builtins, CORE, distribution=CORE, version=core_version())
        if autoload:
            self.load_entry_points()

    # -- registration -------------------------------------------------------------------------
    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginStatus:
        """Register an imported plugin module or object under ``name``."""
        if name in self._status:
            raise PluginError(f"a plugin named {name!r} is already registered")
        self._pm.register(plugin, name=name)
        hooks = sorted(hook for hook in HOOK_NAMES.values() if callable(getattr(plugin, hook, None)))
        status = PluginStatus(name, distribution, version, hooks=hooks)
        self._status[name] = status
        return status

    def load_entry_points(self, entry_points: Iterable[metadata.EntryPoint] | None = None) -> None:
        """Import every allowed entry point of the group, isolating failures and name clashes."""
        eps = list(metadata.entry_points(group=GROUP) if entry_points is None else entry_points)
        by_name: dict[str, list[metadata.EntryPoint]] = defaultdict(list)
        for ep in eps:
            by_name[ep.name].append(ep)
        for name, group in sorted(by_name.items()):
            dist, version = _provenance(group[0])
            if len(group) > 1:
                owners = " and ".join(f"{d} {v}" for d, v in map(_provenance, group))
                message = f"entry point {name!r} of group {GROUP!r} is provided by both {owners}"
                self.conflicts.append(message)
                self._status[name] = PluginStatus(name, dist, version, "failed", message)
                continue
            if self.allow is not None and name not in self.allow and dist not in self.allow:
                self._status[name] = PluginStatus(name, dist, version, "disabled")
                continue
            try:
                module = group[0].load()
            except Exception as exc:
                if self.strict:
                    raise
                self._status[name] = PluginStatus(name, dist, version, "failed", _reason(exc))
                continue
            self.register(module, name, distribution=dist, version=version)

    # -- queries ------------------------------------------------------------------------------
    def statuses(self) -> list[PluginStatus]:
        """Every plugin seen, core first, in load order."""
        return list(self._status.values())

    def status(self, name: str) -> PluginStatus:
        return self._status[name]

    def collect(self) -> dict[str, list[tuple[Any, PluginStatus]]]:
        """Call every hook of every loaded plugin; a plugin whose hook raises is marked failed and
        contributes nothing. Returns ``{kind: [(record, provider status), ...]}``."""
        per_plugin: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        for kind, hook_name in HOOK_NAMES.items():
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                status = self._status[impl.plugin_name]
                if status.status != "loaded":
                    continue
                try:
                    records = check_records(kind, impl.function(), impl.plugin_name)
                except Exception as exc:
                    if self.strict:
                        raise
                    status.status, status.error = "failed", f"{hook_name}() raised {_reason(exc)}"
                    continue
                per_plugin[impl.plugin_name][kind] = records
        collected: dict[str, list[tuple[Any, PluginStatus]]] = {kind: [] for kind in KINDS}
        for name, by_kind in per_plugin.items():
            status = self._status[name]
            if status.status != "loaded":
                continue
            for kind, records in by_kind.items():
                collected[kind].extend((record, status) for record in records)
        return collected


def _provenance(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version
