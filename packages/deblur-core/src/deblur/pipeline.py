"""Resolve a recipe plus overrides into a tree of components, check that it fits, build it, run it.

Slots are addressed by *paths*: the root solver is ``"solver"``, its slots by name (``"nonblind"``),
nested slots joined by dots (``"nonblind.prior"``). Components are chosen per path (method defaults,
then the user's overrides, then the slot's default) and parameters are given per path. Capabilities
are checked for the whole tree before any factory is imported or called.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deblur.errors import CompositionError
from deblur.registry import Registered, Registry

if TYPE_CHECKING:
    import torch

    from deblur.context import Progress
    from deblur.result import Result

ROOT = "solver"


@dataclass
class Node:
    """One component in a resolved pipeline: what fills the slot at ``path``, with its parameters."""

    path: str
    entry: Registered
    params: dict[str, Any] = field(default_factory=dict)
    children: dict[str, Node] = field(default_factory=dict)

    def walk(self) -> list[Node]:
        return [self, *(n for child in self.children.values() for n in child.walk())]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.entry.name,
            "provider": self.entry.distribution or self.entry.plugin,
            "params": dict(self.params),
            "slots": {slot: child.config() for slot, child in self.children.items()},
        }

    def build(self) -> Any:
        """Build the children, then this component with them and its parameters."""
        factory = self.entry.record.load_factory()
        parts = {slot: child.build() for slot, child in self.children.items()}
        return factory(**parts, **self.params)

    def check_params(self) -> None:
        """Refuse parameters the factory does not take, naming those it does."""
        factory = self.entry.record.load_factory()
        try:
            signature = inspect.signature(factory)
        except (TypeError, ValueError):
            return
        accepted = signature.parameters
        if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            return
        unknown = sorted(set(self.params) - set(accepted))
        if unknown:
            takes = ", ".join(n for n in accepted if n not in self.children) or "no parameters"
            raise CompositionError(
                f"{self.entry.kind} {self.entry.name!r} at {self.path!r} does not take "
                f"{', '.join(unknown)}; it takes: {takes}"
            )


@dataclass
class Plan:
    """A resolved, checked pipeline: the method (if any) and the component tree."""

    root: Node
    method: str | None = None

    def config(self) -> dict[str, Any]:
        return {"method": self.method, ROOT: self.root.config()}

    def build(self) -> Any:
        for node in self.root.walk():
            node.check_params()
        return self.root.build()


def _join(prefix: str, slot: str) -> str:
    return slot if prefix == ROOT else f"{prefix}.{slot}"


def _resolve_node(
    registry: Registry,
    path: str,
    entry: Registered,
    components: Mapping[str, str],
    params: Mapping[str, Mapping[str, Any]],
) -> Node:
    node = Node(path, entry, dict(params.get(path, {})))
    for slot, req in entry.record.requires.items():
        slot_path = _join(path, slot)
        name = components.get(slot_path, req.default)
        fitting = registry.fitting(req.kind, req.capabilities)
        needs = (
            f"a {req.kind.replace('_', ' ')} providing {', '.join(sorted(req.capabilities)) or 'anything'}"
        )
        if name is None:
            raise CompositionError(
                f"slot {slot_path!r} of {entry.name!r} needs {needs}; choose one with "
                f"--use {slot_path}=NAME (fitting: {', '.join(fitting) or 'none registered'})"
            )
        child = registry.get(req.kind, name)
        missing = req.capabilities - child.record.provides
        if missing:
            raise CompositionError(
                f"{name!r} ({child.distribution or child.plugin}) cannot fill slot {slot_path!r} of "
                f"{entry.name!r}: it lacks {', '.join(sorted(missing))}; "
                f"{_plural(req.kind)} that fit: {', '.join(fitting) or 'none registered'}"
            )
        node.children[slot] = _resolve_node(registry, slot_path, child, components, params)
    return node


def _plural(kind: str) -> str:
    return kind.replace("_", " ") + "s"


def resolve_solver(
    registry: Registry,
    solver: str,
    *,
    need: str,
    components: Mapping[str, str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    method: str | None = None,
) -> Plan:
    """Resolve the solver ``solver`` (which must provide ``need``) and its slots into a :class:`Plan`."""
    components = dict(components or {})
    params = {path: dict(values) for path, values in (params or {}).items()}
    entry = registry.get("solver", solver)
    if need not in entry.record.provides:
        fitting = ", ".join(registry.fitting("solver", {need})) or "none registered"
        raise CompositionError(f"solver {solver!r} is not {need}; {need} solvers: {fitting}")
    root = _resolve_node(registry, ROOT, entry, components, params)
    paths = {node.path for node in root.walk()}
    stray = sorted((set(components) | set(params)) - paths)
    if stray:
        raise CompositionError(
            f"no slot {stray[0]!r} in {method or solver!r}; its slots are: {', '.join(sorted(paths))}"
        )
    return Plan(root, method)


def resolve_method(
    registry: Registry,
    method: str,
    components: Mapping[str, str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """Resolve a registered method with the user's component and parameter overrides."""
    record = registry.get("method", method).record
    merged_components = {**record.components, **(components or {})}
    merged_params: dict[str, dict[str, Any]] = {path: dict(v) for path, v in record.params.items()}
    for path, values in (params or {}).items():
        merged_params.setdefault(path, {}).update(values)
    return resolve_solver(
        registry,
        record.solver,
        need="blind",
        components=merged_components,
        params=merged_params,
        method=method,
    )


def split_overrides(
    overrides: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``{"kernel_prior": "kernel-l2", "solver": {"iterations": 5}}`` -> (components, params)."""
    components: dict[str, str] = {}
    params: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if isinstance(value, str):
            components[key] = value
        elif isinstance(value, Mapping):
            params[key] = dict(value)
        else:
            raise CompositionError(
                f"override {key}={value!r}: pass a component name (str) or parameters (dict)"
            )
    return components, params


@functools.cache
def default_registry() -> Registry:
    """The registry of the installed plugins, built once per process."""
    return Registry()


def run(
    image: Any,
    method: str = "classic",
    *,
    kernel_size: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
    registry: Registry | None = None,
    components: Mapping[str, str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    **overrides: Any,
) -> Result:
    """Deblur ``image`` with a registered method; the Python twin of ``deblur run``.

    Args:
        image: a path, a numpy array (H, W[, C]) or a tensor (H, W), (C, H, W) or (B, C, H, W).
        method: a registered method name (``deblur list-methods``).
        kernel_size: odd kernel support; ``None`` lets the method choose.
        seed: seed of every random draw.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``; default: the tensor's device, else CPU.
        progress: a :class:`~deblur.context.Progress` callback.
        registry: the registry to use; default: the installed plugins.
        components, params: overrides by slot path, e.g. ``{"nonblind.prior": "tv"}`` and
            ``{"solver": {"iterations": 50}}``.
        **overrides: shorthand for top-level slots: a string picks a component
            (``kernel_prior="kernel-l2"``), a dict sets parameters (``solver={"iterations": 50}``).
    """
    from deblur.context import RunContext, silent
    from deblur.inputs import as_image, check_kernel_size, pick_device

    extra_components, extra_params = split_overrides(overrides)
    plan = resolve_method(
        registry or default_registry(),
        method,
        {**(components or {}), **extra_components},
        {**(params or {}), **extra_params},
    )
    x = as_image(image)
    target = pick_device(device, x)
    x = x.to(target)
    check_kernel_size(kernel_size, x.shape[-2:])
    start = time.perf_counter()
    solver = plan.build()
    ctx = RunContext(kernel_size=kernel_size, seed=seed, device=target, progress=progress or silent)
    result = solver(x, ctx)
    result.image = result.image.clamp(0.0, 1.0)
    result.timings["total"] = time.perf_counter() - start
    result.config = {
        **plan.config(),
        "kernel_size": kernel_size,
        "seed": seed,
        "device": str(target),
        **result.config,
    }
    return result


def deconvolve(
    image: Any,
    kernel: Any,
    solver: str = "hqs",
    *,
    registry: Registry | None = None,
    components: Mapping[str, str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    **solver_params: Any,
) -> torch.Tensor:
    """Non-blind deconvolution of ``image`` by a known ``kernel`` with a registered solver.

    ``kernel`` is a path (.png, .npy, .safetensors), an array or a tensor; it is normalised to sum 1.
    ``components`` and ``params`` address the solver's slots by path (``{"prior": "tv"}``,
    ``{"prior": {"weight": 1e-4}}``); keyword arguments are the solver's own parameters.
    Returns the clipped image (B, C, H, W).
    """
    from deblur.inputs import as_image, as_kernel, check_kernel_fits

    merged = {path: dict(values) for path, values in (params or {}).items()}
    merged.setdefault(ROOT, {}).update(solver_params)
    plan = resolve_solver(
        registry or default_registry(), solver, need="non-blind", components=components, params=merged
    )
    x = as_image(image)
    k = as_kernel(kernel).to(x.device)
    check_kernel_fits(k, x)
    built: Callable[..., torch.Tensor] = plan.build()
    return built(x, k).clamp(0.0, 1.0)
