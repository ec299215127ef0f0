"""Kernel fields on a grid (grid_weights, grid_blur, field_at) and the spatially varying data."""

from __future__ import annotations

import pytest
import torch

from deblur.data.spatially_varying import (
    KINDS,
    SVBlurredCrops,
    blur_field,
    camera_field,
    sv_cases,
    uniform_field,
)
from deblur.metrics import kernel_mnc
from deblur.operators import KernelFieldBlur, convolve, field_at, field_from_kernel, grid_blur, grid_weights


def _kernel(seed: int, size: int = 3) -> torch.Tensor:
    k = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return k / k.sum()


def _streak() -> torch.Tensor:
    """A one-sided horizontal streak: taps only right of the centre of a 7x7 kernel."""
    k = torch.zeros(1, 1, 7, 7, dtype=torch.float64)
    k[0, 0, 3, 4:] = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    return k


def test_grid_weights_are_a_partition_of_unity() -> None:
    w = grid_weights((3, 4), (10, 13))
    assert w.shape == (1, 12, 10, 13)
    assert bool((w >= 0).all())
    assert torch.allclose(w.sum(1), torch.ones(1, 10, 13), atol=1e-6)


def test_field_at_a_cell_centre_is_that_cells_kernel() -> None:
    field = torch.rand(1, 9, 3, 4, generator=torch.Generator().manual_seed(0))
    H, W = 12, 16  # 4x4 px cells: cell (i, j)'s centre is (4 i + 1.5, 4 j + 1.5)
    points = torch.tensor([[1.5, 1.5], [5.5, 13.5], [9.5, 9.5]])
    got = field_at(field, (H, W), points)
    assert got.shape == (1, 3, 1, 3, 3)
    for p, (i, j) in enumerate([(0, 0), (1, 3), (2, 2)]):
        assert torch.allclose(got[0, p, 0], field[0, :, i, j].reshape(3, 3), atol=1e-6)
    between = field_at(field, (H, W), torch.tensor([[1.5, 3.5]]))[0, 0, 0]  # halfway along a row
    assert torch.allclose(between, field[0, :, 0, :2].mean(-1).reshape(3, 3), atol=1e-6)


@pytest.mark.parametrize("grid", [(2, 3), (10, 12)], ids=["grid", "per-pixel"])
def test_constant_field_through_grid_blur_is_uniform_convolution(grid: tuple[int, int]) -> None:
    k = _kernel(1)
    field = field_from_kernel(k, grid).contiguous()
    x = torch.rand(1, 2, 12, 14, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    op = grid_blur(field, (10, 12))
    assert isinstance(op, KernelFieldBlur) == (grid == (10, 12))
    assert torch.allclose(op(x), convolve(x, k), atol=1e-10)


def test_orders_differ_on_a_half_plane_field() -> None:
    H, W, mid = 16, 20, 10
    k1, k2 = _kernel(3), torch.zeros(1, 1, 3, 3, dtype=torch.float64)  # a blob, and a shift right
    k2[0, 0, 1, 2] = 1.0
    left = torch.arange(W) < mid
    field = torch.where(left, k1.flatten(1)[..., None, None], k2.flatten(1)[..., None, None])
    field = field.expand(1, 9, H, W).contiguous()
    x = torch.rand(1, 1, H, W, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ftm = KernelFieldBlur(field, order="filter-then-mask", boundary="same")(x)
    mtf = KernelFieldBlur(field, order="mask-then-filter", boundary="same")(x)
    assert (ftm - mtf)[..., mid - 1 : mid + 1].abs().max() > 1e-3, "they differ where the kernels meet"
    assert torch.allclose(ftm[..., 2 : mid - 2], mtf[..., 2 : mid - 2], atol=1e-12), "alike away from it"
    assert torch.allclose(ftm[..., 2 : mid - 2], convolve(x, k1, boundary="same")[..., 2 : mid - 2])
    constant = field_from_kernel(k1, (H, W)).contiguous()
    for order in ("filter-then-mask", "mask-then-filter"):
        y = KernelFieldBlur(constant, order=order, boundary="same")(x)
        assert torch.allclose(y, convolve(x, k1, boundary="same"), atol=1e-12)


def test_an_asymmetric_kernel_keeps_its_orientation() -> None:
    k = _streak()
    H, W, R, C = 20, 24, 9, 8  # observation size; the dot, on the latent grid (larger by 6)
    x = torch.zeros(1, 1, H + 6, W + 6, dtype=torch.float64)
    x[0, 0, R, C] = 1.0
    field = field_from_kernel(k, (3, 3)).contiguous()
    y = blur_field(x, field, 0.0, torch.Generator())
    assert torch.allclose(y, convolve(x, k), atol=1e-10)
    # valid: observation pixel p sees latent p + (3, 3); true convolution puts the dot's light at
    # (R, C) + (0, 1..3): to the RIGHT of the dot, weighted as the kernel's taps
    rows, cols = torch.nonzero(y[0, 0] > 1e-9, as_tuple=True)
    assert rows.tolist() == [R - 3] * 3 and cols.tolist() == [C - 3 + 1, C - 3 + 2, C - 3 + 3]
    assert torch.allclose(y[0, 0, R - 3, C - 2 : C + 1], k[0, 0, 3, 4:])
    # a reblur of the deblurred image (the sharp one, on the observation grid) puts it in the same place
    sharp = x[..., 3 : 3 + H, 3 : 3 + W]
    reblur = grid_blur(field, (H, W), boundary="same")(sharp)
    assert torch.allclose(reblur[..., 3:-3, 3:-3], y[..., 3:-3, 3:-3], atol=1e-10)


def test_sv_cases_are_seeded_normalised_fields() -> None:
    a, b = sv_cases(2, 9), sv_cases(2, 9)
    for x, y in zip(a, b, strict=True):
        assert x.name == y.name and x.kind == y.kind
        assert (
            torch.equal(x.blurry, y.blurry)
            and torch.equal(x.field, y.field)
            and torch.equal(x.sharp, y.sharp)
        )
    for case in a:
        assert case.kind in KINDS and case.name.endswith(case.kind)
        assert case.blurry.shape == case.sharp.shape == (1, 1, 255, 255)
        assert case.field.shape == (1, 81, 8, 8) and bool((case.field >= 0).all())
        assert torch.allclose(case.field.sum(1), torch.ones(1, 8, 8), atol=1e-5)
    assert not torch.equal(a[0].field, a[1].field)


def test_sv_blurred_crops_triples() -> None:
    data = SVBlurredCrops(5, 24, grid=(2, 2), sources=("dead_leaves",))
    first = data.triples(2, torch.Generator().manual_seed(7))
    again = data.triples(2, torch.Generator().manual_seed(7))
    blurry, fields, sharp = first
    assert blurry.shape == sharp.shape == (2, 1, 24, 24) and fields.shape == (2, 25, 2, 2)
    assert all(torch.equal(u, v) for u, v in zip(first, again, strict=True))
    assert not torch.equal(first[0], data.triples(2, torch.Generator().manual_seed(8))[0])


def test_sv_blurred_crops_align_sharp_with_blurry() -> None:
    data = SVBlurredCrops(5, 24, grid=(2, 2), sources=("dead_leaves",), noise=(0.0, 0.0), kinds=("uniform",))
    blurry, fields, sharp = data.triples(1, torch.Generator().manual_seed(3))
    k = fields[0, :, 0, 0].reshape(1, 1, 5, 5)
    reblur = convolve(sharp, k, boundary="same")
    assert torch.allclose(reblur[..., 2:-2, 2:-2], blurry[..., 2:-2, 2:-2], atol=1e-5)


def test_camera_field_rolls_and_uniform_field_does_not_vary() -> None:
    g = torch.Generator().manual_seed(5)
    field = camera_field(15, (4, 4), (255, 255), g, rotation=(1.0, 1.0))
    corners = field[0].flatten(1).T.reshape(16, 1, 15, 15)[[0, 15]]
    assert float(kernel_mnc(corners[:1], corners[1:])) < 0.99
    steady = camera_field(15, (4, 4), (255, 255), torch.Generator().manual_seed(5), rotation=(0.0, 0.0))
    assert torch.allclose(steady, steady[..., :1, :1].expand_as(steady), atol=1e-6), "no roll: one kernel"
    flat = uniform_field(9, (3, 2), g)
    assert torch.equal(flat, flat[..., :1, :1].expand_as(flat))
