"""Every registered non-blind solver keeps the contract in docs/writing-plugins.md.

``(y, k) -> x``: x has y's shape, dtype and device, is finite, and estimates the latent's window aligned
with y (for a ``valid`` blur, the latent's centre window), not the latent itself.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable

import pytest
import torch

from deblur.data.procedural import dead_leaves
from deblur.data.synthetic import blur_image
from deblur.operators.padding import kernel_pads
from deblur.pipeline import resolve_solver
from deblur.registry import Registry
from tests.conftest import registry_with

PLUGINS = ("deblur_dipmc.plugin", "deblur_gankernel.plugin", "deblur_fixture.plugin")
SIZE = 32
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def _registry() -> Registry:
    """Core plus every plugin named above that is installed."""
    modules = []
    for name in PLUGINS:
        with contextlib.suppress(ImportError):
            modules.append(importlib.import_module(name))
    return registry_with(*modules)


REGISTRY = _registry()
SOLVERS = REGISTRY.fitting("solver", {"non-blind"})


def _solver(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return resolve_solver(REGISTRY, name, need="non-blind").build()


def _kernels(batch: int, h: int, w: int, g: torch.Generator) -> torch.Tensor:
    """Asymmetric random kernels (batch, 1, h, w), non-negative, sum 1: a shift would show."""
    k = torch.rand(batch, 1, h, w, generator=g) ** 4
    k[..., h // 2, w // 2] += 0.2
    return k / k.sum((-2, -1), keepdim=True)


def _case(channels: int, batch: int, kernel: tuple[int, int], dtype: torch.dtype, device: str):
    """(latent, y, k, top, left): y is the ``valid`` blur of the latent, ``(SIZE, SIZE)``."""
    g = torch.Generator().manual_seed(channels * 10 + batch)
    h, w = kernel
    latent = torch.cat([dead_leaves(SIZE + max(h, w), g, channels=channels) for _ in range(batch)])
    latent = latent[..., : SIZE + h - 1, : SIZE + w - 1]
    k = _kernels(batch, h, w, g)
    y = blur_image(latent, k, noise_sigma=0.002, boundary="valid", generator=1)
    assert y.shape[-2:] == (SIZE, SIZE)
    left, _, top, _ = kernel_pads(h, w)
    cast = {"dtype": dtype, "device": device}
    return latent.to(**cast), y.to(**cast), k.to(**cast), top, left


CASES = {
    "gray": (1, 1, (7, 7)),  # one gray image, one kernel
    "rgb-batch": (3, 2, (7, 5)),  # two RGB images, one kernel each
    "gray-even-kernel": (1, 1, (6, 4)),  # the centre (h // 2, w // 2) of an even kernel
}


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).double().square().flatten(1).mean(1)


def test_core_solvers_are_found() -> None:
    assert {"wiener", "hqs", "richardson-lucy"} <= set(SOLVERS)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", SOLVERS)
def test_output_is_the_window_aligned_with_y(name: str, case: str, device: str) -> None:
    channels, batch, kernel = CASES[case]
    latent, y, k, top, left = _case(channels, batch, kernel, torch.float32, device)
    x = _solver(name)(y, k)
    assert x.shape == y.shape, f"{name} returned {tuple(x.shape)} for y {tuple(y.shape)}"
    assert x.dtype == y.dtype and x.device == y.device
    assert bool(torch.isfinite(x).all())
    window = latent[..., top : top + SIZE, left : left + SIZE]
    err = _mse(x, window)
    assert bool((err < _mse(y, window)).all()), f"{name} is no closer to the latent's window than y"
    for dt, dl in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        shifted = latent[..., top + dt : top + dt + SIZE, left + dl : left + dl + SIZE]
        assert bool((err < _mse(x, shifted)).all()), f"{name} is closer to the window shifted by {dt, dl}"


@pytest.mark.parametrize("name", SOLVERS)
def test_dtype_follows_the_input(name: str) -> None:
    _, y, k, _, _ = _case(1, 1, (5, 5), torch.float64, "cpu")
    x = _solver(name)(y, k.float())  # the kernel is cast to y's dtype
    assert x.dtype == torch.float64 and x.shape == y.shape


@pytest.mark.parametrize("name", SOLVERS)
def test_output_is_not_clipped(name: str) -> None:
    """An observation reaching 2 gives an estimate above 1: the pipeline clips once, at output."""
    _, y, k, _, _ = _case(1, 1, (5, 5), torch.float32, "cpu")
    assert float(_solver(name)(y * 3 - 1, k).max()) > 1


@pytest.mark.parametrize(
    "name", [n for n in SOLVERS if "differentiable-kernel" in REGISTRY.get("solver", n).record.provides]
)
def test_differentiable_kernel(name: str) -> None:
    _, y, k, _, _ = _case(1, 1, (5, 5), torch.float64, "cpu")
    k = k.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_solver(name)(y, k).square().sum(), k)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0
