"""Contract checks for plugin authors: an isolated registry, and the promises every component keeps.

Each ``check_*`` function returns quietly or raises :class:`AssertionError` naming the component and the
promise it broke, so it works under pytest, unittest or a plain script. :func:`check_plugin` runs every
applicable check on every component a plugin registers::

    import my_plugin.plugin
    from deblur.testing import check_plugin, registry_with

    def test_contracts():
        check_plugin(my_plugin.plugin)

    def test_my_method_resolves():
        registry = registry_with(my_plugin.plugin)  # core's built-ins + the plugin, nothing else
        ...

Nothing here imports pytest.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, NamedTuple

import torch

from deblur.capabilities import CAPABILITIES
from deblur.compositions import Composition, fill_required, quick_params
from deblur.context import RunContext
from deblur.errors import DeblurError
from deblur.plugins import PluginManager
from deblur.registry import Registered, Registry
from deblur.result import Result

__all__ = [
    "NONBLIND_CASES",
    "NonblindCase",
    "check_blind",
    "check_capabilities",
    "check_composition",
    "check_deterministic",
    "check_kernel",
    "check_kernel_representation",
    "check_method",
    "check_nonblind",
    "check_operator",
    "check_operator_input",
    "check_plugin",
    "check_prior",
    "nonblind_case",
    "plugin_identity",
    "random_kernel",
    "registry_with",
]

#: The kernel size components are built with when none is given.
SIZE = 5
#: Observation size of the non-blind and blind checks.
OBSERVATION = 32

# -- registries -----------------------------------------------------------------------------------


def plugin_identity(plugin: ModuleType | object) -> tuple[str, str | None]:
    """``(plugin name, distribution)`` :func:`registry_with` registers ``plugin`` as: a module
    ``deblur_x.plugin`` is plugin ``x`` of distribution ``deblur-x``; any other object is named after its
    class in kebab case (``MyHooks()`` is ``my-hooks``), without a distribution."""
    if isinstance(plugin, ModuleType):
        package = plugin.__name__.split(".")[0]
        return package.removeprefix("deblur_"), package.replace("_", "-")
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", cls.__name__).lower(), None


def registry_with(*plugins: ModuleType | object, strict: bool | None = None) -> Registry:
    """Core's built-ins plus these hook modules or objects in a fresh plugin manager, nothing else that
    happens to be installed (no entry point is loaded); names as :func:`plugin_identity` gives them.

    ``strict`` is the manager's: ``None`` reads ``DEBLUR_STRICT_PLUGINS``.
    """
    manager = PluginManager(autoload=False, strict=strict)
    for plugin in plugins:
        name, dist = plugin_identity(plugin)
        manager.register(plugin, name, distribution=dist, version="test" if dist else None)
    return Registry(manager)


# -- tensors --------------------------------------------------------------------------------------


def random_kernel(
    h: int = SIZE,
    w: int | None = None,
    *,
    batch: int = 1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Asymmetric random kernels (batch, 1, h, w) on the simplex, peaked at the centre: a shift shows."""
    w = h if w is None else w
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    k = torch.rand(batch, 1, h, w, generator=g) ** 4
    k[..., h // 2, w // 2] += 0.2
    return (k / k.sum((-2, -1), keepdim=True)).to(dtype)


class NonblindCase(NamedTuple):
    """A ``valid`` blur: ``y`` is the interior of ``k * latent``, aligned with
    ``latent[..., top : top + H, left : left + W]``."""

    latent: torch.Tensor
    y: torch.Tensor
    k: torch.Tensor
    top: int
    left: int

    def window(self, dt: int = 0, dl: int = 0) -> torch.Tensor:
        """The latent's window aligned with y, shifted by ``(dt, dl)``."""
        H, W = self.y.shape[-2:]
        return self.latent[..., self.top + dt : self.top + dt + H, self.left + dl : self.left + dl + W]


#: ``name: (channels, batch, (h, w))`` of the cases :func:`check_nonblind` runs.
NONBLIND_CASES: Mapping[str, tuple[int, int, tuple[int, int]]] = {
    "gray": (1, 1, (7, 7)),  # one gray image, one kernel
    "rgb-batch": (3, 2, (7, 5)),  # two RGB images, one kernel each
    "gray-even-kernel": (1, 1, (6, 4)),  # the centre (h // 2, w // 2) of an even kernel
}


def nonblind_case(
    channels: int,
    batch: int,
    kernel: tuple[int, int],
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    size: int = OBSERVATION,
) -> NonblindCase:
    """Dead-leaves latents blurred ``valid`` by one random kernel each, plus a little noise: y is
    (batch, channels, size, size); the same arguments give the same tensors."""
    from deblur.data.procedural import dead_leaves
    from deblur.data.synthetic import blur_image
    from deblur.operators.padding import kernel_pads

    g = torch.Generator().manual_seed(channels * 10 + batch)
    h, w = kernel
    latent = torch.cat([dead_leaves(size + max(h, w), g, channels=channels) for _ in range(batch)])
    latent = latent[..., : size + h - 1, : size + w - 1]
    k = random_kernel(h, w, batch=batch, generator=g)
    y = blur_image(latent, k, noise_sigma=0.002, boundary="valid", generator=1)
    left, _, top, _ = kernel_pads(h, w)
    cast = {"dtype": dtype, "device": device}
    return NonblindCase(latent.to(**cast), y.to(**cast), k.to(**cast), top, left)


def _shape(t: Any) -> Any:
    return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all())


# -- kernels --------------------------------------------------------------------------------------


def check_kernel(
    kernel: Any, size: int | tuple[int, int] | None = None, *, name: str = "kernel", atol: float = 1e-5
) -> None:
    """``kernel`` is a finite (B, 1, h, w) tensor on the simplex (each item non-negative, summing to 1),
    (h, w) = ``size`` where given."""
    if not isinstance(kernel, torch.Tensor) or kernel.ndim != 4 or kernel.shape[1] != 1:
        raise AssertionError(f"{name} is {_shape(kernel)}, not a (B, 1, h, w) tensor")
    if size is not None:
        want = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(kernel.shape[-2:]) != want:
            raise AssertionError(f"{name} is {tuple(kernel.shape)}, not {want[0]}x{want[1]}")
    k = kernel.detach().double()
    if not _finite(k):
        raise AssertionError(f"{name} has non-finite values")
    if float(k.min()) < -atol:
        raise AssertionError(f"{name} has negative entries (min {float(k.min()):.3g}): not on the simplex")
    sums = k.sum((-2, -1)).flatten()
    worst = float((sums - 1).abs().max())
    if worst > atol:
        shown = ", ".join(f"{v:.6g}" for v in sums.tolist()[:4]) + (", ..." if sums.numel() > 4 else "")
        raise AssertionError(f"{name} sums to {shown}, not 1: not on the simplex")


def check_kernel_representation(
    builder: Callable[[int], Any],
    size: int = SIZE,
    *,
    name: str = "kernel representation",
    differentiable: bool = True,
    seed: int = 0,
) -> torch.nn.Module:
    """``builder(size)`` is a ``torch.nn.Module`` whose ``forward()`` is a (1, 1, size, size) kernel on the
    simplex, still after ``initialize(y)`` and after a perturbing step followed by ``constrain()`` (where
    the module has them); with ``differentiable``, the kernel has a finite, non-zero gradient in the
    module's ``parameters()``. Returns the module."""
    module = builder(size)
    if not isinstance(module, torch.nn.Module):
        raise AssertionError(
            f"{name}: builder({size}) returned {type(module).__name__}, not a torch.nn.Module"
        )
    kernel = module()
    check_kernel(kernel, (size, size), name=f"{name}: forward()")
    if kernel.shape[0] != 1:
        raise AssertionError(f"{name}: forward() is {tuple(kernel.shape)}, not (1, 1, {size}, {size})")
    g = torch.Generator().manual_seed(seed)
    params = [p for p in module.parameters() if p.requires_grad]
    if differentiable:
        if not params:
            raise AssertionError(f"{name} is differentiable but has no parameters that require grad")
        weights = torch.rand(size, size, generator=g)
        grads = torch.autograd.grad((module() * weights).sum(), params, allow_unused=True)
        found = [gr for gr in grads if gr is not None]
        if (
            not found
            or not all(_finite(gr) for gr in found)
            or not any(bool(gr.abs().sum() > 0) for gr in found)
        ):
            raise AssertionError(f"{name}: forward() has no finite, non-zero gradient in parameters()")
    if hasattr(module, "initialize"):
        module.initialize(torch.rand(1, 1, OBSERVATION, OBSERVATION, generator=g))
        check_kernel(module(), (size, size), name=f"{name}: forward() after initialize(y)")
    if hasattr(module, "constrain"):
        with torch.no_grad():
            for p in params:
                p.add_(0.1 * torch.randn(p.shape, generator=g).to(p))
        module.constrain()
        check_kernel(module(), (size, size), name=f"{name}: forward() after a step and constrain()")
    return module


# -- operators ------------------------------------------------------------------------------------


def check_operator(
    op_or_factory: Any,
    *,
    operand: Any = None,
    obs_shape: tuple[int, int] = (16, 16),
    batch: int = 2,
    channels: int = 3,
    adjoint: bool = True,
    name: str = "operator",
    seed: int = 0,
    rtol: float = 1e-6,
) -> Any:
    """A linear blur on consistent grids with an exact adjoint, checked on random float64 tensors.

    ``op_or_factory`` is an operator, or an operator factory (or builder) that is called on ``operand`` as
    a solver calls it (:func:`deblur.operators.build_operator`; default: a random :data:`SIZE` x
    :data:`SIZE` kernel). ``observation_shape(latent_shape(obs_shape))`` is ``obs_shape``; ``forward``
    maps (batch, channels, *latent_shape) to (batch, channels, *obs_shape), finite and linear; with
    ``adjoint``, ``adjoint(y)`` has the latent's shape and ``<A x, y> = <x, A^T y>`` to ``rtol``
    (:func:`deblur.operators.adjoint_mismatch`). Returns the operator.
    """
    from deblur.operators.base import LinearOperator, adjoint_mismatch, build_operator

    op = op_or_factory
    if isinstance(op, type) or not isinstance(op, LinearOperator):
        given = operand if operand is not None else random_kernel(SIZE, dtype=torch.float64)
        try:
            op = build_operator(op_or_factory, given)
        except DeblurError as exc:
            raise AssertionError(f"{name}: {exc}") from None
    for member in ("forward", "latent_shape", "observation_shape", *(["adjoint"] if adjoint else [])):
        if not callable(getattr(op, member, None)):
            raise AssertionError(f"{name} has no {member}()")
    latent = tuple(op.latent_shape(obs_shape))
    if tuple(op.observation_shape(latent)) != tuple(obs_shape):
        raise AssertionError(
            f"{name}: latent_shape({obs_shape}) is {latent} but observation_shape({latent}) is "
            f"{tuple(op.observation_shape(latent))}"
        )
    g = torch.Generator().manual_seed(seed)
    x1, x2 = (torch.randn(batch, channels, *latent, generator=g, dtype=torch.float64) for _ in "12")
    y1 = op.forward(x1)
    if not isinstance(y1, torch.Tensor) or tuple(y1.shape) != (batch, channels, *obs_shape):
        raise AssertionError(
            f"{name}: forward(x) for x {tuple(x1.shape)} is {_shape(y1)}, not {(batch, channels, *obs_shape)}"
        )
    if not _finite(y1):
        raise AssertionError(f"{name}: forward(x) has non-finite values")
    mixed = op.forward(0.7 * x1 - 1.3 * x2) - (0.7 * y1 - 1.3 * op.forward(x2))
    if float(mixed.norm()) > rtol * 3 * (float(y1.norm()) + float(op.forward(x2).norm())):
        raise AssertionError(f"{name}: forward is not linear: A(a x1 + b x2) != a A x1 + b A x2")
    if not adjoint:
        return op
    back = op.adjoint(torch.randn(y1.shape, generator=g, dtype=torch.float64))
    if not isinstance(back, torch.Tensor) or back.shape != x1.shape:
        raise AssertionError(
            f"{name}: adjoint(y) for y {tuple(y1.shape)} is {_shape(back)}, not {tuple(x1.shape)}"
        )
    mismatch = adjoint_mismatch(op, obs_shape, batch=batch, channels=channels, generator=g)
    if not mismatch <= rtol:
        raise AssertionError(
            f"{name}: adjoint is not the transpose of forward: |<A x, y> - <x, A^T y>| / (||A x|| ||y||) "
            f"= {mismatch:.3g} > {rtol:g}"
        )
    return op


# -- determinism ----------------------------------------------------------------------------------


def _differences(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return [f"{where}: {type(a).__name__} then {type(b).__name__}"]
        if a.shape != b.shape or a.dtype != b.dtype:
            return [f"{where}: {tuple(a.shape)} {a.dtype} then {tuple(b.shape)} {b.dtype}"]
        da, db = a.detach(), b.detach()
        if torch.equal(da.isnan(), db.isnan()) and torch.equal(da.nan_to_num(), db.nan_to_num()):
            return []
        return [f"{where}: differs by up to {float((da - db).abs().nan_to_num().max()):.3g}"]
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        if type(a) is not type(b):
            return [f"{where}: {type(a).__name__} then {type(b).__name__}"]
        fields = [f.name for f in dataclasses.fields(a) if f.name != "timings"]
        return [d for f in fields for d in _differences(getattr(a, f), getattr(b, f), f"{where}.{f}")]
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            return [f"{where}: keys {sorted(a)} then {sorted(b)}"]
        return [d for key in a for d in _differences(a[key], b[key], f"{where}[{key!r}]")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items then {len(b)}"]
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{where}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    try:
        same = bool(a == b)
    except Exception:  # e.g. arrays: compared element-wise, no single truth value
        same = a is b
    return [] if same else [f"{where}: {a!r} then {b!r}"]


def check_deterministic(call: Callable[[int], Any], *, seed: int = 0, name: str = "call") -> Any:
    """``call(seed)`` twice gives exactly the same result (tensors, dataclasses such as
    :class:`~deblur.Result` but for ``timings``, mappings, sequences), although torch's global generator
    is drawn from in between: randomness must come from the seed. Returns the first result."""
    first = call(seed)
    torch.rand(16)  # a component reading the global generator instead of the seed now differs
    second = call(seed)
    found = _differences(first, second, "result")
    if found:
        raise AssertionError(f"{name} is not deterministic: seed {seed} twice gave {'; '.join(found[:3])}")
    return first


# -- priors ---------------------------------------------------------------------------------------


def check_prior(prior: Any, provides: Iterable[str], *, name: str = "prior", size: int = SIZE) -> None:
    """The behaviour ``provides`` promises, on random images (2, 3, 16, 16) or kernels (2, 1, size, size):
    ``penalty`` a finite scalar differentiable by autograd, ``log_prob`` one value per item,
    ``gradient-shrink`` an element-wise ``shrink``, ``sample`` and ``projection`` kernels on the simplex."""
    provides = set(provides)
    g = torch.Generator().manual_seed(0)
    if "kernel" in provides:
        t = torch.softmax(torch.randn(2, size * size, generator=g), 1).view(2, 1, size, size)
    else:
        t = torch.rand(2, 3, 16, 16, generator=g)
    if "penalty" in provides:
        x = t.clone().requires_grad_(True)
        value = prior.penalty(x)
        if not isinstance(value, torch.Tensor) or value.ndim != 0 or not _finite(value):
            raise AssertionError(f"{name}: penalty(t) is {_shape(value)}, not a finite scalar tensor")
        if not value.requires_grad:
            raise AssertionError(f"{name}: penalty(t) is not differentiable by autograd")
        (grad,) = torch.autograd.grad(value, x, allow_unused=True)
        if grad is not None and not _finite(grad):
            raise AssertionError(f"{name}: the gradient of penalty(t) is not finite")
    if "log_prob" in provides:
        lp = prior.log_prob(t)
        if not isinstance(lp, torch.Tensor) or tuple(lp.shape) != (2,) or bool(lp.isnan().any()):
            raise AssertionError(f"{name}: log_prob(t) for 2 items is {_shape(lp)}, not 2 numbers")
    if "gradient-shrink" in provides:
        v = torch.randn(4, 3, 8, 8, generator=g)
        w = prior.shrink(v, 4.0)
        if not isinstance(w, torch.Tensor) or w.shape != v.shape or not _finite(w):
            raise AssertionError(f"{name}: shrink(v, beta) is {_shape(w)}, not finite and v's shape")
    if "sample" in provides:

        def draw(seed: int) -> torch.Tensor:
            return prior.sample(3, size, generator=torch.Generator().manual_seed(seed))

        ks = check_deterministic(draw, name=f"{name}: sample(n, size, generator)")
        check_kernel(ks, size, name=f"{name}: sample(3, {size})")
        if ks.shape[0] != 3:
            raise AssertionError(f"{name}: sample(3, {size}) gave {ks.shape[0]} kernels")
    if "projection" in provides:
        k = prior.project(t if "kernel" in provides else random_kernel(size, batch=2))
        check_kernel(k, size, name=f"{name}: project(k)")


# -- solvers --------------------------------------------------------------------------------------


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).double().square().flatten(1).mean(1)


def check_nonblind(
    solver: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    name: str = "non-blind solver",
    cases: Iterable[str] | None = None,
    device: str | torch.device = "cpu",
    float64: bool = True,
    unclipped: bool = True,
    differentiable_kernel: bool = False,
) -> None:
    """The non-blind contract (docs/writing-plugins.md): ``x = solver(y, k)`` has y's shape, dtype and
    device, is finite, and is closer to the latent's window aligned with y than y is and than the window
    shifted by one pixel, on each of :data:`NONBLIND_CASES` (or ``cases``, names of them).

    With ``float64``, a float64 y with a float32 k gives float64; with ``unclipped``, an observation
    reaching 2 gives an estimate above 1; with ``differentiable_kernel``, x has a finite, non-zero
    gradient in k.
    """
    for case in NONBLIND_CASES if cases is None else cases:
        channels, batch, kernel = NONBLIND_CASES[case]
        c = nonblind_case(channels, batch, kernel, device=device)
        x = solver(c.y, c.k)
        where = f"{name} on case {case!r} (y {tuple(c.y.shape)}, k {tuple(c.k.shape)})"
        if not isinstance(x, torch.Tensor) or x.shape != c.y.shape:
            raise AssertionError(f"{where} returned {_shape(x)}: x must have y's shape, not the latent's")
        if x.dtype != c.y.dtype or x.device != c.y.device:
            raise AssertionError(
                f"{where} returned {x.dtype} on {x.device}, not y's {c.y.dtype} on {c.y.device}"
            )
        if not _finite(x):
            raise AssertionError(f"{where} returned non-finite values")
        err = _mse(x, c.window())
        if not bool((err < _mse(c.y, c.window())).all()):
            raise AssertionError(f"{where} is no closer to the latent's window aligned with y than y is")
        for dt, dl in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            if not bool((err < _mse(x, c.window(dt, dl))).all()):
                raise AssertionError(
                    f"{where} is closer to the latent's window shifted by {(dt, dl)} than to the one aligned "
                    "with y"
                )
    if float64:
        c = nonblind_case(1, 1, (5, 5), dtype=torch.float64)
        x = solver(c.y, c.k.float())
        if x.dtype != torch.float64 or x.shape != c.y.shape:
            raise AssertionError(
                f"{name} returned {x.dtype} {tuple(x.shape)} for a float64 y {tuple(c.y.shape)}"
            )
    if unclipped:
        c = nonblind_case(1, 1, (5, 5))
        if not float(solver(c.y * 3 - 1, c.k).max()) > 1:
            raise AssertionError(
                f"{name} clips its estimate: an observation reaching 2 gave no value above 1"
            )
    if differentiable_kernel:
        c = nonblind_case(1, 1, (5, 5), dtype=torch.float64)
        k = c.k.clone().requires_grad_(True)
        x = solver(c.y, k)
        if not x.requires_grad:
            raise AssertionError(
                f"{name} is differentiable-kernel but its output does not depend on k by autograd"
            )
        (grad,) = torch.autograd.grad(x.square().sum(), k)
        if not _finite(grad) or not float(grad.abs().sum()) > 0:
            raise AssertionError(f"{name}: the gradient of x in k is not finite and non-zero")


def check_operator_input(
    solver: Callable[[torch.Tensor, Any], torch.Tensor], *, name: str = "non-blind solver"
) -> None:
    """``solver(y, op)`` with a built operator in place of k (the ``operator-input`` capability): for a
    kernel field on a 2 x 2 grid holding one kernel everywhere (:func:`deblur.operators.grid_blur`), x
    has y's shape, is finite and is closer to the latent's window aligned with y than y is."""
    from deblur.operators import grid_blur

    c = nonblind_case(1, 1, (5, 5))
    field = c.k.reshape(1, 25, 1, 1).expand(1, 25, 2, 2).contiguous()
    x = solver(c.y, grid_blur(field, tuple(c.y.shape[-2:])))
    where = f"{name} given a kernel-field operator"
    if not isinstance(x, torch.Tensor) or x.shape != c.y.shape or not _finite(x):
        raise AssertionError(f"{where} returned {_shape(x)}, not a finite {tuple(c.y.shape)}")
    if not bool((_mse(x, c.window()) < _mse(c.y, c.window())).all()):
        raise AssertionError(f"{where} is no closer to the latent's window aligned with y than y is")


def check_blind(
    solver: Callable[[torch.Tensor, RunContext], Any],
    *,
    name: str = "blind solver",
    kernel_size: int = SIZE,
    channels: int = 1,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> Result:
    """``solver(y, ctx)`` on a (1, channels, 32, 32) blurred image returns a :class:`~deblur.Result`
    whose image is finite with y's shape, dtype and device, whose kernel (unless ``None``) is
    ``kernel_size`` on the simplex, and which the same seed reproduces exactly. Returns the result."""
    c = nonblind_case(channels, 1, (kernel_size, kernel_size), device=device)

    def call(s: int) -> Any:
        return solver(c.y, RunContext(kernel_size=kernel_size, seed=s, device=torch.device(device)))

    result = check_deterministic(call, seed=seed, name=name)
    if not isinstance(result, Result):
        raise AssertionError(f"{name} returned {type(result).__name__}, not a deblur.Result")
    image = result.image
    if not isinstance(image, torch.Tensor) or image.shape != c.y.shape:
        raise AssertionError(f"{name}: Result.image is {_shape(image)} for y {tuple(c.y.shape)}")
    if image.dtype != c.y.dtype or image.device != c.y.device or not _finite(image):
        raise AssertionError(f"{name}: Result.image is not finite {c.y.dtype} on {c.y.device}")
    if result.kernel is not None:
        check_kernel(result.kernel, kernel_size, name=f"{name}: Result.kernel")
    return result


#: Observation side and kernel size of :func:`check_composition`: large enough for every shipped network
#: (windows, encoders, kernel-field grids), small enough for a test.
COMPOSITION_SIZE, COMPOSITION_KERNEL = 96, 15


def check_composition(
    registry: Registry,
    composition: Composition,
    *,
    size: int = COMPOSITION_SIZE,
    kernel_size: int = COMPOSITION_KERNEL,
    seed: int = 0,
) -> Result:
    """Run ``composition`` (:func:`deblur.compositions.compositions`) through :func:`deblur.run` on a
    (1, 1, size, size) blurred image with every component's ``quick`` settings: the image is finite with
    y's shape, the kernel is ``kernel_size`` on the simplex, and so is each kernel of a kernel field. A
    failure names the composition. Returns the result."""
    from deblur.pipeline import run

    name = composition.label
    c = nonblind_case(1, 1, (kernel_size, kernel_size), size=size)
    params = quick_params(registry, composition.method, composition.components)
    try:
        result = run(
            c.y,
            composition.method,
            kernel_size=kernel_size,
            seed=seed,
            registry=registry,
            components=composition.components,
            params=params,
            fallback=False,
        )
    except Exception as exc:
        raise AssertionError(f"{name} raised {type(exc).__name__}: {exc}") from exc
    if result.image.shape != c.y.shape or not _finite(result.image):
        raise AssertionError(f"{name}: the image is {_shape(result.image)}, not finite {tuple(c.y.shape)}")
    if result.kernel is not None:
        check_kernel(result.kernel, kernel_size, name=f"{name}: Result.kernel")
    if result.kernel_field is not None:
        field = result.kernel_field
        side = math.isqrt(field.shape[1])
        taps = field.movedim(1, -1).reshape(-1, 1, side, side)
        check_kernel(taps, name=f"{name}: Result.kernel_field")
    if result.kernel is None and result.kernel_field is None:
        raise AssertionError(f"{name}: the result has neither a kernel nor a kernel field")
    return result


# -- components of a registry -----------------------------------------------------------------------


def _protocol(dotted: str) -> Any:
    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def _label(entry: Registered) -> str:
    return f"{entry.kind.replace('_', ' ')} {entry.name!r}"


def _provides(entry: Registered) -> frozenset[str]:
    return getattr(entry.record, "provides", frozenset())


def _operator_tensors(factory: Callable[..., Any], size: int, params: Mapping[str, Any]) -> dict[str, Any]:
    """Random operands for an operator factory (:func:`deblur.operators.base.operand_names`), by name:
    ``kernel`` (1, 1, size, size), ``kernels`` (2, 1, size, size), ``field`` (1, size * size, 16, 16),
    ``weights`` (1, 2, 16, 16); any other one the kernel. ``params`` wins."""
    from deblur.operators.base import operand_names

    g = torch.Generator().manual_seed(0)
    made = {
        "kernel": lambda: random_kernel(size, generator=g, dtype=torch.float64),
        "kernels": lambda: random_kernel(size, batch=2, generator=g, dtype=torch.float64),
        "field": lambda: torch.softmax(
            torch.randn(1, size * size, 16, 16, generator=g, dtype=torch.float64), 1
        ),
        "weights": lambda: torch.rand(1, 2, 16, 16, generator=g, dtype=torch.float64),
    }
    return {n: made.get(n, made["kernel"])() for n in operand_names(factory) if n not in params}


def _build(registry: Registry, entry: Registered, size: int, params: Mapping[str, Any]) -> Any:
    """The component with ``params`` (a solver: by slot path, each slot filled by its default, or the first
    component that fits where it has none); an operator gets random operands of kernel size ``size``, a
    kernel representation is its builder's module of ``size``."""
    if entry.kind == "solver":
        from deblur.pipeline import resolve_solver

        provides = entry.record.provides
        need = next((c for c in ("non-blind", "blind", *sorted(provides)) if c in provides), None)
        if need is None:
            raise AssertionError(f"{_label(entry)} provides no capability, so no slot can take it")
        components = fill_required(registry, entry)
        return resolve_solver(registry, entry.name, need=need, components=components, params=params).build()
    factory = entry.record.load_factory()
    if entry.kind == "operator":
        return factory(**_operator_tensors(factory, size, params), **params)
    if entry.kind == "kernel_representation":
        return factory(**params)(size)
    return factory(**params)


def check_capabilities(
    registry: Registry,
    kind: str,
    name: str,
    *,
    component: Any = None,
    size: int = SIZE,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """The component ``name`` of ``kind``, built with default parameters (or ``params``; or given as
    ``component``), is an instance of the protocol and has the members of every capability it provides
    (:data:`deblur.capabilities.CAPABILITIES`). Returns the built component."""
    try:
        entry = registry.get(kind, name)
    except DeblurError as exc:
        raise AssertionError(str(exc)) from None
    label = _label(entry)
    if component is None:
        try:
            component = _build(registry, entry, size, params or {})
        except Exception as exc:
            raise AssertionError(
                f"{label} cannot be built with {dict(params or {})}: {type(exc).__name__}: {exc}"
            ) from exc
    for cap in sorted(entry.record.provides):
        promise = CAPABILITIES.get(cap)
        if promise is None:
            continue
        if promise.protocol and not isinstance(component, _protocol(promise.protocol)):
            raise AssertionError(f"{label} provides {cap!r} but is not a {promise.protocol}")
        missing = [m for m in promise.members if not hasattr(component, m)]
        if missing:
            raise AssertionError(f"{label} provides {cap!r} but lacks {', '.join(missing)}")
    return component


def check_method(registry: Registry, name: str) -> Any:
    """The method ``name`` resolves: its solver and components are registered and fit their slots, and
    its parameters are ones the factories take (nothing is built). Returns the plan."""
    from deblur.pipeline import resolve_method

    try:
        return resolve_method(registry, name).check()
    except DeblurError as exc:
        raise AssertionError(f"method {name!r} does not resolve: {exc}") from None


def _check_entry(
    registry: Registry, entry: Registered, size: int, params: Mapping[str, Any], device: str
) -> list[str]:
    """Run the checks of ``entry``'s kind; the names of those run."""
    kind, name, provides = entry.kind, entry.name, _provides(entry)
    label = _label(entry)
    if kind == "method":
        check_method(registry, name)
        return ["resolves"]
    if kind == "trainer":
        if not callable(entry.record.load_factory()):
            raise AssertionError(f"{label}: its factory is not callable")
        return ["loads"]
    if kind == "benchmark":
        if not callable(entry.record.load_render()):
            raise AssertionError(f"{label}: its render function is not callable")
        return ["loads"]
    if kind == "kernel_representation":
        builder = entry.record.load_factory()(**params)
        check_kernel_representation(builder, size, name=label, differentiable="differentiable" in provides)
        check_capabilities(registry, kind, name, component=builder(size))
        return ["capabilities", "simplex"]
    built = check_capabilities(registry, kind, name, size=size, params=params)
    if kind == "operator":
        if "linear" not in provides:
            return ["capabilities"]
        check_operator(built, adjoint="adjoint" in provides, name=label)
        return ["capabilities", "linear", *(["adjoint"] if "adjoint" in provides else [])]
    if kind == "prior":
        if "generator" in provides:
            return ["capabilities"]
        check_prior(built, provides, name=label, size=size)
        return ["capabilities", "behaviour"]
    if kind == "solver" and "non-blind" in provides:
        check_nonblind(
            built, name=label, device=device, differentiable_kernel="differentiable-kernel" in provides
        )
        c = nonblind_case(1, 1, (size, size), device=device)
        check_deterministic(lambda _seed: built(c.y, c.k), name=label)
        if "operator-input" in provides:
            check_operator_input(built, name=label)
            return ["capabilities", "non-blind", "deterministic", "operator-input"]
        return ["capabilities", "non-blind", "deterministic"]
    if kind == "solver" and "blind" in provides:
        check_blind(built, name=label, kernel_size=size, device=device)
        return ["capabilities", "blind", "deterministic"]
    return ["capabilities"]


def check_plugin(
    plugin: ModuleType | object,
    *,
    size: int = SIZE,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    skip: Iterable[str] = (),
    pretrained: bool = False,
    device: str = "cpu",
) -> list[str]:
    """Register ``plugin`` with core's built-ins alone (:func:`registry_with`), check that it loads and
    registers something, then run the checks of each kind on every component it registers:

    - operators: :func:`check_capabilities`, :func:`check_operator`; the factory's required parameters
      get random tensors by name: ``kernel`` (1, 1, size, size), ``kernels`` (2, 1, size, size),
      ``field`` (1, size * size, 16, 16), ``weights`` (1, 2, 16, 16), any other one the kernel;
    - priors: :func:`check_capabilities`, :func:`check_prior` (not for ``generator`` priors);
    - non-blind solvers: :func:`check_capabilities`, :func:`check_nonblind`, :func:`check_deterministic`,
      and :func:`check_operator_input` for those that provide ``operator-input``;
    - blind solvers: :func:`check_capabilities`, :func:`check_blind` (run with kernel size ``size``);
    - kernel representations: :func:`check_kernel_representation`, :func:`check_capabilities`;
    - methods: :func:`check_method`; trainers: the factory loads.

    ``params`` gives parameters by component name (for a solver, by slot path: ``{"my-blind":
    {"solver": {"iterations": 5}}}``) to keep runs short; names in ``skip`` are left out, and so are
    components that provide ``pretrained`` unless ``pretrained`` is true (they need shipped weights).
    Every component is checked; then one :class:`AssertionError` lists every broken promise. Returns
    ``"kind 'name': check, check"`` for each component checked.
    """
    registry = registry_with(plugin, strict=False)
    who, _ = plugin_identity(plugin)
    status = registry.manager.status(who)
    if status.status != "loaded":
        raise AssertionError(f"plugin {who!r} did not load: {status.error}")
    entries = [e for e in registry.all() if e.plugin == who and e.name not in set(skip)]
    if not entries and not set(skip):
        raise AssertionError(
            f"plugin {who!r} registers nothing: are its hooks named after deblur.plugins.hookspecs and "
            "marked @hookimpl?"
        )
    report: list[str] = []
    failures: list[str] = []
    for entry in entries:
        if "pretrained" in _provides(entry) and not pretrained:
            report.append(f"{_label(entry)}: skipped (pretrained)")
            continue
        try:
            done = _check_entry(registry, entry, size, (params or {}).get(entry.name, {}), device)
        except AssertionError as exc:
            failures.append(str(exc) if str(exc).startswith(_label(entry)) else f"{_label(entry)}: {exc}")
        except Exception as exc:
            failures.append(f"{_label(entry)} raised {type(exc).__name__}: {exc}")
        else:
            report.append(f"{_label(entry)}: {', '.join(done)}")
    if failures:
        lines = "\n".join(f"- {f}" for f in failures)
        raise AssertionError(f"plugin {who!r} broke {len(failures)} contract(s):\n{lines}")
    return report
