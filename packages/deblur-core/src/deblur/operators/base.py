r"""The linear-operator protocol: what a blur forward model offers a solver, and how one is built.

A :class:`LinearOperator` is a fixed linear map ``A`` from a latent grid to an observation grid, with
an exact adjoint. Its grids follow its ``boundary`` (:class:`~deblur.operators.shapes.BoundaryShapes`
gives ``latent_shape``, ``observation_shape`` and ``window_offset`` from ``boundary`` and
``kernel_size``). The adjoint must pass the dot-product test

.. math:: \langle A x, y \rangle = \langle x, A^T y \rangle \quad \text{for all } x, y,

which :func:`adjoint_mismatch` measures.

An operator *factory* (a registered operator's factory: ``UniformBlur``, ``KernelFieldBlur``,
``BasisBlur``) takes its operand(s) positionally (a kernel, a kernel field, or kernels and weight maps)
and settings by keyword. A pipeline fills an operator slot with a *builder*: the factory with the
slot's settings bound (``functools.partial(UniformBlur, boundary="same")``), which a solver calls on the
operand it receives at run time (:func:`build_operator`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch

from deblur.errors import InputError

__all__ = ["LinearOperator", "OperatorBuilder", "adjoint_mismatch", "bind", "build_operator", "operand_names"]


@runtime_checkable
class LinearOperator(Protocol):
    """A fixed linear blur ``y = A x`` on (B, C, H, W) images, the same on every channel.

    Attributes:
        boundary: the boundary model, e.g. ``"valid"`` (latent larger than the observation by
            ``kernel_size - 1``), ``"same"``, ``"circular"``.
        kernel_size: ``(h, w)``, the support of the (per-pixel) kernel.
    """

    boundary: str
    kernel_size: tuple[int, int]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``y = A x``: latent (B, C, *latent_shape(obs)) -> observation (B, C, *obs)."""
        ...

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``x = A^T y``, exact: ``<A x, y> = <x, A^T y>``."""
        ...

    def latent_shape(self, obs_hw: tuple[int, int]) -> tuple[int, int]:
        """Latent size for an observation of size ``obs_hw``."""
        ...

    def observation_shape(self, latent_hw: tuple[int, int]) -> tuple[int, int]:
        """Observation size for a latent of size ``latent_hw``."""
        ...

    def window_offset(self, obs_hw: tuple[int, int]) -> tuple[int, int]:
        """``(top, left)`` of the latent window aligned pixel for pixel with the observation."""
        ...


#: Builds an operator from its operand(s): ``builder(k)``, ``builder(field)``, ``builder(kernels, weights)``.
OperatorBuilder = Callable[..., LinearOperator]


def operand_names(factory: Callable[..., Any]) -> list[str]:
    """The operator factory's operands: its positional parameters without a default (``["kernel"]``).

    They are supplied when the operator is built at run time, never as user parameters.
    """
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty]


def bind(builder: OperatorBuilder, **settings: Any) -> OperatorBuilder:
    """``builder`` with ``settings`` bound; refuses one already bound to a different value.

    ``bind(partial(UniformBlur, boundary="same"), boundary="valid")`` raises :class:`InputError`: the
    boundary is set in one place (the solver's ``boundary`` or the operator's), not two that disagree.
    """
    bound = getattr(builder, "keywords", None) or {}
    for name, value in settings.items():
        if name in bound and bound[name] != value:
            raise InputError(
                f"{name}={value!r} conflicts with the operator's {name}={bound[name]!r}; set it in one place"
            )
    return functools.partial(builder, **settings) if settings else builder


def build_operator(builder: OperatorBuilder, operand: Any) -> LinearOperator:
    """The operator for ``operand``: an operator as it is, a tuple as several operands, else one.

    ``build_operator(UniformBlur, k)`` is ``UniformBlur(k)``; ``build_operator(BasisBlur, (kernels,
    weights))`` is ``BasisBlur(kernels, weights)``; a :class:`LinearOperator` passes through.
    """
    if isinstance(operand, LinearOperator):
        return operand
    op = builder(*operand) if isinstance(operand, (tuple, list)) else builder(operand)
    if not isinstance(op, LinearOperator):
        raise InputError(f"the forward builder returned {type(op).__name__}, not a LinearOperator")
    return op


def adjoint_mismatch(
    op: LinearOperator,
    obs_hw: tuple[int, int],
    *,
    batch: int = 1,
    channels: int = 1,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> float:
    """The dot-product test: ``|<A x, y> - <x, A^T y>| / (||A x|| ||y||)`` for random x and y.

    About ``1e-16`` in float64 (``1e-7`` in float32) for an exact adjoint; a wrong one gives order 1.
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    kw = {"generator": g, "dtype": dtype}
    x = torch.randn(batch, channels, *op.latent_shape(obs_hw), **kw).to(device)
    y = torch.randn(batch, channels, *obs_hw, **kw).to(device)
    ax = op.forward(x)
    if tuple(ax.shape) != tuple(y.shape):
        raise InputError(f"forward gave {tuple(ax.shape)} for an observation of {tuple(y.shape)}")
    lhs, rhs = (ax * y).sum(), (x * op.adjoint(y)).sum()
    return float((lhs - rhs).abs() / (ax.norm() * y.norm()).clamp_min(torch.finfo(dtype).tiny))
