"""Kernel generators: camera-shake motion blur, anisotropic Gaussian, defocus disk.

All return ``(n, 1, size, size)`` kernels, non-negative, sum 1, centred at ``(size // 2, size // 2)``.
Randomness only through a ``torch.Generator`` (or an int seed): the same generator state gives the same
kernels.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from deblur.errors import InputError


def _generator(generator: torch.Generator | int | None) -> torch.Generator:
    if generator is None:
        return torch.Generator().manual_seed(0)
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    return generator


def _check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or size < 3 or size % 2 == 0:
        raise InputError(f"kernel size must be an odd integer >= 3, got {size!r}")
    return int(size)


def camera_trajectory(
    n: int,
    steps: int,
    length: torch.Tensor,
    anxiety: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Random camera trajectories ``(n, steps, 2)`` (row, col) of total path length ``length`` (n,).

    Boracchi & Foi 2012 (IEEE TIP 21(8)): a particle moves at constant speed ``L / (T - 1)``; at each step its
    velocity ``v`` gets ``dv = s_t + a (g w_t - c x_t) L / (T - 1)`` where ``w_t`` is complex white Gaussian
    noise (random walk, gain ``g ~ U(0, 10)``), ``-c x_t`` an inertial pull back towards the start
    (``c ~ U(0, 0.7)``), ``a`` the anxiety, and ``s_t = 2 v e^{i(pi + U - 1/2)}`` an impulsive shake that
    roughly reverses the motion, drawn with probability ``a * U(0, 0.2)``; then ``v`` is rescaled to the
    constant speed. Our implementation, vectorised over the ``n`` trajectories.
    """
    g = generator
    u = torch.rand(n, 4, generator=g, dtype=torch.float64).numpy()
    noise = torch.randn(n, steps, 2, generator=g, dtype=torch.float64).numpy()
    draws = torch.rand(n, steps, 2, generator=g, dtype=torch.float64).numpy()
    length = length.numpy().astype(np.float64)
    anxiety = anxiety.numpy().astype(np.float64)
    centripetal, gain, shake_freq = 0.7 * u[:, 0], 10.0 * u[:, 1], 0.2 * u[:, 2]
    speed = length / max(steps - 1, 1)
    v = np.exp(2j * np.pi * u[:, 3]) * speed
    w = noise[..., 0] + 1j * noise[..., 1]
    shake = draws[..., 0] < (shake_freq * anxiety)[:, None]
    shake_turn = np.exp(1j * (np.pi + draws[..., 1] - 0.5))
    x = np.zeros((n, steps), dtype=np.complex128)
    for t in range(steps - 1):
        dv = np.where(shake[:, t], 2 * v * shake_turn[:, t], 0)
        dv = dv + anxiety * (gain * w[:, t] - centripetal * x[:, t]) * speed
        v = v + dv
        v = v / np.maximum(np.abs(v), 1e-12) * speed
        x[:, t + 1] = x[:, t] + v
    return torch.from_numpy(np.stack([x.imag, x.real], axis=-1))


def splat(points: torch.Tensor, size: int) -> torch.Tensor:
    """Render points ``(n, T, 2)`` (row, col; in pixels) as ``(n, 1, size, size)`` by bilinear splatting.

    Each point gives weight ``(1 - |dr|)(1 - |dc|)`` to its four neighbouring pixels, so the mass's centre
    equals the mean point; the result is normalised to sum 1.
    """
    n, T, _ = points.shape
    base = torch.floor(points)
    frac = points - base
    base = base.long()
    out = torch.zeros(n, size * size, dtype=points.dtype)
    for dr in (0, 1):
        for dc in (0, 1):
            r, c = base[..., 0] + dr, base[..., 1] + dc
            wgt = (frac[..., 0] if dr else 1 - frac[..., 0]) * (frac[..., 1] if dc else 1 - frac[..., 1])
            inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
            idx = (r.clamp(0, size - 1) * size + c.clamp(0, size - 1)).reshape(n, T)
            out.scatter_add_(1, idx, (wgt * inside).reshape(n, T))
    out = out.reshape(n, 1, size, size)
    return out / out.sum((-2, -1), keepdim=True)


def motion_kernel(
    size: int = 31,
    *,
    length: float | None = None,
    length_range: tuple[float, float] = (0.5, 1.0),
    anxiety: float | None = None,
    exposure: float = 1.0,
    n: int = 1,
    steps: int = 2000,
    generator: torch.Generator | int | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Camera-shake motion blur from random trajectories (Boracchi & Foi 2012), ``(n, 1, size, size)``.

    A trajectory of ``steps`` samples (:func:`camera_trajectory`) is cut to the first ``exposure`` fraction
    (the shutter time), centred so its mean sits on ``(size // 2, size // 2)``, shrunk about that centre if
    it does not fit the support (1 px margin), and rendered with sub-pixel bilinear splatting: the PSF is
    the time the image spends at each position, normalised to sum 1, centre of mass at the centre.

    ``length``: total path length in pixels (default ``U(*length_range) * size`` per kernel, a range of
    fractions of the support, so that one training set covers short and long blurs); ``anxiety``: shake
    intensity, 0 gives a straight line (default log-uniform in ``[5e-4, 1e-2]`` per kernel: smooth strokes
    to loops; the original ``U(0, 0.1)`` mostly gives compact blobs at 2000 samples). ``generator=None``
    means seed 0.
    """
    size = _check_size(size)
    if n < 1 or steps < 2:
        raise InputError(f"need n >= 1 and steps >= 2, got n={n}, steps={steps}")
    if not 0 < exposure <= 1:
        raise InputError(f"exposure must be in (0, 1], got {exposure}")
    if length is not None and not length > 0:
        raise InputError(f"length must be positive, got {length}")
    lo, hi = length_range
    if not 0 < lo <= hi:
        raise InputError(f"kernel length range must satisfy 0 < low <= high, got {length_range}")
    if anxiety is not None and not 0 <= anxiety <= 1:
        raise InputError(f"anxiety must be in [0, 1], got {anxiety}")
    g = _generator(generator)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    ones = torch.ones(n, dtype=torch.float64)
    lengths = (lo + (hi - lo) * u[:, 0]) * size if length is None else ones * length
    anx = 5e-4 * 20.0 ** u[:, 1] if anxiety is None else ones * anxiety
    traj = camera_trajectory(n, steps, lengths, anx, g)
    traj = traj[:, : max(2, round(exposure * steps))]
    traj = traj - traj.mean(1, keepdim=True)
    half = size // 2 - 1
    reach = traj.abs().amax((1, 2)).clamp_min(1e-12)
    traj = traj * (half / reach).clamp(max=1.0)[:, None, None] + size // 2
    return splat(traj, size).to(dtype=dtype, device=device)


def _grid(size: int, dtype: torch.dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    r = torch.arange(size, dtype=torch.float64, device=device) - size // 2
    return r[:, None].expand(size, size), r[None, :].expand(size, size)


def gaussian_kernel(
    size: int,
    sigma_x: float,
    sigma_y: float | None = None,
    angle: float = 0.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Anisotropic Gaussian ``exp(-(u^2 / sx^2 + v^2 / sy^2) / 2)``, normalised, ``(1, 1, size, size)``.

    ``(u, v)`` are the (col, row) offsets from the centre rotated by ``angle`` degrees (counter-clockwise,
    the ``sigma_x`` axis starts horizontal); ``sigma_y`` defaults to ``sigma_x``.
    """
    size = _check_size(size)
    sy = sigma_x if sigma_y is None else sigma_y
    if not (sigma_x > 0 and sy > 0):
        raise InputError(f"Gaussian sigmas must be positive, got {sigma_x}, {sy}")
    rows, cols = _grid(size, torch.float64, device)
    a = math.radians(angle)
    u = cols * math.cos(a) - rows * math.sin(a)
    v = cols * math.sin(a) + rows * math.cos(a)
    k = torch.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sy) ** 2))
    return (k / k.sum()).to(dtype)[None, None]


def disk_kernel(
    size: int,
    radius: float,
    *,
    supersample: int = 8,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Defocus disk (pillbox) of ``radius`` px, ``(1, 1, size, size)``, normalised.

    Each pixel holds the fraction of its area inside the disk (``supersample^2`` sub-samples), which
    anti-aliases the edge; ``radius < 0.5`` gives (nearly) a delta.
    """
    size = _check_size(size)
    if not radius >= 0 or radius > size / 2:
        raise InputError(f"disk radius must be in [0, {size / 2}] for a {size} px kernel, got {radius}")
    s = int(supersample)
    sub = (torch.arange(s, dtype=torch.float64, device=device) + 0.5) / s - 0.5
    rows, cols = _grid(size, torch.float64, device)
    dr = rows[:, :, None, None] + sub[None, None, :, None]
    dc = cols[:, :, None, None] + sub[None, None, None, :]
    k = ((dr**2 + dc**2) <= radius**2).to(torch.float64).mean((-2, -1))
    if not bool(k.sum() > 0):  # the disk falls between the sub-samples: a delta
        k[size // 2, size // 2] = 1.0
    return (k / k.sum()).to(dtype)[None, None]
