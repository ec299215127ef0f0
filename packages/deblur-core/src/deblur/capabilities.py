"""The capability vocabulary: what each string in ``provides`` and ``Requirement(capabilities=...)`` promises.

Capabilities are free strings, matched between a slot and the component that fills it; the registry
checks only that the strings match. This module says what a component that declares one must offer,
so plugin authors and slot authors agree. ``docs/writing-plugins.md`` shows :func:`markdown_table`
verbatim, and the tests check that every string used by a registered component is listed here.

Cheap to import: no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["CAPABILITIES", "Capability", "markdown_table"]


@dataclass(frozen=True)
class Capability:
    """One capability string and its promise.

    Attributes:
        name: the string in ``provides`` / ``Requirement.capabilities``.
        kinds: the component kinds it is used on (``"prior"``, ``"solver"``, ...).
        meaning: one sentence: the method, attribute or behaviour the component promises.
        protocol: dotted name of the Protocol in core that states the promise, or ``None``.
        members: attributes the built component has (for a kernel representation: the module its
            builder returns); empty where they depend on the kind.
    """

    name: str
    kinds: tuple[str, ...]
    meaning: str
    protocol: str | None = None
    members: tuple[str, ...] = ()


_OPERATOR, _PRIOR, _SOLVER, _REP = "operator", "prior", "solver", "kernel_representation"
_NET = "image_network"

_ALL = (
    Capability(
        "adjoint",
        (_OPERATOR,),
        "`adjoint(y)` applies the exact transpose of the blur, `<A x, y> = <x, A^T y>` (the dot-product "
        "test, `deblur.operators.adjoint_mismatch`); under `valid` it returns the latent size, larger than "
        "y by the kernel size - 1.",
        members=("adjoint",),
    ),
    Capability(
        "blind",
        (_SOLVER,),
        "Called as `solver(y, ctx)` with y (B, C, H, W) and a `deblur.RunContext`, it returns a "
        "`deblur.Result` whose unclipped `image` has y's shape and whose `kernel` is the estimate "
        "(non-negative, sum 1); the root solver of every method must provide it.",
        members=("__call__",),
    ),
    Capability(
        "boundary-circular",
        (_OPERATOR,),
        'Accepts `boundary="circular"`: periodic true convolution, y the size of x.',
    ),
    Capability(
        "boundary-same",
        (_OPERATOR,),
        'Accepts `boundary="same"`: x is extended by `padding` ("reflect", "replicate" or "zero") and '
        "blurred `valid`, so y has the size of x.",
    ),
    Capability(
        "boundary-valid",
        (_OPERATOR, _SOLVER),
        "Uses the `valid` model (its default): y is the interior of k * x for a latent larger by "
        "(h - 1, w - 1) and nothing outside y is assumed; an operator maps (H + h - 1, W + w - 1) to "
        "(H, W) (`latent_shape`, `observation_shape`), a non-blind solver estimates the unseen border "
        "instead of assuming periodic or reflected edges.",
    ),
    Capability(
        "differentiable",
        (_REP,),
        "`builder(size)` returns a `torch.nn.Module` whose `forward()` is a (1, 1, size, size) kernel on "
        "the simplex, differentiable in `parameters()` (which blind solvers step with Adam), and whose "
        "`constrain()` restores the simplex after a step.",
        members=("forward", "constrain", "parameters"),
    ),
    Capability(
        "differentiable-kernel",
        (_OPERATOR, _SOLVER),
        "The output is differentiable by autograd with respect to the kernel (an operator's kernel, "
        "field or weight maps; a non-blind solver's k, through its closed form or its fixed number of "
        "unrolled iterations).",
    ),
    Capability(
        "explicit",
        (_REP,),
        "The kernel's pixels are the parameter itself: `forward()` returns it and `constrain()` "
        "projects it onto the simplex.",
    ),
    Capability(
        "generator",
        (_PRIOR, _NET),
        "A generative network, not a closed-form density: an image network's factory returns a builder "
        "`(channels, (H, W), *, generator)` of a module whose `forward(samples, *, generator, "
        "stochastic)` gives (samples, C, H, W) images; a kernel prior's `network(size)` returns the "
        "frozen kernel generator.",
    ),
    Capability(
        "gradient-shrink",
        (_PRIOR,),
        "`penalty(x) = weight * sum phi(D x)` over the horizontal and vertical differences of x, and "
        "`shrink(v, beta)` is the element-wise proximal map `argmin_w weight * phi(w) + beta / 2 * "
        "(w - v) ** 2`, the w-step of half-quadratic splitting (`hqs`; `classic`'s latent step).",
        protocol="deblur.priors.base.GradientPrior",
        members=("penalty", "shrink", "weight"),
    ),
    Capability(
        "image",
        (_PRIOR, _NET),
        "Defined on images (B, C, H, W): a prior's `penalty(x)` takes one, an image network generates them.",
    ),
    Capability(
        "initializable",
        (_REP,),
        "The module has `initialize(y)`, called by a blind solver with the observation window it "
        "estimates the kernel on, (1, C, H, W), before optimising, to start from a kernel predicted "
        "from y (`dipmc` and `gankernel` call it whenever the method exists).",
        members=("initialize",),
    ),
    Capability(
        "kernel",
        (_PRIOR, _REP),
        "Defined on blur kernels: a prior's `penalty(k)` (and `log_prob(k)`) take kernels (B, 1, h, w); "
        "a representation's module `forward()` returns one (1, 1, size, size).",
    ),
    Capability(
        "latent",
        (_REP,),
        "The optimised variables are a pre-trained generator's latent code or feature map (optionally "
        "with its weights), so the kernel stays on the generator's manifold.",
    ),
    Capability(
        "linear",
        (_OPERATOR,),
        "A `LinearOperator`: `forward(x)` (also `op(x)`) applies a fixed linear blur `y = A x` to a "
        "(B, C, H, W) image, the same blur on every channel, `adjoint(y)` its transpose (exact with "
        "`adjoint`), and `boundary`, `kernel_size`, `latent_shape`, `observation_shape` and "
        "`window_offset` give its grids; the factory takes the kernel (or field, or kernels and weights) "
        "positionally, and a `forward` slot holds it as a builder with the slot's settings bound.",
        protocol="deblur.operators.base.LinearOperator",
        members=(
            "forward",
            "adjoint",
            "boundary",
            "kernel_size",
            "latent_shape",
            "observation_shape",
            "window_offset",
        ),
    ),
    Capability(
        "log_prob",
        (_PRIOR,),
        "`log_prob(t)` returns one log density per batch item, shape (B,), unnormalised unless the "
        "prior says otherwise.",
        members=("log_prob",),
    ),
    Capability(
        "network",
        (_REP,),
        "The kernel is the softmax output of a network with trainable weights on a fixed input code: on "
        "the simplex by construction, `constrain()` does nothing.",
    ),
    Capability(
        "non-blind",
        (_SOLVER,),
        "Called as `solver(y, k) -> x` with y (B, C, H, W) and k (1 or B, 1, h, w), it returns the "
        "unclipped estimate of the latent window aligned with y, with y's shape, dtype and device "
        "(see the non-blind contract); a solver with a `forward` slot builds its operator from k, which "
        "is then that operator's operand (a kernel field for `kernel-field`).",
        members=("__call__",),
    ),
    Capability(
        "operator-input",
        (_SOLVER,),
        "A non-blind solver that also takes a built linear operator in place of k (`solver(y, op)`, e.g. "
        "`deblur.operators.grid_blur(field, shape)` for a kernel field) and deconvolves that blur; what a "
        "spatially varying blind solver's `nonblind` slot needs (`ufp-hqs`).",
    ),
    Capability(
        "penalty",
        (_PRIOR,),
        "`penalty(t)` returns a scalar tensor (summed over the batch), differentiable by autograd, and "
        "`weight` is its scale.",
        protocol="deblur.priors.base.Prior",
        members=("penalty", "weight"),
    ),
    Capability(
        "pretrained",
        (_PRIOR, _REP),
        "Building it or its first use loads shipped weights (`deblur.weights.load_weights`, SHA-256 "
        "checked, made by a `deblur train` command), and fails without them.",
    ),
    Capability(
        "projection",
        (_PRIOR,),
        "`project(k)` returns, without gradient, the kernel on the prior's manifold closest to k "
        "(B, 1, s, s).",
        members=("project",),
    ),
    Capability(
        "quadratic",
        (_PRIOR,),
        "The penalty is exactly `weight * ||k||^2`, so `weight` is the Tikhonov gamma of a "
        "least-squares kernel step (`classic` reads only `weight`).",
        protocol="deblur.priors.base.QuadraticKernelPrior",
        members=("penalty", "weight"),
    ),
    Capability(
        "randomizable",
        (_REP,),
        "The module has `dropout`, `input_noise`, `stochastic` and `generator` attributes; with "
        "`stochastic = True`, `forward()` draws input noise and dropout from `generator` (what `dipmc` "
        "needs for `randomize_kernel=True`).",
        members=("dropout", "input_noise", "stochastic", "generator"),
    ),
    Capability(
        "kernel-estimator",
        (_SOLVER,),
        "`estimate(y, size, ctx)` returns a `KernelEstimate` (the raw kernel (1, 1, size, size) on the "
        "simplex, loss history, latent-grid images and draws) for the observation window y (1, C, H, W), "
        "and `name` names it in reports; the `estimator` of the `kernel-then-image` flow.",
        protocol="deblur.solvers.kernel_then_image.KernelEstimator",
        members=("estimate", "name"),
    ),
    Capability(
        "kernel-refiner",
        (_SOLVER,),
        "`refine(y, k, progress, history)` returns the kernel k (1, 1, s, s) fitted to the whole gray "
        "observation y (1, 1, H, W), on the simplex and centred; the optional `refiner` of the "
        "`kernel-then-image` flow (`classic-refine`). Optional: `refine_best(y, kernels, progress, "
        "history) -> (k, index)`, used when the estimator draws several kernels (each refined, the best "
        "fit kept).",
        protocol="deblur.solvers.kernel_then_image.KernelRefiner",
        members=("refine",),
    ),
    Capability(
        "randomized",
        (_NET,),
        "The generated module's `forward(..., stochastic=True)` draws fresh input noise and dropout "
        "masks for every sample from `generator`, at the rates of its settable `dropout` and "
        "`input_noise` attributes.",
    ),
    Capability(
        "sample",
        (_PRIOR,),
        '`sample(n, size, generator=None, device="cpu")` returns n kernels (n, 1, size, size) drawn '
        "from the prior.",
        members=("sample",),
    ),
    Capability(
        "score",
        (_PRIOR,),
        "`score(k)` returns the gradient of `log_prob` with respect to the kernel taps, shaped like k.",
        members=("score",),
    ),
    Capability(
        "spatially-varying",
        (_OPERATOR, _SOLVER),
        "The blur changes across the image: a kernel field (B, h * w, Hf, Wf), or K kernels mixed by "
        "weight maps, in the order `filter-then-mask` or `mask-then-filter`. A blind solver with it "
        "returns `Result.kernel_field` (a field on a grid, `deblur.operators.spatially_varying`) and "
        "may leave `kernel` empty.",
    ),
    Capability(
        "uniform",
        (_OPERATOR,),
        "One kernel (1 or B, 1, h, w) blurs every pixel: true convolution, centre (h // 2, w // 2), "
        "exposed as `kernel`, so a Fourier-domain solver (`hqs`, `wiener`) can invert it in closed form.",
        members=("kernel",),
    ),
)

#: Every capability by name.
CAPABILITIES: Mapping[str, Capability] = MappingProxyType({c.name: c for c in _ALL})


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _kinds(kinds: Iterable[str]) -> str:
    return ", ".join(kind.replace("_", " ") for kind in kinds)


def markdown_table() -> str:
    """The vocabulary as a Markdown table (the one in ``docs/writing-plugins.md``), rows by name."""
    lines = ["| capability | on | the component promises | protocol |", "|---|---|---|---|"]
    for name in sorted(CAPABILITIES):
        c = CAPABILITIES[name]
        protocol = f"`{c.protocol}`" if c.protocol else "—"
        lines.append(f"| `{c.name}` | {_kinds(c.kinds)} | {_cell(c.meaning)} | {protocol} |")
    return "\n".join(lines) + "\n"
