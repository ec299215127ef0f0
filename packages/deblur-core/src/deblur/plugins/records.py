"""The records that plugins register: frozen, named descriptions of components and methods.

A record is cheap: it names a component, says what it offers (``provides``) and what it needs
(``requires``), and holds a *factory* that builds the real object only when a pipeline runs. The factory
is a callable or an import string ``"package.module:attribute"`` resolved on first use, so listing
components never imports a plugin's heavy modules.
"""

from __future__ import annotations

import importlib
import re
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from deblur.errors import PluginError

#: The kinds of component a method can be composed of, in the order the CLI lists them.
COMPONENT_KINDS = ("operator", "prior", "solver", "kernel_representation", "image_network")
#: Every kind of record a plugin can register.
KINDS = (*COMPONENT_KINDS, "method", "trainer", "benchmark")

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

Factory = Callable[..., Any] | str


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise PluginError(f"invalid {what} name {name!r}: use lower-case letters, digits, '-', '_' and '.'")


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def resolve_factory(factory: Factory) -> Callable[..., Any]:
    """Turn ``"module:attribute"`` into the object it names; callables pass through."""
    if callable(factory):
        return factory
    module_name, _, attribute = factory.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"cannot load factory {factory!r}: {exc}") from exc
    return obj


@dataclass(frozen=True)
class Requirement:
    """A slot a component needs filled by another registered component.

    Attributes:
        kind: the kind of component that fills the slot (one of :data:`COMPONENT_KINDS`).
        capabilities: what the filling component must provide, all of it.
        default: the component used when neither the method nor the user chooses one.
        summary: what the slot is for, shown in error messages.
        any_of: capabilities of which the filling component must provide at least one (e.g. an
            operator that is ``uniform`` or ``spatially-varying``); empty: no such condition.
        optional: the slot may stay empty: with no default and no choice, or when the user chooses
            :data:`NONE` (``--use refiner=none``), the factory receives ``None``.
    """

    kind: str
    capabilities: frozenset[str] = frozenset()
    default: str | None = None
    summary: str = ""
    any_of: frozenset[str] = frozenset()
    optional: bool = False

    def __post_init__(self) -> None:
        if self.kind not in COMPONENT_KINDS:
            raise PluginError(f"requirement kind {self.kind!r} is not one of {', '.join(COMPONENT_KINDS)}")
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))
        object.__setattr__(self, "any_of", frozenset(self.any_of))

    def missing(self, provides: frozenset[str]) -> list[str]:
        """What a component providing ``provides`` lacks to fill the slot (empty: it fits)."""
        lacks = sorted(self.capabilities - provides)
        if self.any_of and not self.any_of & provides:
            lacks.append(f"one of {', '.join(sorted(self.any_of))}")
        return lacks

    def describe(self) -> str:
        """``a solver providing non-blind``, for messages."""
        needs = sorted(self.capabilities) + (
            [f"one of {'|'.join(sorted(self.any_of))}"] if self.any_of else []
        )
        return f"a {self.kind.replace('_', ' ')} providing {', '.join(needs) or 'anything'}"


#: The component name that leaves an optional slot empty.
NONE = "none"


@dataclass(frozen=True)
class ComponentRecord:
    """Base of the four component records.

    Attributes:
        name: unique name within the kind, e.g. ``"hqs"``.
        summary: one line for listings.
        factory: builds the component: called with the filled slots and the parameters as keyword
            arguments. A callable, or ``"module:attribute"`` imported only when needed.
        provides: capabilities this component offers (free-form strings, e.g. ``"non-blind"``).
        requires: slots it needs filled, by slot name.
        citation: the paper or source, for reports.
        quick: parameters that make one run short (a few iterations, a small network's worth of work),
            for tests that run every composition (:func:`deblur.testing.check_composition`); never used
            by methods.
    """

    kind: ClassVar[str] = ""

    name: str
    summary: str
    factory: Factory
    provides: frozenset[str] = frozenset()
    requires: Mapping[str, Requirement] = field(default_factory=dict)
    citation: str = ""
    quick: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name, self.kind)
        object.__setattr__(self, "provides", frozenset(self.provides))
        object.__setattr__(self, "requires", _frozen(self.requires))
        object.__setattr__(self, "quick", _frozen(self.quick))

    def load_factory(self) -> Callable[..., Any]:
        """The factory as a callable (imports it if it was given as a string)."""
        return resolve_factory(self.factory)


@dataclass(frozen=True)
class OperatorRecord(ComponentRecord):
    """A blur forward model, e.g. uniform convolution or a spatially varying kernel field."""

    kind: ClassVar[str] = "operator"


@dataclass(frozen=True)
class PriorRecord(ComponentRecord):
    """An image or kernel prior (see :mod:`deblur.priors.base` for the capability protocols)."""

    kind: ClassVar[str] = "prior"


@dataclass(frozen=True)
class SolverRecord(ComponentRecord):
    """A non-blind solver ``(y, k) -> x`` or a blind solver ``(y, RunContext) -> Result``."""

    kind: ClassVar[str] = "solver"


@dataclass(frozen=True)
class ImageNetworkRecord(ComponentRecord):
    """A network that generates images, e.g. a deep image prior's generator; its factory returns a
    builder ``(channels, (H, W), *, generator) -> torch.nn.Module`` (see ``image-network`` in
    :mod:`deblur.capabilities`)."""

    kind: ClassVar[str] = "image_network"


@dataclass(frozen=True)
class KernelRepresentationRecord(ComponentRecord):
    """How a kernel is parameterised while it is estimated (explicit, network output, latent code...)."""

    kind: ClassVar[str] = "kernel_representation"


@dataclass(frozen=True)
class MethodRecord:
    """A named recipe: a blind solver, the components for its slots and default parameters.

    Attributes:
        name: what users type after ``deblur run``.
        summary: one line for listings.
        solver: name of the registered blind solver at the root of the recipe.
        components: component name by slot path (``"nonblind"``, ``"nonblind.prior"``); slots left out
            take their requirement's default.
        params: keyword parameters by slot path; ``"solver"`` is the root solver.
        needs_weights: whether the method loads shipped weights.
        citation: the paper the recipe follows.
    """

    kind: ClassVar[str] = "method"

    name: str
    summary: str
    solver: str
    components: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    needs_weights: bool = False
    citation: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "method")
        object.__setattr__(self, "components", _frozen(self.components))
        object.__setattr__(
            self, "params", MappingProxyType({k: _frozen(v) for k, v in (self.params or {}).items()})
        )


@dataclass(frozen=True)
class TrainerRecord:
    """A training command, run as ``deblur train NAME``, that makes the weights a plugin ships.

    Attributes:
        name: what users type after ``deblur train``.
        summary: one line for listings.
        factory: a callable ``train(spec: deblur.training.TrainSpec) -> Path`` (or its import string)
            that writes ``.safetensors`` + card and returns the weight file.
        citation: the paper the training follows.
    """

    kind: ClassVar[str] = "trainer"

    name: str
    summary: str
    factory: Factory
    citation: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "trainer")

    def load_factory(self) -> Callable[..., Any]:
        """The training function (imports it if it was given as a string)."""
        return resolve_factory(self.factory)


#: The table tag that gathers every package's run of its method on Levin into one table.
LEVIN_BLIND = "levin-blind"
#: Levin's four largest kernels (27, 23, 23, 21 px), each on its own scene: where ablations run when
#: the whole set costs too much on a CPU.
LEVIN_ABLATION = ("im01_ker04", "im02_ker07", "im03_ker08", "im04_ker06")
#: The table tag that gathers every package's composition run (a method with a slot refilled by ``--use``,
#: often by another package's component) into one table, each row beside the method alone.
COMPOSITIONS = "compositions"
#: The spatially varying set of the benchmarks page (:mod:`deblur.data.spatially_varying`).
SYNTHETIC_SV = "synthetic-sv:32"
#: The table tag that gathers every package's run on the realistic set into one table.
REALISTIC_BLIND = "realistic-blind"
#: The realistic set of the benchmarks page: cases 0-39 of :mod:`deblur.data.realistic`, held out
#: (classic's robustness settings were chosen on cases 40-51).
REALISTIC = "realistic:40"
#: Its first eight cases, two of each category in gray and in colour: where methods that cost minutes
#: an image on a CPU run.
REALISTIC_SUBSET = tuple(
    f"realistic{i:03d}-{kind}" for i, kind in enumerate(("plain", "saturated", "text", "large") * 2)
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(word: str, values: Mapping[str, str]) -> str:
    """``word`` with each ``{name}`` replaced by ``values[name]`` (a missing name is a ``KeyError``);
    other braces stay as they are."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], word)


@dataclass(frozen=True)
class BenchRun:
    """A ``deblur bench`` run that a benchmark section reads.

    Attributes:
        name: the run's name, unique over every plugin's benchmarks; its report is kept as
            ``NAME.json`` in the results folder.
        methods: what ``deblur bench`` compares (method names, ``true-kernel:SOLVER``).
        dataset: the ``--dataset`` spec; ``{levin}`` and other braces are the data folders given to the
            generator (:mod:`deblur.benchdoc`).
        args: further ``deblur bench`` arguments (``--set``, ``--use``, ``--kernel-size``).
        images: only these images (``--images``); empty: all.
        table: a tag that gathers runs of several plugins into one table (``"levin-blind"``).
        montages: copy the run's montages to ``docs/images/NAME/``.
    """

    name: str
    methods: tuple[str, ...]
    dataset: str = "levin:{levin}"
    args: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    table: str = ""
    montages: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name, "benchmark run")

    def command(self, data: Mapping[str, str], out: str | None = None) -> list[str]:
        """The ``deblur bench`` command line, with the data folders ``data`` and ``--out out``."""
        words = ["deblur", "bench", *self.methods, "--dataset", _fill(self.dataset, data), *self.args]
        words += ["--quiet"] + (["--images", ",".join(self.images)] if self.images else [])
        return words + (["--out", out] if out is not None else [])


@dataclass(frozen=True)
class ScriptRun:
    """A script, run from the repository root, that writes the JSON file a benchmark section reads.

    ``argv`` may hold the data folders in braces (``{levin}``) and ``{out}``, the JSON file to write.
    """

    name: str
    argv: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_name(self.name, "benchmark run")

    def command(self, data: Mapping[str, str], out: str | None = None) -> list[str]:
        """The command line, with the data folders ``data`` and the output file ``out``."""
        values = ChainMap({"out": out or "OUT.json"}, data)
        return [_fill(word, values) for word in self.argv]


@dataclass(frozen=True)
class BenchmarkRecord:
    """A section of docs/benchmarks.md: the runs it reads and the function that writes it.

    Attributes:
        name: unique name of the section.
        title: its heading.
        render: ``render(results: deblur.benchdoc.Results) -> str`` (or its import string): the section's
            markdown, every figure in it read from ``results``.
        runs: the runs whose results it reads (a section may also read the runs of other sections).
        order: position on the page (lower first); core's sections take 0-99.
    """

    kind: ClassVar[str] = "benchmark"

    name: str
    title: str
    render: Factory
    runs: tuple[BenchRun | ScriptRun, ...] = ()
    order: int = 100

    def __post_init__(self) -> None:
        _check_name(self.name, "benchmark")
        object.__setattr__(self, "runs", tuple(self.runs))

    def load_render(self) -> Callable[..., str]:
        """The render function (imports it if it was given as a string)."""
        return resolve_factory(self.render)


RECORD_TYPES: Mapping[str, type] = MappingProxyType(
    {
        "operator": OperatorRecord,
        "prior": PriorRecord,
        "solver": SolverRecord,
        "kernel_representation": KernelRepresentationRecord,
        "image_network": ImageNetworkRecord,
        "method": MethodRecord,
        "trainer": TrainerRecord,
        "benchmark": BenchmarkRecord,
    }
)


def check_records(kind: str, records: Iterable[Any], plugin: str) -> list[Any]:
    """Materialise a hook's output and check every item is a record of the hook's kind."""
    expected = RECORD_TYPES[kind]
    items = list(records or ())
    for item in items:
        if not isinstance(item, expected):
            raise PluginError(
                f"plugin {plugin!r} yielded {type(item).__name__} from the {kind} hook; "
                f"expected {expected.__name__}"
            )
    return items
