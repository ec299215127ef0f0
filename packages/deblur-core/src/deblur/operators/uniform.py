"""Spatially uniform blur ``y = k * x`` (TRUE convolution) and its adjoint.

``y(p) = sum_u k(u) x(p - u)`` with the kernel ``(B, 1, h, w)`` indexed from its centre
``(h // 2, w // 2)`` (even sizes are allowed; their centre is the lower-right of the middle four).
One kernel applies to every channel; a batch of one kernel broadcasts over the images, otherwise there
is one kernel per batch item.

Boundaries:

- ``"valid"``: ``x`` is ``(H + h - 1, W + w - 1)``, ``y`` is ``(H, W)``; no boundary assumption, the
  faithful model of a real photo (observation pixel ``p`` sees latent pixel ``p + (h - 1 - h // 2, ...)``).
- ``"same"``: ``y`` has the size of ``x``; ``x`` is extended by ``padding`` ("reflect", "replicate",
  "zero") then convolved "valid". The adjoint folds the extension back (exact adjoint).
- ``"circular"``: periodic, ``y(p) = sum_u k(u) x((p - u) mod (H, W))``.

Methods: ``"direct"`` (``conv2d`` with the flipped kernel, grouped for per-item kernels) or ``"fft"``
(real FFTs on 2-3-5-smooth grids; for "valid" the grid only needs the latent size since circular
wrap-around never reaches the valid outputs). ``"auto"`` picks FFT from kernel side
:data:`FFT_MIN_SIZE` on. Both are differentiable w.r.t. the image and the kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deblur.errors import InputError
from deblur.operators.fft import fast_len, psf2otf
from deblur.operators.padding import kernel_pads, pad, pad_adjoint
from deblur.operators.shapes import BoundaryShapes

BOUNDARIES = ("valid", "same", "circular")
SAME_PADDINGS = ("reflect", "replicate", "zero")
METHODS = ("auto", "direct", "fft")
FFT_MIN_SIZE = 5
"""Kernels with ``max(h, w) >= FFT_MIN_SIZE`` use the FFT under ``method="auto"``: the crossover measured
on a 2-core x86 CPU for 64-512 px images (``bench/operator_speed.py --crossover``). On megapixel CPU
images ``conv2d`` is slow enough that the FFT wins from 2 px: pass ``method="fft"`` there."""


def _check_args(boundary: str, padding: str, method: str) -> None:
    if boundary not in BOUNDARIES:
        raise InputError(f"unknown boundary {boundary!r}; expected one of {', '.join(BOUNDARIES)}")
    if boundary == "same" and padding not in SAME_PADDINGS:
        raise InputError(f"unknown padding {padding!r}; expected one of {', '.join(SAME_PADDINGS)}")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")


def check_kernel(k: torch.Tensor) -> None:
    """Raise :class:`InputError` unless ``k`` is a finite ``(B, 1, h, w)`` tensor."""
    if not isinstance(k, torch.Tensor) or k.ndim != 4 or k.shape[1] != 1:
        shape = tuple(k.shape) if isinstance(k, torch.Tensor) else type(k).__name__
        raise InputError(f"kernel must be a (B, 1, h, w) tensor, got {shape}")
    if k.shape[-2] < 1 or k.shape[-1] < 1:
        raise InputError(f"kernel must be non-empty, got shape {tuple(k.shape)}")
    if not bool(torch.isfinite(k).all()):
        raise InputError("kernel has non-finite values (NaN or inf)")


def _check_image(x: torch.Tensor, k: torch.Tensor, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"{what} must be a (B, C, H, W) tensor, got {shape}")
    if k.shape[0] not in (1, x.shape[0]):
        raise InputError(
            f"kernel batch {k.shape[0]} does not match {what} batch {x.shape[0]} (use 1 or equal)"
        )


def _use_fft(k: torch.Tensor, method: str) -> bool:
    if method == "auto":
        return max(k.shape[-2:]) >= FFT_MIN_SIZE
    return method == "fft"


def _grid(Hx: int, Wx: int) -> tuple[int, int]:
    """FFT grid for a linear convolution over ``Hx x Wx``: even 2-3-5-smooth sides (fast real FFTs)."""
    return _even_fast_len(Hx), _even_fast_len(Wx)


def _even_fast_len(n: int) -> int:
    m = fast_len(n)
    while m % 2:
        m = fast_len(m + 1)
    return m


def _spectrum(k: torch.Tensor, s: tuple[int, int]) -> torch.Tensor:
    """``rfft2`` of ``k`` placed at the top-left of an ``s`` grid; rows first so zero rows cost nothing."""
    K = torch.fft.rfft(k, n=s[1], dim=-1)
    return torch.fft.fft(K, n=s[0], dim=-2)


def _rfft2(x: torch.Tensor, s: tuple[int, int]) -> torch.Tensor:
    return torch.fft.fft(torch.fft.rfft(x, n=s[1], dim=-1), n=s[0], dim=-2)


def _irfft2_crop(X: torch.Tensor, s: tuple[int, int], r0: int, nr: int, c0: int, nc: int) -> torch.Tensor:
    """Inverse of :func:`_rfft2` on an ``s`` grid, keeping rows ``r0:r0+nr`` and columns ``c0:c0+nc``."""
    z = torch.fft.ifft(X, dim=-2).narrow(-2, r0, nr)
    return torch.fft.irfft(z, n=s[1], dim=-1).narrow(-1, c0, nc)


# ---- valid convolution: the core on which "same" and the direct "circular" path are built ----


def _valid_direct(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    B, C, H, W = x.shape
    wt = k.flip(-2, -1)
    if k.shape[0] == 1:
        y = F.conv2d(x.reshape(B * C, 1, H, W), wt)
    else:
        y = F.conv2d(x.reshape(1, B * C, H, W), wt.repeat_interleave(C, 0), groups=B * C)
    return y.reshape(B, C, y.shape[-2], y.shape[-1])


def _valid_direct_adjoint(y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    B, C, H, W = y.shape
    wt = k.flip(-2, -1)
    if k.shape[0] == 1:
        x = F.conv_transpose2d(y.reshape(B * C, 1, H, W), wt)
    else:
        x = F.conv_transpose2d(y.reshape(1, B * C, H, W), wt.repeat_interleave(C, 0), groups=B * C)
    return x.reshape(B, C, x.shape[-2], x.shape[-1])


def _valid_fft(x: torch.Tensor, k: torch.Tensor, K: torch.Tensor | None = None) -> torch.Tensor:
    Hx, Wx = x.shape[-2:]
    h, w = k.shape[-2:]
    s = _grid(Hx, Wx)
    if K is None:
        K = _spectrum(k, s)
    return _irfft2_crop(_rfft2(x, s) * K, s, h - 1, Hx - h + 1, w - 1, Wx - w + 1)


def _valid_fft_adjoint(y: torch.Tensor, k: torch.Tensor, K: torch.Tensor | None = None) -> torch.Tensor:
    """``A^T y``: the full convolution of ``y`` with the flipped kernel (length ``H + h - 1``)."""
    H, W = y.shape[-2:]
    h, w = k.shape[-2:]
    Hx, Wx = H + h - 1, W + w - 1
    s = _grid(Hx, Wx)
    if K is None:
        K = _spectrum(k.flip(-2, -1), s)
    return _irfft2_crop(_rfft2(y, s) * K, s, 0, Hx, 0, Wx)


def _circular_fft(x: torch.Tensor, otf: torch.Tensor) -> torch.Tensor:
    return torch.fft.irfft2(torch.fft.rfft2(x) * otf, s=x.shape[-2:])


# ---- public API ----


def convolve(
    x: torch.Tensor,
    k: torch.Tensor,
    boundary: str = "valid",
    padding: str = "reflect",
    method: str = "auto",
) -> torch.Tensor:
    """Blur ``x`` (B, C, H, W) with ``k`` (B|1, 1, h, w): ``y(p) = sum_u k(u) x(p - u)``.

    See the module docstring for ``boundary`` ("valid", "same", "circular"), ``padding`` (for "same":
    "reflect", "replicate", "zero") and ``method`` ("auto", "direct", "fft").
    """
    _check_args(boundary, padding, method)
    check_kernel(k)
    _check_image(x, k, "image")
    h, w = k.shape[-2:]
    H, W = x.shape[-2:]
    if h > H or w > W:
        raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} image")
    k = k.to(device=x.device, dtype=x.dtype)
    fft = _use_fft(k, method)
    if boundary == "circular" and fft:
        return _circular_fft(x, psf2otf(k, (H, W)))
    if boundary != "valid":
        x = pad(x, kernel_pads(h, w), "circular" if boundary == "circular" else padding)
    return _valid_fft(x, k) if fft else _valid_direct(x, k)


def convolve_adjoint(
    y: torch.Tensor,
    k: torch.Tensor,
    boundary: str = "valid",
    padding: str = "reflect",
    method: str = "auto",
) -> torch.Tensor:
    """Adjoint ``A^T`` of :func:`convolve` with the same arguments: ``<A x, y> = <x, A^T y>``.

    For "valid" the result is ``(H + h - 1, W + w - 1)`` (full correlation with ``k``); for "same" the
    padding is folded back onto the image; for "circular" it is multiplication by ``conj(OTF)``.
    """
    _check_args(boundary, padding, method)
    check_kernel(k)
    _check_image(y, k, "observation")
    h, w = k.shape[-2:]
    H, W = y.shape[-2:]
    if boundary != "valid" and (h > H or w > W):
        raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} image")
    k = k.to(device=y.device, dtype=y.dtype)
    fft = _use_fft(k, method)
    if boundary == "circular" and fft:
        return _circular_fft(y, psf2otf(k, (H, W)).conj())
    z = _valid_fft_adjoint(y, k) if fft else _valid_direct_adjoint(y, k)
    if boundary == "valid":
        return z
    return pad_adjoint(z, kernel_pads(h, w), "circular" if boundary == "circular" else padding)


class UniformBlur(BoundaryShapes):
    """The linear operator ``A x = k * x`` with a fixed kernel, boundary, padding and method.

    ``A(x)`` / ``A.forward(x)`` blurs, ``A.adjoint(y)`` applies ``A^T``. When the kernel does not require
    grad, its spectra are cached per grid size (iterative solvers pay one kernel FFT, not one per call);
    an in-place update of ``kernel`` invalidates the cache.
    """

    def __init__(
        self,
        kernel: torch.Tensor,
        boundary: str = "valid",
        padding: str = "reflect",
        method: str = "auto",
    ) -> None:
        _check_args(boundary, padding, method)
        check_kernel(kernel)
        self.kernel = kernel
        self.boundary = boundary
        self.padding = padding
        self.method = method
        self._fft = _use_fft(kernel, method)
        self._cache: dict[tuple, torch.Tensor] = {}

    @property
    def kernel_size(self) -> tuple[int, int]:
        return int(self.kernel.shape[-2]), int(self.kernel.shape[-1])

    def _spec(self, key: tuple, make) -> torch.Tensor:
        if self.kernel.requires_grad and torch.is_grad_enabled():
            return make()
        key = (*key, self.kernel._version)  # an in-place kernel update invalidates the cache
        if key not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k[-1] == key[-1]}
            self._cache[key] = make()
        return self._cache[key]

    def _pads(self) -> tuple[int, int, int, int]:
        return kernel_pads(*self.kernel_size)

    def _mode(self) -> str:
        return "circular" if self.boundary == "circular" else self.padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``y = A x``."""
        _check_image(x, self.kernel, "image")
        h, w = self.kernel_size
        H, W = x.shape[-2:]
        if h > H or w > W:
            raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} image")
        k = self.kernel.to(device=x.device, dtype=x.dtype)
        if self.boundary == "circular" and self._fft:
            otf = self._spec(("otf", H, W, x.dtype, x.device), lambda: psf2otf(k, (H, W)))
            return _circular_fft(x, otf)
        if self.boundary != "valid":
            x = pad(x, self._pads(), self._mode())
        if not self._fft:
            return _valid_direct(x, k)
        s = _grid(x.shape[-2], x.shape[-1])
        return _valid_fft(x, k, self._spec(("fwd", s, x.dtype, x.device), lambda: _spectrum(k, s)))

    __call__ = forward

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``x = A^T y``."""
        _check_image(y, self.kernel, "observation")
        h, w = self.kernel_size
        H, W = y.shape[-2:]
        if self.boundary != "valid" and (h > H or w > W):
            raise InputError(f"kernel {h}x{w} is larger than the {H}x{W} image")
        k = self.kernel.to(device=y.device, dtype=y.dtype)
        if self.boundary == "circular" and self._fft:
            otf = self._spec(("otf", H, W, y.dtype, y.device), lambda: psf2otf(k, (H, W)))
            return _circular_fft(y, otf.conj())
        if not self._fft:
            z = _valid_direct_adjoint(y, k)
        else:
            s = _grid(H + h - 1, W + w - 1)
            key = ("adj", s, y.dtype, y.device)
            z = _valid_fft_adjoint(y, k, self._spec(key, lambda: _spectrum(k.flip(-2, -1), s)))
        if self.boundary == "valid":
            return z
        return pad_adjoint(z, self._pads(), self._mode())

    def __repr__(self) -> str:
        h, w = self.kernel_size
        return (
            f"UniformBlur(kernel={tuple(self.kernel.shape)}, boundary={self.boundary!r}, "
            f"padding={self.padding!r}, method={self.method!r}, size={h}x{w})"
        )
