"""Loader of the Levin et al. (2009) real camera-shake benchmark (4 scenes x 8 kernels, 255x255 gray).

Each ``mat/imXX_kerYY.mat`` holds the blurred capture ``y``, its own sharp reference ``x`` and the
kernel ``f`` with ``y ~= correlate2d(x, f, 'same')``; in this package's TRUE-convolution convention the
kernel is therefore ``f`` rotated by 180 degrees. ``sizeL.mat`` holds the kernel-size hints papers use
and ``levin_gtkernel_ssde.csv`` the SSD of sparse deconvolution with the true kernel (the denominator of
the error ratio, see :func:`deblur.metrics.error_ratio`).

Reference: Levin, Weiss, Durand, Freeman, "Understanding and evaluating blind deconvolution
algorithms", CVPR 2009.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deblur.errors import InputError

__all__ = ["LevinImage", "load_levin"]

SCENES = (1, 2, 3, 4)
KERNELS = (1, 2, 3, 4, 5, 6, 7, 8)


@dataclass(frozen=True)
class LevinImage:
    """One benchmark case.

    Attributes:
        name: ``"im01_ker01"``.
        scene: scene index 1..4.
        kernel_index: kernel index 1..8.
        blurry: observation, ``(1, 1, 255, 255)`` float32.
        sharp: the reference captured with it, ``(1, 1, 255, 255)`` float32.
        kernel: true kernel ``(1, 1, h, w)`` float32, true-convolution convention, sums to 1.
        kernel_size_hint: the support papers give blind methods (``sizeL.mat``).
        ssd_reference: SSD of deconvolution with the true kernel (error-ratio denominator).
    """

    name: str
    scene: int
    kernel_index: int
    blurry: torch.Tensor
    sharp: torch.Tensor
    kernel: torch.Tensor
    kernel_size_hint: int
    ssd_reference: float


def _loadmat(path: Path, keys: tuple[str, ...]) -> dict:
    from scipy.io import loadmat

    if not path.is_file():
        raise InputError(f"Levin benchmark file not found: {path}")
    try:
        mat = loadmat(str(path))
    except Exception as exc:  # scipy raises several types for corrupt files
        raise InputError(f"cannot read Levin benchmark file {path}: {exc}") from exc
    missing = [k for k in keys if k not in mat]
    if missing:
        raise InputError(f"Levin benchmark file {path} lacks variables {missing}")
    return mat


def _read_ssd_table(path: Path) -> dict[tuple[int, int], float]:
    """``{(scene, kernel): ssd}`` from the csv (``#`` comments, header ``image,k1..k8``)."""
    if not path.is_file():
        raise InputError(f"Levin benchmark file not found: {path}")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.lstrip().startswith("#")))
    try:
        return {(int(row["image"]), j): float(row[f"k{j}"]) for row in rows for j in KERNELS}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"unexpected columns in {path}: need image,k1..k8 ({exc})") from exc


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]


def load_levin(
    path: str | Path, scenes: Iterable[int] = SCENES, kernels: Iterable[int] = KERNELS
) -> list[LevinImage]:
    """Load the benchmark from its folder (the one holding ``mat/`` and the csv).

    Args:
        path: benchmark folder, e.g. ``../shared/benchdata/levin``.
        scenes: scene indices to load (1..4).
        kernels: kernel indices to load (1..8).

    Returns:
        The cases in scene-major order.

    Raises:
        InputError: the folder or one of its files is missing or unreadable.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"Levin benchmark folder not found: {root}")
    scenes, kernels = tuple(scenes), tuple(kernels)
    bad = [i for i in scenes if i not in SCENES] + [j for j in kernels if j not in KERNELS]
    if bad:
        raise InputError(f"Levin benchmark has scenes 1..4 and kernels 1..8, got {bad}")
    sizes = np.asarray(_loadmat(root / "mat" / "sizeL.mat", ("sizeL",))["sizeL"]).ravel()
    ssd = _read_ssd_table(root / "levin_gtkernel_ssde.csv")
    out = []
    for i in scenes:
        for j in kernels:
            name = f"im{i:02d}_ker{j:02d}"
            mat = _loadmat(root / "mat" / f"{name}.mat", ("x", "y", "f"))
            f = np.asarray(mat["f"], dtype=np.float64)
            out.append(
                LevinImage(
                    name=name,
                    scene=i,
                    kernel_index=j,
                    blurry=_tensor(mat["y"]),
                    sharp=_tensor(mat["x"]),
                    kernel=_tensor(f[::-1, ::-1] / f.sum()),
                    kernel_size_hint=int(sizes[j - 1]),
                    ssd_reference=ssd[(i, j)],
                )
            )
    return out
