"""Discovering, loading and isolating plugins.

Plugins are modules named by entry points in the group ``deblur``. Each one is loaded on its own: an
import error, a ``@hookimpl`` that matches no hook specification (a misspelt ``deblur_prior``, checked
as each plugin registers) or a hook that raises marks that plugin ``failed`` with the reason and leaves
the others working. Environment switches:

- ``DEBLUR_LOAD_PLUGINS``: comma-separated allowlist of entry-point or distribution names; empty means
  no external plugin (core's built-ins always load). Unset means all.
- ``DEBLUR_STRICT_PLUGINS=1``: re-raise the first plugin failure with its original traceback, and make
  the conflicts below a :class:`PluginError` naming both sides.

Conflicts never fail the innocent party:

- Two allowed distributions declaring one entry-point name: the one named after it by convention
  (entry point ``X`` from distribution ``deblur-X``, names normalised) is loaded, otherwise the first
  found; each other one is listed as ``failed`` and is not imported.
- Two plugins registering a record of one kind and name: the first provider in load order keeps it
  (core first, then entry points by name, then plugins registered later); :meth:`PluginManager.collect`
  marks each later one ``failed`` with the provider it clashed with, and it contributes no record.
"""

from __future__ import annotations

import difflib
import os
import re
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

    def describe(self) -> str:
        """``distribution version`` (or the plugin name), as messages name a provider."""
        who = self.distribution or self.name
        return f"{who} {self.version}" if self.version else who

    def named_like(self, component: str) -> bool:
        """Whether ``component`` is named after this plugin: its entry-point name, or its distribution
        name without ``deblur-``, alone or followed by ``-``, ``_`` or ``.`` (names normalised)."""
        wanted = _normalise(component)
        stems = {_normalise(self.name)}
        if self.distribution:
            stems.add(_normalise(self.distribution).removeprefix("deblur-"))
        return any(wanted == stem or wanted.startswith(f"{stem}-") for stem in stems if stem)


def _normalise(name: str) -> str:
    """A distribution or entry-point name compared the way packaging compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


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
        self._status: dict[str, PluginStatus] = {}  # by name: the one registered (or first seen)
        self._seen: list[PluginStatus] = []  # every status, rejected duplicate entry points included
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
        """Register an imported plugin module or object under ``name``.

        A plugin with a ``@hookimpl`` that matches no hook, or whose arguments its hook does not take, is
        not registered: its status is ``failed`` with the reason (strict mode: :class:`PluginError`).
        """
        if name in self._status:
            raise PluginError(f"a plugin named {name!r} is already registered")
        hooks = sorted(hook for hook in HOOK_NAMES.values() if callable(getattr(plugin, hook, None)))
        status = PluginStatus(name, distribution, version, hooks=hooks)
        try:
            self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:  # a hook whose arguments its spec lacks
            problem = "invalid hook: " + "; ".join(line.strip() for line in str(exc).splitlines() if line)
        else:
            problem = self._unknown_hooks(plugin)
            if problem is not None:
                self._pm.unregister(plugin)
        if problem is not None:
            if self.strict:
                raise PluginError(f"plugin {name!r} ({status.describe()}): {problem}")
            status.status, status.error = "failed", problem
        return self._add_status(status)

    def _unknown_hooks(self, plugin: ModuleType | object) -> str | None:
        """What :meth:`pluggy.PluginManager.check_pending` would refuse, for this plugin alone: its
        ``@hookimpl`` functions that match no hook specification (a misspelt hook name)."""
        callers = self._pm.get_hookcallers(plugin) or []
        unknown = sorted(
            caller.name
            for caller in callers
            if not caller.has_spec()
            and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
        )
        if not unknown:
            return None
        specs = sorted(name for name, caller in vars(self._pm.hook).items() if caller.has_spec())
        named = []
        for name in unknown:
            close = difflib.get_close_matches(name, specs, n=1, cutoff=0.8)
            named.append(f"{name} (did you mean {close[0]}?)" if close else name)
        return f"unknown hook{'s' if len(unknown) > 1 else ''} {', '.join(named)}; hooks: {', '.join(specs)}"

    def _add_status(self, status: PluginStatus) -> PluginStatus:
        self._status.setdefault(status.name, status)
        self._seen.append(status)
        return status

    def load_entry_points(self, entry_points: Iterable[metadata.EntryPoint] | None = None) -> None:
        """Import every allowed entry point of the group, isolating failures and name clashes."""
        eps = list(metadata.entry_points(group=GROUP) if entry_points is None else entry_points)
        by_name: dict[str, list[metadata.EntryPoint]] = defaultdict(list)
        for ep in eps:
            by_name[ep.name].append(ep)
        for name, group in sorted(by_name.items()):
            allowed = [ep for ep in group if self._allowed(ep)]
            keep = self._pick(name, allowed) if allowed else None
            if keep is not None:
                self._load(keep)
            for ep in group:
                if ep is keep:
                    continue
                dist, version = _provenance(ep)
                if keep is not None and any(ep is other for other in allowed):
                    self._add_status(PluginStatus(name, dist, version, "failed", _rejected(name, keep)))
                else:
                    self._add_status(PluginStatus(name, dist, version, "disabled"))

    def _allowed(self, ep: metadata.EntryPoint) -> bool:
        return self.allow is None or ep.name in self.allow or _provenance(ep)[0] in self.allow

    def _pick(self, name: str, candidates: list[metadata.EntryPoint]) -> metadata.EntryPoint:
        """The one of several entry points named ``name`` to load: the one whose distribution is named
        after it (``deblur-NAME``), else the first found; strict mode refuses to choose."""
        if len(candidates) > 1 and self.strict:
            owners = " and ".join(_describe_ep(ep) for ep in candidates)
            raise PluginError(f"entry point {name!r} of group {GROUP!r} is provided by both {owners}")
        owners = [ep for ep in candidates if _named_after(name, _provenance(ep)[0])]
        return (owners or candidates)[0]

    def _load(self, ep: metadata.EntryPoint) -> None:
        dist, version = _provenance(ep)
        try:
            module = ep.load()
        except Exception as exc:
            if self.strict:
                raise
            self._add_status(PluginStatus(ep.name, dist, version, "failed", _reason(exc)))
            return
        self.register(module, ep.name, distribution=dist, version=version)

    # -- queries ------------------------------------------------------------------------------
    def statuses(self) -> list[PluginStatus]:
        """Every plugin seen, core first, in load order; a rejected duplicate entry point follows the
        one of its name that was kept."""
        return list(self._seen)

    def status(self, name: str) -> PluginStatus:
        """The plugin registered as ``name`` (for a duplicate entry-point name: the one kept)."""
        return self._status[name]

    def collect(self) -> dict[str, list[tuple[Any, PluginStatus]]]:
        """Call every hook of every loaded plugin and resolve name clashes.

        A plugin whose hook raises, or that registers a name of a kind that an earlier plugin in load
        order (core first) already provides, is marked failed and contributes nothing; strict mode
        raises instead. Returns ``{kind: [(record, provider status), ...]}`` in load order, one
        provider per name.
        """
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
        taken: dict[tuple[str, str], PluginStatus] = {}
        for status in list(self._status.values()):
            by_kind = per_plugin.get(status.name, {})
            if status.status != "loaded" or not by_kind:
                continue
            clash = self._clash(status, by_kind, taken)
            if clash is not None:
                status.status, status.error = "failed", clash
                continue
            for kind, records in by_kind.items():
                taken.update(((kind, record.name), status) for record in records)
                collected[kind].extend((record, status) for record in records)
        return collected

    def _clash(
        self,
        status: PluginStatus,
        by_kind: dict[str, list[Any]],
        taken: dict[tuple[str, str], PluginStatus],
    ) -> str | None:
        """Why ``status``'s records cannot all be registered, or ``None``; strict mode raises."""
        for kind, records in by_kind.items():
            own: set[str] = set()
            for record in records:
                what = f"{kind.replace('_', ' ')} {record.name!r}"
                other = taken.get((kind, record.name))
                if record.name in own:
                    problem = f"{what} is registered twice by {status.describe()}"
                elif other is not None:
                    problem = f"{what} is already provided by {other.describe()}"
                    if self.strict:
                        problem = (
                            f"{what} is provided by both {other.describe()} and {status.describe()}; "
                            "uninstall one or disable it with DEBLUR_LOAD_PLUGINS"
                        )
                else:
                    own.add(record.name)
                    continue
                if self.strict:
                    raise PluginError(problem)
                return problem
        return None


def _provenance(ep: metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _describe_ep(ep: metadata.EntryPoint) -> str:
    dist, version = _provenance(ep)
    return f"{dist} {version}" if dist and version else dist or repr(ep.value)


def _named_after(name: str, distribution: str | None) -> bool:
    """Whether ``distribution`` owns entry point ``name`` by convention: it is ``deblur-NAME``."""
    return distribution is not None and _normalise(distribution) == _normalise(f"deblur-{name}")


def _rejected(name: str, keep: metadata.EntryPoint) -> str:
    why = "named after it" if _named_after(name, _provenance(keep)[0]) else "found first"
    return (
        f"entry point {name!r} of group {GROUP!r} is also declared by {_describe_ep(keep)} ({why}), "
        "which is used instead"
    )
