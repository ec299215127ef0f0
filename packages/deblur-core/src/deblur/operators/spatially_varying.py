"""Spatially varying blur: a per-pixel kernel field and a basis of kernels with weight maps.

Two composition orders (the trap: they are different operators, transposes of each other's pattern):

- ``"filter-then-mask"`` (default; kernel attached to the OUTPUT pixel, a gather; the model UFPNet uses
  for its reblur loss, Fang et al. CVPR 2023, with per-pixel kernels ``K in R^{h*w x H x W}``; its
  reference code correlates, so its kernels are our kernels flipped):
  ``y(p) = sum_u K_p(u) x(p - u)``; basis form ``y = sum_i m_i (.) (k_i * x)``, ``K_p = sum_i m_i(p) k_i``.
- ``"mask-then-filter"`` (kernel attached to the SOURCE pixel, a scatter: each latent pixel spreads its
  light with its own kernel): ``y(p) = sum_q K_q(p - q) x(q)``; basis form ``y = sum_i k_i * (m_i (.) x)``.

A spatially constant field is the uniform blur ``k * x`` in both orders.

A field on a coarser grid ``(Gh, Gw)`` than its image (the layout of ``Result.kernel_field`` and of the
spatially varying benchmark) is the kernel at each grid cell's centre, interpolated bilinearly in between
(:func:`grid_weights`, the weights of :func:`torch.nn.functional.interpolate` with
``align_corners=False``): :func:`grid_blur` builds its operator, a :class:`BasisBlur` of the ``Gh * Gw``
kernels (or a :class:`KernelFieldBlur` when the grid is the image's), and :func:`field_at` reads its
kernels at given pixels.

Field layout: ``(B, h * w, Hf, Wf)``, channel ``j = a * w + b`` holding kernel entry ``k[a, b]`` (row-major,
centre ``(h // 2, w // 2)``, TRUE convolution like :mod:`deblur.operators.uniform`); ``B`` may be 1.
The field grid ``(Hf, Wf)`` is the grid it is attached to: the output grid for filter-then-mask, the
source (latent) grid for mask-then-filter. Weight maps of the basis form ``(B, K, Hf, Wf)`` follow the
same rule. One field applies to every channel.

Boundaries as in the uniform operator: ``"valid"`` (latent ``(H + h - 1, W + w - 1)``, observation
``(H, W)``) or ``"same"``, which is "valid" applied to the image extended by ``padding``; for
mask-then-filter the source-grid field (or weights) is extended the same way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from deblur.errors import InputError
from deblur.operators.padding import kernel_pads, pad, pad_adjoint
from deblur.operators.shapes import BoundaryShapes
from deblur.operators.uniform import (
    SAME_PADDINGS,
    _grid,
    _irfft2_crop,
    _rfft2,
    _spectrum,
    _use_fft,
    check_kernel,
)

ORDERS = ("filter-then-mask", "mask-then-filter")
SV_BOUNDARIES = ("valid", "same")


def _check_common(order: str, boundary: str, padding: str) -> None:
    if order not in ORDERS:
        raise InputError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")
    if boundary not in SV_BOUNDARIES:
        raise InputError(f"unknown boundary {boundary!r}; expected one of {', '.join(SV_BOUNDARIES)}")
    if boundary == "same" and padding not in SAME_PADDINGS:
        raise InputError(f"unknown padding {padding!r}; expected one of {', '.join(SAME_PADDINGS)}")


def _check_image(x: torch.Tensor, batch: int, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"{what} must be a (B, C, H, W) tensor, got {shape}")
    if batch not in (1, x.shape[0]):
        raise InputError(f"blur batch {batch} does not match {what} batch {x.shape[0]} (use 1 or equal)")


def _kernel_size(L: int, kernel_size: int | tuple[int, int] | None) -> tuple[int, int]:
    if kernel_size is None:
        s = math.isqrt(L)
        if s * s != L:
            raise InputError(f"field has {L} kernel entries, not a square; pass kernel_size=(h, w)")
        return s, s
    h, w = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if h * w != L:
        raise InputError(f"kernel_size {h}x{w} does not match the field's {L} kernel entries")
    return int(h), int(w)


def basis_to_field(kernels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-pixel field ``K_p = sum_i m_i(p) k_i`` from kernels ``(K, 1, h, w)`` and weights ``(B, K, H, W)``.

    Returns ``(B, h * w, H, W)``; with the same ``order`` both forms are the same operator.
    """
    return torch.einsum("kl,bkhw->blhw", kernels.flatten(1), weights)


def field_from_kernel(k: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Spatially constant field ``(B, h * w, H, W)`` from one kernel ``(B, 1, h, w)``."""
    return k.flatten(1)[:, :, None, None].expand(-1, -1, int(shape[0]), int(shape[1]))


def grid_weights(grid: tuple[int, int], shape: tuple[int, int]) -> torch.Tensor:
    """Bilinear weights ``(1, Gh * Gw, H, W)`` of a ``grid`` of cell-centred kernels on an ``H x W`` image:
    non-negative, summing to 1 at every pixel (a partition of unity), cell ``i * Gw + j`` first."""
    Gh, Gw = int(grid[0]), int(grid[1])
    eye = torch.eye(Gh * Gw).reshape(Gh * Gw, 1, Gh, Gw)
    w = F.interpolate(eye, size=(int(shape[0]), int(shape[1])), mode="bilinear", align_corners=False)
    return w.reshape(1, Gh * Gw, int(shape[0]), int(shape[1]))


def grid_blur(
    field: torch.Tensor,
    shape: tuple[int, int],
    *,
    order: str = "filter-then-mask",
    boundary: str = "valid",
    padding: str = "reflect",
) -> BasisBlur | KernelFieldBlur:
    """The operator of a kernel field ``(1, h * w, Gh, Gw)`` on the grid of an ``H x W`` field (the
    observation grid for filter-then-mask): per pixel when the grid is ``shape``, else bilinear."""
    if not isinstance(field, torch.Tensor) or field.ndim != 4 or field.shape[0] != 1:
        got = tuple(field.shape) if isinstance(field, torch.Tensor) else type(field).__name__
        raise InputError(f"a kernel field on a grid must be (1, h*w, Gh, Gw), got {got}")
    if tuple(field.shape[-2:]) == tuple(shape):
        return KernelFieldBlur(field, order=order, boundary=boundary, padding=padding)
    h, w = _kernel_size(field.shape[1], None)
    kernels = field[0].flatten(1).T.reshape(-1, 1, h, w).contiguous()
    weights = grid_weights(tuple(field.shape[-2:]), shape).to(field)
    return BasisBlur(kernels, weights, order=order, boundary=boundary, padding=padding)


def field_at(field: torch.Tensor, shape: tuple[int, int], points: torch.Tensor) -> torch.Tensor:
    """Kernels ``(B, P, 1, h, w)`` of a field ``(B, h * w, Gh, Gw)`` over an ``H x W`` image at ``points``
    ``(P, 2)`` (row, col in pixels), interpolated as :func:`grid_weights` does."""
    B, L = field.shape[:2]
    h, w = _kernel_size(L, None)
    H, W = int(shape[0]), int(shape[1])
    rows = 2 * (points[:, 0].to(field) + 0.5) / H - 1
    cols = 2 * (points[:, 1].to(field) + 0.5) / W - 1
    where = torch.stack([cols, rows], -1).reshape(1, 1, -1, 2).expand(B, -1, -1, -1)
    taps = F.grid_sample(field, where, mode="bilinear", padding_mode="border", align_corners=False)
    return taps[:, :, 0].transpose(1, 2).reshape(B, -1, 1, h, w)


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, (str, Path)):
        if Path(value).suffix != ".npy":
            raise InputError(f"{what} file must be .npy, got {str(value)!r}")
        value = np.load(value)
    t = torch.as_tensor(value if isinstance(value, torch.Tensor) else np.asarray(value)).float()
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{what} has non-finite values (NaN or inf)")
    if bool((t < 0).any()):
        raise InputError(f"{what} has negative values")
    return t


def as_operand(operand: Any) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """A spatially varying blur's operand for ``deblur.deconvolve``, checked and normalised.

    A kernel field (array, tensor or ``.npy`` path; ``(h * w, Hf, Wf)`` or ``(B, h * w, Hf, Wf)``) comes
    back as a float32 ``(B, h * w, Hf, Wf)`` tensor with each pixel's kernel normalised to sum 1; a pair
    ``(kernels, weights)`` for :class:`BasisBlur` as float32 ``(K, 1, h, w)`` kernels, each normalised
    to sum 1, and ``(B, K, Hf, Wf)`` weights (as given). Non-negative and finite, or :class:`InputError`.
    """
    if isinstance(operand, (tuple, list)):
        if len(operand) != 2:
            raise InputError(f"a kernel basis is a pair (kernels, weights), got {len(operand)} items")
        kernels, weights = _as_tensor(operand[0], "basis kernels"), _as_tensor(operand[1], "weight maps")
        if kernels.ndim == 3:
            kernels = kernels.unsqueeze(1)
        if kernels.ndim != 4 or kernels.shape[1] != 1:
            raise InputError(f"basis kernels must be (K, h, w) or (K, 1, h, w), got {tuple(kernels.shape)}")
        if weights.ndim == 3:
            weights = weights.unsqueeze(0)
        if weights.ndim != 4 or weights.shape[1] != kernels.shape[0]:
            raise InputError(
                f"weight maps must be (B, K={kernels.shape[0]}, H, W), got {tuple(weights.shape)}"
            )
        total = kernels.sum((-2, -1), keepdim=True)
        if bool((total <= 0).any()):
            raise InputError("a basis kernel sums to zero")
        return kernels / total, weights
    field = _as_tensor(operand, "kernel field")
    if field.ndim == 3:
        field = field.unsqueeze(0)
    if field.ndim != 4:
        raise InputError(f"a kernel field must be (h*w, H, W) or (B, h*w, H, W), got {tuple(field.shape)}")
    total = field.sum(1, keepdim=True)
    if bool((total <= 0).any()):
        raise InputError("the kernel field has a pixel whose kernel sums to zero")
    return field / total


class KernelFieldBlur(BoundaryShapes):
    """Per-pixel spatially varying blur ``A x`` with a field ``(B, h * w, Hf, Wf)`` (see the module doc).

    filter-then-mask: ``y(p) = sum_u K_p(u) x(p - u)`` via ``unfold`` (patches times the flipped field);
    its adjoint ``fold``s the weighted observation back. mask-then-filter: ``y(p) = sum_q K_q(p - q) x(q)``
    via ``fold`` of the weighted sources; its adjoint ``unfold``s the observation. Memory ``O(h w H W)``.
    """

    def __init__(
        self,
        field: torch.Tensor,
        kernel_size: int | tuple[int, int] | None = None,
        order: str = "filter-then-mask",
        boundary: str = "valid",
        padding: str = "reflect",
    ) -> None:
        _check_common(order, boundary, padding)
        if not isinstance(field, torch.Tensor) or field.ndim != 4:
            shape = tuple(field.shape) if isinstance(field, torch.Tensor) else type(field).__name__
            raise InputError(f"kernel field must be (B, h*w, H, W), got {shape}")
        if not bool(torch.isfinite(field).all()):
            raise InputError("kernel field has non-finite values (NaN or inf)")
        self.kernel_size = _kernel_size(field.shape[1], kernel_size)
        self.field = field
        self.order = order
        self.boundary = boundary
        self.padding = padding

    @property
    def field_shape(self) -> tuple[int, int]:
        return int(self.field.shape[-2]), int(self.field.shape[-1])

    def _expect(self, got: tuple[int, int], want: tuple[int, int], what: str) -> None:
        if tuple(got) != tuple(want):
            raise InputError(
                f"{what} is {got[0]}x{got[1]} but the {self.order} field {self.field_shape[0]}x"
                f"{self.field_shape[1]} with boundary {self.boundary!r} needs {want[0]}x{want[1]}"
            )

    def _source_field(self) -> torch.Tensor:
        """The field on the (extended) source grid, for mask-then-filter."""
        if self.boundary == "same":
            return pad(self.field, kernel_pads(*self.kernel_size), self.padding)
        return self.field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``y = A x``."""
        _check_image(x, self.field.shape[0], "image")
        h, w = self.kernel_size
        B, C = x.shape[:2]
        L = h * w
        if self.order == "filter-then-mask":
            self._expect(tuple(x.shape[-2:]), self.latent_shape(self.field_shape), "image")
        else:
            want = self.field_shape
            self._expect(tuple(x.shape[-2:]), want, "image")
        if self.boundary == "same":
            x = pad(x, kernel_pads(h, w), self.padding)
        Hx, Wx = x.shape[-2:]
        H, W = Hx - h + 1, Wx - w + 1
        f = self.field.to(dtype=x.dtype, device=x.device)
        if self.order == "filter-then-mask":
            patches = F.unfold(x.reshape(B * C, 1, Hx, Wx), (h, w)).reshape(B, C, L, H * W)
            y = (patches * f.flip(1).reshape(-1, 1, L, H * W)).sum(2)
            return y.reshape(B, C, H, W)
        fs = self._source_field().to(dtype=x.dtype, device=x.device)
        z = (fs.reshape(-1, 1, L, Hx * Wx) * x.reshape(B, C, 1, Hx * Wx)).reshape(B * C, L, Hx * Wx)
        full = F.fold(z, (Hx + h - 1, Wx + w - 1), (h, w))
        return full[..., h - 1 : Hx, w - 1 : Wx].reshape(B, C, H, W)

    __call__ = forward

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``x = A^T y``."""
        _check_image(y, self.field.shape[0], "observation")
        h, w = self.kernel_size
        B, C, H, W = y.shape
        L = h * w
        Hx, Wx = H + h - 1, W + w - 1
        if self.order == "filter-then-mask":
            self._expect((H, W), self.field_shape, "observation")
            f = self.field.to(dtype=y.dtype, device=y.device)
            z = (y.reshape(B, C, 1, H * W) * f.flip(1).reshape(-1, 1, L, H * W)).reshape(B * C, L, H * W)
            x = F.fold(z, (Hx, Wx), (h, w)).reshape(B, C, Hx, Wx)
        else:
            want = self.field_shape if self.boundary == "same" else self.observation_shape(self.field_shape)
            self._expect((H, W), want, "observation")
            fs = self._source_field().to(dtype=y.dtype, device=y.device)
            ypad = F.pad(y.reshape(B * C, 1, H, W), (w - 1, w - 1, h - 1, h - 1))
            patches = F.unfold(ypad, (h, w)).reshape(B, C, L, Hx * Wx)
            x = (patches * fs.reshape(-1, 1, L, Hx * Wx)).sum(2).reshape(B, C, Hx, Wx)
        if self.boundary == "same":
            x = pad_adjoint(x, kernel_pads(h, w), self.padding)
        return x

    def __repr__(self) -> str:
        h, w = self.kernel_size
        return (
            f"KernelFieldBlur(field={tuple(self.field.shape)}, kernel={h}x{w}, order={self.order!r}, "
            f"boundary={self.boundary!r}, padding={self.padding!r})"
        )


class BasisBlur(BoundaryShapes):
    """Spatially varying blur from ``K`` kernels ``(K, 1, h, w)`` and weight maps ``(B, K, Hf, Wf)``.

    filter-then-mask ``y = sum_i m_i (.) (k_i * x)``, mask-then-filter ``y = sum_i k_i * (m_i (.) x)``;
    costs ``K`` uniform convolutions: one ``conv2d`` with ``K`` output (input) channels on the direct path,
    one image FFT and ``K`` spectra on the FFT path. Equals :class:`KernelFieldBlur` with
    :func:`basis_to_field` for the same order.
    """

    def __init__(
        self,
        kernels: torch.Tensor,
        weights: torch.Tensor,
        order: str = "filter-then-mask",
        boundary: str = "valid",
        padding: str = "reflect",
        method: str = "auto",
    ) -> None:
        _check_common(order, boundary, padding)
        check_kernel(kernels)
        if not isinstance(weights, torch.Tensor) or weights.ndim != 4 or weights.shape[1] != kernels.shape[0]:
            shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
            raise InputError(f"weights must be (B, K={kernels.shape[0]}, H, W), got {shape}")
        if not bool(torch.isfinite(weights).all()):
            raise InputError("weight maps have non-finite values (NaN or inf)")
        if method not in ("auto", "direct", "fft"):
            raise InputError(f"unknown method {method!r}; expected one of auto, direct, fft")
        self.kernels = kernels
        self.weights = weights
        self.order = order
        self.boundary = boundary
        self.padding = padding
        self.method = method
        self._fft = _use_fft(kernels, method)

    @property
    def kernel_size(self) -> tuple[int, int]:
        return int(self.kernels.shape[-2]), int(self.kernels.shape[-1])

    def as_field(self) -> KernelFieldBlur:
        """The equivalent per-pixel :class:`KernelFieldBlur`."""
        field = basis_to_field(self.kernels, self.weights)
        return KernelFieldBlur(field, self.kernel_size, self.order, self.boundary, self.padding)

    def _check_grid(self, got: tuple[int, int], want: tuple[int, int], what: str) -> None:
        if tuple(got) != tuple(want):
            Hm, Wm = self.weights.shape[-2:]
            raise InputError(
                f"{what} is {got[0]}x{got[1]} but {self.order} weights {Hm}x{Wm} with boundary "
                f"{self.boundary!r} need {want[0]}x{want[1]}"
            )

    def _masks(self, like: torch.Tensor) -> torch.Tensor:
        m = self.weights.to(dtype=like.dtype, device=like.device)
        if self.order == "mask-then-filter" and self.boundary == "same":
            m = pad(m, kernel_pads(*self.kernel_size), self.padding)
        return m

    def _conv_many(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Valid convolutions of ``x`` (N, 1, Hx, Wx) with each of ``k`` (K, 1, h, w) -> (N, K, H, W)."""
        h, w = k.shape[-2:]
        if not self._fft:
            return F.conv2d(x, k.flip(-2, -1))
        Hx, Wx = x.shape[-2:]
        s = _grid(Hx, Wx)
        Y = _rfft2(x, s) * _spectrum(k.transpose(0, 1), s)
        return _irfft2_crop(Y, s, h - 1, Hx - h + 1, w - 1, Wx - w + 1)

    def _conv_many_adjoint(self, y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Transposed valid convolutions of ``y`` (N, 1, H, W) with each of ``k`` -> (N, K, Hx, Wx)."""
        h, w = k.shape[-2:]
        H, W = y.shape[-2:]
        if not self._fft:
            return F.conv_transpose2d(y, k.flip(-2, -1).transpose(0, 1))
        Hx, Wx = H + h - 1, W + w - 1
        s = _grid(Hx, Wx)
        Z = _rfft2(y, s) * _spectrum(k.flip(-2, -1).transpose(0, 1), s)
        return _irfft2_crop(Z, s, 0, Hx, 0, Wx)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``y = A x``."""
        _check_image(x, self.weights.shape[0], "image")
        h, w = self.kernel_size
        B, C = x.shape[:2]
        grid = tuple(self.weights.shape[-2:])
        want = self.latent_shape(grid) if self.order == "filter-then-mask" else grid
        self._check_grid(tuple(x.shape[-2:]), want, "image")
        k = self.kernels.to(dtype=x.dtype, device=x.device)
        if self.boundary == "same":
            x = pad(x, kernel_pads(h, w), self.padding)
        Hx, Wx = x.shape[-2:]
        H, W = Hx - h + 1, Wx - w + 1
        m = self._masks(x)
        if self.order == "filter-then-mask":
            yk = self._conv_many(x.reshape(B * C, 1, Hx, Wx), k).reshape(B, C, -1, H, W)
            return (yk * m[:, None]).sum(2)
        mx = (m[:, None] * x[:, :, None]).reshape(B * C, -1, Hx, Wx)
        if not self._fft:
            return F.conv2d(mx, k.flip(-2, -1).transpose(0, 1)).reshape(B, C, H, W)
        s = _grid(Hx, Wx)
        Y = (_rfft2(mx, s) * _spectrum(k.transpose(0, 1), s)).sum(1, keepdim=True)
        return _irfft2_crop(Y, s, h - 1, H, w - 1, W).reshape(B, C, H, W)

    __call__ = forward

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``x = A^T y``."""
        _check_image(y, self.weights.shape[0], "observation")
        h, w = self.kernel_size
        B, C, H, W = y.shape
        Hx, Wx = H + h - 1, W + w - 1
        grid = tuple(self.weights.shape[-2:])
        k = self.kernels.to(dtype=y.dtype, device=y.device)
        m = self._masks(y)
        if self.order == "filter-then-mask":
            self._check_grid((H, W), grid, "observation")
            my = (m[:, None] * y[:, :, None]).reshape(B * C, -1, H, W)
            if self._fft:
                s = _grid(Hx, Wx)
                Z = (_rfft2(my, s) * _spectrum(k.flip(-2, -1).transpose(0, 1), s)).sum(1, keepdim=True)
                x = _irfft2_crop(Z, s, 0, Hx, 0, Wx)
            else:
                x = F.conv_transpose2d(my, k.flip(-2, -1))
            x = x.reshape(B, C, Hx, Wx)
        else:
            want = grid if self.boundary == "same" else self.observation_shape(grid)
            self._check_grid((H, W), want, "observation")
            xk = self._conv_many_adjoint(y.reshape(B * C, 1, H, W), k)
            x = (xk.reshape(B, C, -1, Hx, Wx) * m[:, None]).sum(2)
        if self.boundary == "same":
            x = pad_adjoint(x, kernel_pads(h, w), self.padding)
        return x

    def __repr__(self) -> str:
        h, w = self.kernel_size
        return (
            f"BasisBlur(kernels={tuple(self.kernels.shape)}, weights={tuple(self.weights.shape)}, "
            f"order={self.order!r}, boundary={self.boundary!r}, padding={self.padding!r}, size={h}x{w})"
        )
