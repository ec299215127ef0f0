"""The plugin host: hook specifications, records and the plugin manager."""

from deblur.plugins.hookspecs import hookimpl
from deblur.plugins.manager import PluginManager, PluginStatus
from deblur.plugins.records import (
    COMPONENT_KINDS,
    KINDS,
    ComponentRecord,
    KernelRepresentationRecord,
    MethodRecord,
    OperatorRecord,
    PriorRecord,
    Requirement,
    SolverRecord,
    TrainerRecord,
)

__all__ = [
    "COMPONENT_KINDS",
    "KINDS",
    "ComponentRecord",
    "KernelRepresentationRecord",
    "MethodRecord",
    "OperatorRecord",
    "PluginManager",
    "PluginStatus",
    "PriorRecord",
    "Requirement",
    "SolverRecord",
    "TrainerRecord",
    "hookimpl",
]
