"""Resolve a recipe plus overrides into a tree of components, check that it fits, build it, run it.

Slots are addressed by *paths*: the root solver is ``"solver"``, its slots by name (``"nonblind"``),
nested slots joined by dots (``"nonblind.prior"``). Components are chosen per path (method defaults,
then the user's overrides, then the slot's default) and parameters are given per path. Capabilities
are checked for the whole tree before any factory is imported or called.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from deblur.errors import CompositionError, InputError
from deblur.parallel import Job
from deblur.parameters import check_params
from deblur.plugins.records import NONE, Requirement
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
    empty: list[str] = field(default_factory=list)  # optional slots left empty: built as None

    def walk(self) -> list[Node]:
        return [self, *(n for child in self.children.values() for n in child.walk())]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.entry.name,
            "provider": self.entry.distribution or self.entry.plugin,
            "params": dict(self.params),
            "slots": {
                **{slot: child.config() for slot, child in self.children.items()},
                **dict.fromkeys(self.empty),
            },
        }

    def build(self) -> Any:
        """Build the children, then this component with them and its parameters.

        An operator needs its operand (a kernel, a kernel field), known only when the solver runs, so an
        operator slot is filled with a *builder*: the factory with the slot's parameters bound
        (``functools.partial(UniformBlur, boundary="same")``), which the solver calls on its operand.
        """
        factory = self.entry.record.load_factory()
        parts = {slot: child.build() for slot, child in self.children.items()}
        if self.entry.kind == "operator":
            return functools.partial(factory, **parts, **dict.fromkeys(self.empty), **self.params)
        return factory(**parts, **dict.fromkeys(self.empty), **self.params)

    def check_params(self) -> None:
        """Refuse parameters the factory does not take or values that do not fit their declared types;
        convert command-line text to those types (:mod:`deblur.parameters`)."""
        self.params = check_params(
            self.entry.record.load_factory(),
            self.params,
            path=self.path,
            component=f"{self.entry.kind} {self.entry.name!r}",
            slots=[*self.children, *self.empty, *self._operands()],
        )

    def _operands(self) -> list[str]:
        """An operator factory's operands (``kernel``, ``field``): given at run time, never parameters."""
        if self.entry.kind != "operator":
            return []
        from deblur.operators.base import operand_names

        return operand_names(self.entry.record.load_factory())


@dataclass
class Plan:
    """A resolved, checked pipeline: the method (if any) and the component tree."""

    root: Node
    method: str | None = None

    def config(self) -> dict[str, Any]:
        return {"method": self.method, ROOT: self.root.config()}

    def slot_paths(self, slot: str) -> dict[str, Requirement]:
        """The path and requirement of every slot named ``slot`` in the tree, filled or left empty
        (``"kernel_rep"`` -> ``{"estimator.kernel_rep": ...}`` in ``dipmc``)."""
        return {
            _join(node.path, name): node.entry.record.requires[name]
            for node in self.root.walk()
            for name in (*node.children, *node.empty)
            if name == slot
        }

    def check(self) -> Plan:
        """Check every component's parameters (importing the factories, calling none of them)."""
        for node in self.root.walk():
            node.check_params()
        return self

    def build(self) -> Any:
        return self.check().root.build()


def _join(prefix: str, slot: str) -> str:
    return slot if prefix == ROOT else f"{prefix}.{slot}"


@dataclass(frozen=True)
class Choices:
    """Components by slot path and parameters by slot path: a recipe's, or the user's overrides."""

    components: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def paths(self) -> set[str]:
        return set(self.components) | set(self.params)


def _resolve_node(
    registry: Registry,
    path: str,
    entry: Registered,
    user: Choices,
    recipe: Choices | None,
    replaced: list[str],
) -> Node:
    """Resolve ``entry`` at ``path`` and, recursively, its slots.

    The user's choices win over the recipe's. Where the user puts a different component in a slot than
    the recipe would, the recipe's components and parameters for that slot and everything below it are
    dropped (they were chosen for the component replaced), and the slot's path goes into ``replaced``.
    """
    node = Node(path, entry, {**(recipe.params.get(path, {}) if recipe else {}), **user.params.get(path, {})})
    for slot, req in entry.record.requires.items():
        slot_path = _join(path, slot)
        planned = (recipe.components.get(slot_path) if recipe else None) or req.default
        name = user.components.get(slot_path, planned)
        keeps_recipe = recipe is not None and name == planned
        if recipe is not None and not keeps_recipe:
            replaced.append(slot_path)
        fitting = registry.fillers(req)
        if (name is None or name == NONE) and req.optional:
            node.empty.append(slot)
            continue
        if name is None or name == NONE:
            raise CompositionError(
                f"slot {slot_path!r} of {entry.name!r} needs {req.describe()}; choose one with "
                f"--use {slot_path}=NAME (fitting: {', '.join(fitting) or 'none registered'})"
            )
        child = registry.get(req.kind, name)
        missing = req.missing(child.record.provides)
        if missing:
            raise CompositionError(
                f"{name!r} ({child.distribution or child.plugin}) cannot fill slot {slot_path!r} of "
                f"{entry.name!r}: it lacks {', '.join(missing)}; "
                f"{_plural(req.kind)} that fit: {', '.join(fitting) or 'none registered'}"
            )
        child_recipe = recipe if keeps_recipe else None
        node.children[slot] = _resolve_node(registry, slot_path, child, user, child_recipe, replaced)
    return node


def _plural(kind: str) -> str:
    return kind.replace("_", " ") + "s"


def _under(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def resolve_solver(
    registry: Registry,
    solver: str,
    *,
    need: str,
    components: Mapping[str, str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    method: str | None = None,
    recipe: Choices | None = None,
) -> Plan:
    """Resolve the solver ``solver`` (which must provide ``need``) and its slots into a :class:`Plan`.

    ``components`` and ``params`` are the user's choices by slot path; ``recipe`` holds a method's,
    which apply only while the user keeps the components they were chosen for.
    """
    user = Choices(dict(components or {}), {path: dict(v) for path, v in (params or {}).items()})
    entry = registry.get("solver", solver)
    if need not in entry.record.provides:
        fitting = ", ".join(registry.fitting("solver", {need})) or "none registered"
        raise CompositionError(f"solver {solver!r} is not {need}; {need} solvers: {fitting}")
    replaced: list[str] = []
    root = _resolve_node(registry, ROOT, entry, user, recipe or Choices(), replaced)
    paths = {node.path for node in root.walk()}
    paths |= {_join(node.path, slot) for node in root.walk() for slot in node.empty}  # chosen "none"
    recipe_paths = {p for p in (recipe.paths() if recipe else ()) if not _under(p, replaced)}
    stray = sorted((user.paths() | recipe_paths) - paths)
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
    """Resolve a registered method with the user's component and parameter overrides.

    Swapping a component (``components={"nonblind": "wiener"}``) drops the recipe's choices made for the
    component it replaces: its sub-slots (``nonblind.prior``) and parameters.
    """
    record = registry.get("method", method).record
    return resolve_solver(
        registry,
        record.solver,
        need="blind",
        components=components,
        params=params,
        method=method,
        recipe=Choices(record.components, record.params),
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
def default_registry(plugins: bool = True) -> Registry:
    """The registry of the installed plugins (``plugins=False``: core's built-ins alone, as
    ``deblur --no-plugins``), built once per process."""
    from deblur.plugins.manager import PluginManager

    return Registry() if plugins else Registry(PluginManager(allow=()))


@dataclass
class RunJob(Job):
    """:func:`run` with fixed settings, called on one image at a time (``job(image) -> Result``).

    It pickles, so worker processes (:mod:`deblur.parallel`) can run it: ``registry`` and ``progress``
    belong to this process and stay behind; a worker uses :func:`default_registry` (``plugins`` says
    whether with the installed plugins) and reports no progress.
    """

    method: str
    kernel_size: int | None = None
    seed: int = 0
    device: str | None = None
    components: dict[str, str] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    fallback: bool = True
    plugins: bool = True
    registry: Registry | None = None
    progress: Progress | None = None
    local = ("registry", "progress")

    def __call__(self, image: Any) -> Result:
        return run(
            image,
            self.method,
            kernel_size=self.kernel_size,
            seed=self.seed,
            device=self.device,
            progress=self.progress,
            registry=self.registry or default_registry(self.plugins),
            components=self.components,
            params=self.params,
            fallback=self.fallback,
        )


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
    fallback: bool = True,
    **overrides: Any,
) -> Result:
    """Deblur ``image`` with a registered method; the Python twin of ``deblur run``.

    Every result with a kernel carries its :class:`~deblur.confidence.Confidence` per batch item. Where
    it says unreliable and ``fallback`` is set, that item's image is the input (clipped to [0, 1]) and
    the estimate is kept as ``extras["estimate"]``.

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
        fallback: hand back the input where the confidence says the estimate is unreliable.
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
    x = as_image(image).detach()  # a blind run is an estimate, not a differentiable function of y
    target = pick_device(device, x)
    x = x.to(target)
    check_kernel_size(kernel_size, x.shape[-2:])
    start = time.perf_counter()
    solver = plan.build()
    ctx = RunContext(kernel_size=kernel_size, seed=seed, device=target, progress=progress or silent)
    result = solver(x, ctx)
    result.image = result.image.clamp(0.0, 1.0)
    if result.kernel is not None:
        from deblur.confidence import assess

        kernels = result.kernel.expand(len(x), -1, -1, -1)
        result.confidence = [
            assess(x[b : b + 1], result.image[b : b + 1], kernels[b : b + 1]) for b in range(len(x))
        ]
        unreliable = [b for b, c in enumerate(result.confidence) if not c.reliable]
        if fallback and unreliable:
            result.extras["estimate"] = result.image.clone()
            for b in unreliable:
                result.image[b] = x[b].clamp(0.0, 1.0)
                result.confidence[b] = replace(result.confidence[b], fallback=True)
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
    operator: str | None = None,
    registry: Registry | None = None,
    components: Mapping[str, str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    **solver_params: Any,
) -> torch.Tensor:
    """Non-blind deconvolution of ``image`` by a known blur with a registered solver.

    The solver's ``forward`` slot is the blur model: ``operator="kernel-field"`` is shorthand for
    ``components={"forward": "kernel-field"}`` and its settings go in ``params={"forward": {...}}``.
    With a uniform operator (the default, ``"uniform"``) ``kernel`` is a path (.png, .npy,
    .safetensors), an array or a tensor, normalised to sum 1; with a spatially varying one it is a
    kernel field (B or 1, h * w, H, W), each pixel's kernel normalised to sum 1, or for
    ``"kernel-basis"`` a pair ``(kernels, weights)`` (:func:`deblur.operators.spatially_varying.as_operand`).
    ``components`` and ``params`` address the solver's slots by path (``{"prior": "tv"}``,
    ``{"prior": {"weight": 1e-4}}``); keyword arguments are the solver's own parameters.
    Returns the clipped image (B, C, H, W).
    """
    from deblur.inputs import as_image, as_kernel, check_kernel_fits

    chosen = dict(components or {})
    if operator is not None and chosen.setdefault("forward", operator) != operator:
        raise CompositionError(
            f"operator={operator!r} and components['forward']={chosen['forward']!r} disagree; give one"
        )
    merged = {path: dict(values) for path, values in (params or {}).items()}
    merged.setdefault(ROOT, {}).update(solver_params)
    plan = resolve_solver(
        registry or default_registry(), solver, need="non-blind", components=chosen, params=merged
    )
    x = as_image(image)
    forward = plan.root.children.get("forward")
    if forward is None or "spatially-varying" not in forward.entry.record.provides:
        k = as_kernel(kernel).to(x.device)
        check_kernel_fits(k, x)
    else:
        from deblur.operators.spatially_varying import as_operand

        k = as_operand(kernel)
        k = tuple(t.to(x.device) for t in k) if isinstance(k, tuple) else k.to(x.device)
        batch = (k[1] if isinstance(k, tuple) else k).shape[0]
        if batch not in (1, x.shape[0]):
            raise InputError(f"the blur has batch {batch} but the image {x.shape[0]} (use 1 or equal)")
    built: Callable[..., torch.Tensor] = plan.build()
    return built(x, k).clamp(0.0, 1.0)
