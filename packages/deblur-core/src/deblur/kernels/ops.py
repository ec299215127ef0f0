"""Kernel operations: projection onto the simplex, normalisation, centring, support and scale changes.

All functions take and return ``(B, 1, h, w)`` tensors (non-negative, sum 1, centre ``(h // 2, w // 2)``)
and are vectorised over the batch and differentiable where the maths is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from deblur.errors import InputError


def _check(k: torch.Tensor) -> None:
    if not isinstance(k, torch.Tensor) or k.ndim != 4 or k.shape[1] != 1:
        shape = tuple(k.shape) if isinstance(k, torch.Tensor) else type(k).__name__
        raise InputError(f"kernel must be a (B, 1, h, w) tensor, got {shape}")


def _odd_size(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1 or h % 2 == 0 or w % 2 == 0:
        raise InputError(f"kernel size must be odd and positive, got {h}x{w}")
    return h, w


def project_simplex(k: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each kernel onto ``{k >= 0, sum k = 1}``.

    ``P(v) = max(v - theta, 0)`` with ``theta = (sum_{i<=rho} u_i - 1) / rho``, ``u`` sorted descending and
    ``rho = max{j : u_j > (sum_{i<=j} u_i - 1) / j}`` (Held et al. 1974; Duchi et al., ICML 2008).
    """
    _check(k)
    v = k.flatten(1)
    u = torch.sort(v, dim=1, descending=True).values
    css = u.cumsum(1) - 1
    j = torch.arange(1, v.shape[1] + 1, device=v.device, dtype=v.dtype)
    rho = (u - css / j > 0).to(v.dtype).mul(j).argmax(1, keepdim=True)  # last j where the test holds
    theta = css.gather(1, rho) / (rho + 1).to(v.dtype)
    return (v - theta).clamp_min(0).reshape(k.shape)


def normalize(k: torch.Tensor) -> torch.Tensor:
    """``max(k, 0) / sum max(k, 0)`` per kernel; :class:`InputError` if a kernel has no positive entry."""
    _check(k)
    k = k.clamp_min(0)
    s = k.sum((-2, -1), keepdim=True)
    if not bool((s > 0).all()):
        raise InputError("kernel has no positive entry: cannot normalise to sum 1")
    return k / s


def center_of_mass(k: torch.Tensor) -> torch.Tensor:
    """``(B, 2)`` centre of mass ``(row, col) = sum_p p k(p) / sum_p k(p)`` in pixel indices."""
    _check(k)
    h, w = k.shape[-2:]
    s = k.sum((-2, -1))[:, 0]
    if not bool((s != 0).all()):
        raise InputError("kernel sums to zero: no centre of mass")
    rows = torch.arange(h, device=k.device, dtype=k.dtype)
    cols = torch.arange(w, device=k.device, dtype=k.dtype)
    r = (k.sum(-1)[:, 0] * rows).sum(-1) / s
    c = (k.sum(-2)[:, 0] * cols).sum(-1) / s
    return torch.stack([r, c], dim=1)


def _shift_int(k: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """``out(i, j) = k(i - dy, j - dx)`` per batch item, zero outside (integer shifts ``(B,)``)."""
    B, _, h, w = k.shape
    ii = torch.arange(h, device=k.device)[None, :] - dy[:, None]
    jj = torch.arange(w, device=k.device)[None, :] - dx[:, None]
    vi, vj = (ii >= 0) & (ii < h), (jj >= 0) & (jj < w)
    rows = k[:, 0].gather(1, ii.clamp(0, h - 1)[:, :, None].expand(B, h, w))
    out = rows.gather(2, jj.clamp(0, w - 1)[:, None, :].expand(B, h, w))
    mask = (vi[:, :, None] & vj[:, None, :]).to(k.dtype)
    return (out * mask)[:, None]


def shift(k: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Translate each kernel by ``offset`` ``(B, 2)`` (rows, cols) pixels, zero fill.

    Fractional offsets use bilinear interpolation ``(1 - f) S_n + f S_{n+1}`` per axis, which moves the
    centre of mass by exactly the offset when no mass leaves the support.
    """
    _check(k)
    base = torch.floor(offset.detach())
    frac = (offset - base).to(k.dtype)
    base = base.long()
    fy, fx = frac[:, 0].view(-1, 1, 1, 1), frac[:, 1].view(-1, 1, 1, 1)
    out = 0
    for ay, wy in ((0, 1 - fy), (1, fy)):
        for ax, wx in ((0, 1 - fx), (1, fx)):
            out = out + wy * wx * _shift_int(k, base[:, 0] + ay, base[:, 1] + ax)
    return out


def center(k: torch.Tensor, subpixel: bool = False) -> torch.Tensor:
    """Shift each kernel so its centre of mass lands on ``(h // 2, w // 2)``, zero fill, renormalised.

    ``subpixel=False`` rolls by the rounded offset (the centre of mass ends within half a pixel);
    ``subpixel=True`` shifts by the exact offset with bilinear interpolation.
    """
    _check(k)
    h, w = k.shape[-2:]
    target = torch.tensor([h // 2, w // 2], device=k.device, dtype=k.dtype)
    offset = target - center_of_mass(k)
    if not subpixel:
        offset = torch.round(offset.detach())
    out = shift(k, offset)
    return out / out.sum((-2, -1), keepdim=True).clamp_min(torch.finfo(k.dtype).tiny)


def fit_support(k: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Crop or zero-pad to an odd ``size`` keeping the centre ``(h // 2, w // 2)``, renormalised."""
    _check(k)
    H, W = _odd_size(size)
    h, w = k.shape[-2:]
    top, left = H // 2 - h // 2, W // 2 - w // 2
    out = F.pad(k, (left, W - w - left, top, H - h - top))
    return normalize(out)


def resize(k: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resample each kernel to an odd ``size`` (coarse-to-fine scales), centre to centre, sum 1.

    Bilinear interpolation with ``align_corners=False`` maps ``(h - 1) / 2`` to ``(size - 1) / 2``;
    downsampling is antialiased (area-like), then negatives are clamped and the sum renormalised.
    """
    _check(k)
    H, W = _odd_size(size)
    h, w = k.shape[-2:]
    if (h, w) == (H, W):
        return normalize(k)
    out = F.interpolate(k, size=(H, W), mode="bilinear", align_corners=False, antialias=h > H or w > W)
    return normalize(out)


def threshold(k: torch.Tensor, rel: float = 0.05) -> torch.Tensor:
    """Zero entries below ``rel * max(k)`` per kernel and renormalise (cleans estimates between scales)."""
    _check(k)
    if not 0 <= rel < 1:
        raise InputError(f"threshold rel must be in [0, 1), got {rel}")
    m = k.amax((-2, -1), keepdim=True)
    return normalize(torch.where(k >= rel * m, k, torch.zeros_like(k)))


def flip(k: torch.Tensor) -> torch.Tensor:
    """180-degree rotation ``k(-u)``: turns a convolution kernel into a correlation kernel and back."""
    _check(k)
    return k.flip(-2, -1)
