"""Shared pieces of the non-blind solvers: input checks, operator builders, grids, Fourier helpers."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from deblur.errors import InputError
from deblur.operators.base import LinearOperator, OperatorBuilder, bind
from deblur.operators.fft import fast_len
from deblur.operators.padding import kernel_pads
from deblur.operators.uniform import UniformBlur, check_kernel

BOUNDARIES = ("valid", "same", "circular")


def check_observation(y: torch.Tensor) -> None:
    """Raise :class:`InputError` unless ``y`` is a finite floating-point (B, C, H, W) tensor."""
    if not isinstance(y, torch.Tensor) or y.ndim != 4:
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise InputError(f"observation must be a (B, C, H, W) tensor, got {shape}")
    if not y.is_floating_point():
        raise InputError(f"observation must be a floating-point tensor, got {y.dtype}")
    if not bool(torch.isfinite(y).all()):
        raise InputError("observation has non-finite values (NaN or inf)")


def check_inputs(y: torch.Tensor, k: torch.Tensor, boundary: str) -> torch.Tensor:
    """Validate ``y`` (B, C, H, W) and ``k`` (B|1, 1, h, w); return ``k`` with ``y``'s device and dtype."""
    if boundary not in BOUNDARIES:
        raise InputError(f"unknown boundary {boundary!r}; expected one of {', '.join(BOUNDARIES)}")
    check_observation(y)
    check_kernel(k)
    if k.shape[0] not in (1, y.shape[0]):
        raise InputError(
            f"kernel batch {k.shape[0]} does not match observation batch {y.shape[0]} (1 or equal)"
        )
    h, w = k.shape[-2:]
    H, W = y.shape[-2:]
    if h > H or w > W:
        raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} observation")
    return k.to(device=y.device, dtype=y.dtype)


def forward_builder(forward: OperatorBuilder | None, boundary: str | None) -> OperatorBuilder:
    """A solver's operator builder: ``forward`` (default :class:`UniformBlur`) with ``boundary`` bound.

    ``boundary=None`` leaves the builder's own (every core operator defaults to ``"valid"``); a boundary
    the builder already binds to another value is refused (:func:`deblur.operators.base.bind`).
    """
    if boundary is not None and boundary not in BOUNDARIES:
        raise InputError(f"unknown boundary {boundary!r}; expected one of {', '.join(BOUNDARIES)}")
    builder: OperatorBuilder = UniformBlur if forward is None else forward
    if not callable(builder):
        raise InputError(f"forward must build an operator from a kernel, got {forward!r}")
    return bind(builder, boundary=boundary) if boundary is not None else builder


def operator_for(y: torch.Tensor, k: torch.Tensor | LinearOperator, boundary: str | None) -> LinearOperator:
    """The blur of an iterative solver's function form, after checking ``y`` against it.

    A kernel becomes ``UniformBlur(k, boundary)`` (default "valid") after :func:`check_inputs`; an
    operator is used as it is (``boundary`` must be None or its own), a uniform one's ``kernel``
    checked like a kernel.
    """
    if not isinstance(k, LinearOperator):
        boundary = "valid" if boundary is None else boundary
        return UniformBlur(check_inputs(y, k, boundary), boundary=boundary)
    if boundary is not None and boundary != k.boundary:
        raise InputError(f"boundary {boundary!r} conflicts with the operator's {k.boundary!r}")
    kernel = getattr(k, "kernel", None)
    if isinstance(kernel, torch.Tensor):
        check_inputs(y, kernel, k.boundary)
    else:
        check_observation(y)
    return k


def uniform_kernel(op: LinearOperator, solver: str) -> torch.Tensor:
    """The kernel of a ``uniform`` operator (its ``kernel`` attribute), for a Fourier-domain solver."""
    kernel = getattr(op, "kernel", None)
    if not isinstance(kernel, torch.Tensor):
        raise InputError(
            f"{solver} inverts one kernel by FFT and needs a uniform operator, got {op!r}; "
            "richardson-lucy and cg take any linear operator"
        )
    return kernel


def cast_operand(operand: Any, like: torch.Tensor) -> Any:
    """Tensors in ``operand`` (a kernel, field, or tuple of them) on ``like``'s device, in its dtype."""
    if isinstance(operand, torch.Tensor):
        return operand.to(device=like.device, dtype=like.dtype)
    if isinstance(operand, (tuple, list)):
        return tuple(cast_operand(o, like) for o in operand)
    return operand


def operand_tensors(operand: Any) -> list[torch.Tensor]:
    """The tensors in ``operand`` (a kernel, field, or tuple of them); none for a built operator."""
    if isinstance(operand, torch.Tensor):
        return [operand]
    if isinstance(operand, (tuple, list)):
        return [t for o in operand for t in operand_tensors(o)]
    return []


def latent_window(y_hw: tuple[int, int], k_hw: tuple[int, int], boundary: str) -> tuple[int, int, int, int]:
    """``(top, left, N1, N2)``: where ``y`` sits on the periodic latent grid used by a Fourier solver.

    For "valid" and "same" the latent extends ``y`` by the kernel's reach (``kernel_pads``) and the grid
    is the next FFT-friendly size, so the circular blur of the latent restricted to the window equals
    the valid blur; for "circular" the grid is ``y`` itself.
    """
    H, W = y_hw
    h, w = k_hw
    if boundary == "circular":
        return 0, 0, H, W
    left, _, top, _ = kernel_pads(h, w)
    return top, left, fast_len(H + h - 1), fast_len(W + w - 1)


def embed(y: torch.Tensor, top: int, left: int, shape: tuple[int, int], mode: str) -> torch.Tensor:
    """Place ``y`` at ``(top, left)`` on an ``shape`` grid, filling the rest by ``mode`` padding or zeros."""
    H, W = y.shape[-2:]
    pads = (left, shape[1] - W - left, top, shape[0] - H - top)
    if mode == "zero":
        return F.pad(y, pads)
    return F.pad(y, pads, mode=mode)


def gradient_spectrum(shape: tuple[int, int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``|F D_x|^2 + |F D_y|^2`` of the circular forward differences on the rfft2 grid of ``shape``."""
    H, W = shape
    real = torch.float64 if dtype == torch.float64 else torch.float32
    wy = torch.fft.fftfreq(H, dtype=real, device=device) * (2 * math.pi)
    wx = torch.fft.rfftfreq(W, dtype=real, device=device) * (2 * math.pi)
    return (2 - 2 * torch.cos(wy))[:, None] + (2 - 2 * torch.cos(wx))[None, :]


def circular_blur(x: torch.Tensor, otf: torch.Tensor) -> torch.Tensor:
    """``irfft2(rfft2(x) * otf)``: the circular convolution with a kernel of transfer function ``otf``."""
    return torch.fft.irfft2(torch.fft.rfft2(x) * otf, s=x.shape[-2:])
