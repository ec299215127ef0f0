"""The plugin host: hook specifications, records and the plugin manager.

The records load with the package; ``hookimpl`` and the manager (pluggy, entry-point discovery) on
first use, so the command line starts without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deblur.plugins.records import (
    COMPONENT_KINDS,
    KINDS,
    NONE,
    BenchmarkRecord,
    BenchRun,
    ComponentRecord,
    ImageNetworkRecord,
    KernelRepresentationRecord,
    MethodRecord,
    OperatorRecord,
    PriorRecord,
    Requirement,
    ScriptRun,
    SolverRecord,
    TrainerRecord,
)

if TYPE_CHECKING:
    from deblur.plugins.hookspecs import hookimpl
    from deblur.plugins.manager import PluginManager, PluginStatus

_LAZY = {
    "hookimpl": "deblur.plugins.hookspecs",
    "PluginManager": "deblur.plugins.manager",
    "PluginStatus": "deblur.plugins.manager",
}

__all__ = [
    "COMPONENT_KINDS",
    "KINDS",
    "NONE",
    "BenchRun",
    "BenchmarkRecord",
    "ComponentRecord",
    "ImageNetworkRecord",
    "KernelRepresentationRecord",
    "MethodRecord",
    "OperatorRecord",
    "PluginManager",
    "PluginStatus",
    "PriorRecord",
    "Requirement",
    "ScriptRun",
    "SolverRecord",
    "TrainerRecord",
    "hookimpl",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deblur.plugins' has no attribute {name!r}")
