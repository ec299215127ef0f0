"""What fits where: every slot of a method, the installed components that can fill it, and the
compositions (method, slot, component) the registry allows.

Everything here reads records only: resolving a method names its components without importing a single
factory, so ``deblur list-compositions`` stays as light as ``deblur list-methods``. A composition swaps
one slot of a method's own tree (``kdiff`` with ``estimator.kernel_prior=ufp-flow``); a component put in
a slot brings its slots' defaults, and a required slot without one takes the first component that fits.

Cheap to import: no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deblur.errors import CompositionError
from deblur.pipeline import ROOT, Node, resolve_method
from deblur.plugins.records import NONE
from deblur.registry import Registered, Registry

__all__ = [
    "Composition",
    "SlotView",
    "compositions",
    "fill_required",
    "method_slots",
    "quick_params",
]


@dataclass(frozen=True)
class SlotView:
    """One slot of a method's resolved tree.

    Attributes:
        path: the slot's path (``"estimator.kernel_prior"``), what ``--use PATH=NAME`` takes.
        kind: the kind of component that fills it.
        needs: what a filler must provide, in words.
        current: what fills it in the method's recipe; ``None``: left empty (an optional slot).
        optional: the slot may stay empty (``--use PATH=none``).
        fillers: every registered component that fits, in load order.
    """

    path: str
    kind: str
    needs: str
    current: str | None
    optional: bool
    fillers: tuple[str, ...]


@dataclass(frozen=True)
class Composition:
    """A method with one slot refilled: ``components`` holds that choice (``path`` = ``component``,
    possibly :data:`~deblur.plugins.records.NONE`) and any required sub-slot of the new component that
    has no default, filled by the first component that fits."""

    method: str
    path: str
    component: str
    components: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``kdiff estimator.kernel_prior=ufp-flow``: how tests and reports name it."""
        return " ".join([self.method, *(f"{p}={n}" for p, n in self.components.items())])

    def args(self) -> list[str]:
        """The ``deblur run`` / ``deblur bench`` arguments that choose it."""
        return [word for p, n in self.components.items() for word in ("--use", f"{p}={n}")]


def _join(prefix: str, slot: str) -> str:
    return slot if prefix == ROOT else f"{prefix}.{slot}"


def fill_required(registry: Registry, entry: Registered, path: str = ROOT) -> dict[str, str]:
    """Components by slot path for the required slots without a default below ``entry`` (at ``path``),
    each the first registered component that fits, recursively; a slot nothing fits is left out, so that
    resolving names it."""
    chosen: dict[str, str] = {}
    for slot, req in entry.record.requires.items():
        slot_path = _join(path, slot)
        name = req.default
        if name is None and not req.optional:
            fits = registry.fillers(req)
            name = fits[0] if fits else None
            if name is not None:
                chosen[slot_path] = name
        if name is not None:
            chosen.update(fill_required(registry, registry.get(req.kind, name), slot_path))
    return chosen


def _slots(registry: Registry, node: Node) -> list[SlotView]:
    """The slots below ``node``, depth first: each slot, then the slots of what fills it."""
    views = []
    for slot, req in node.entry.record.requires.items():
        child = node.children.get(slot)
        views.append(
            SlotView(
                path=_join(node.path, slot),
                kind=req.kind,
                needs=req.describe(),
                current=child.entry.name if child is not None else None,
                optional=req.optional,
                fillers=tuple(registry.fillers(req)),
            )
        )
        if child is not None:
            views.extend(_slots(registry, child))
    return views


def method_slots(registry: Registry, method: str) -> list[SlotView]:
    """Every slot of ``method``'s resolved tree, root first, with what fills it and what could."""
    return _slots(registry, resolve_method(registry, method).root)


def compositions(registry: Registry, methods: Iterable[str] | None = None) -> list[Composition]:
    """Every composition the registry allows for ``methods`` (default: every registered method): each
    slot of the method's tree refilled by each other component that fits it, or emptied where it is
    optional; choices that do not resolve (a sub-slot nothing fits) are left out."""
    names = list(methods) if methods is not None else [e.name for e in registry.all(["method"])]
    found = []
    for method in names:
        for view in method_slots(registry, method):
            options = [n for n in view.fillers if n != view.current]
            if view.optional and view.current is not None:
                options.append(NONE)
            for name in options:
                chosen = {view.path: name}
                if name != NONE:
                    chosen.update(fill_required(registry, registry.get(view.kind, name), view.path))
                try:
                    resolve_method(registry, method, chosen)
                except CompositionError:
                    continue
                found.append(Composition(method, view.path, name, chosen))
    return found


def quick_params(
    registry: Registry, method: str, components: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Parameters by slot path that make a short run of ``method`` with ``components``: each component's
    ``quick`` settings (:class:`~deblur.plugins.records.ComponentRecord`) at its path."""
    plan = resolve_method(registry, method, components)
    return {node.path: dict(node.entry.record.quick) for node in plan.root.walk() if node.entry.record.quick}
