"""Kernel operations, generators and rendering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblur.errors import InputError
from deblur.kernels import (
    center,
    center_of_mass,
    disk_kernel,
    fit_support,
    flip,
    gaussian_kernel,
    kernel_to_image,
    motion_kernel,
    normalize,
    project_simplex,
    resize,
    shift,
    threshold,
)
from deblur.operators import convolve


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _assert_kernel(k, size, centre_tol=1e-6):
    assert k.shape[1:] == (1, size, size)
    assert bool((k >= 0).all())
    torch.testing.assert_close(k.sum((-2, -1)), torch.ones(k.shape[0], 1, dtype=k.dtype), atol=1e-5, rtol=0)
    com = center_of_mass(k.double())
    assert (com - size // 2).abs().max() <= centre_tol


def test_project_simplex_properties():
    v = _rand(16, 1, 5, 7, seed=1)
    p = project_simplex(v)
    assert bool((p >= 0).all())
    torch.testing.assert_close(p.sum((-2, -1)), torch.ones(16, 1, dtype=torch.float64))
    torch.testing.assert_close(project_simplex(p), p)  # idempotent
    # optimality (KKT): p is the closest simplex point, so <v - p, q - p> <= 0 for any simplex q
    q = torch.softmax(_rand(16, 35, seed=2), dim=1).reshape(16, 1, 5, 7)
    assert bool((((v - p) * (q - p)).sum((-2, -1)) <= 1e-10).all())
    # a point already on the simplex is unchanged; a shift by a constant does not matter
    s = torch.softmax(_rand(2, 9, seed=3), 1).reshape(2, 1, 3, 3)
    torch.testing.assert_close(project_simplex(s), s)
    torch.testing.assert_close(project_simplex(v + 3.0), p)


def test_normalize_and_errors():
    k = torch.tensor([[[[-1.0, 1.0], [3.0, 0.0]]]])
    torch.testing.assert_close(normalize(k), torch.tensor([[[[0.0, 0.25], [0.75, 0.0]]]]))
    with pytest.raises(InputError, match="no positive entry"):
        normalize(-torch.ones(1, 1, 3, 3))
    with pytest.raises(InputError, match=r"\(B, 1, h, w\)"):
        normalize(torch.ones(3, 3))


def test_center_of_mass_and_flip():
    k = torch.zeros(2, 1, 5, 7)
    k[0, 0, 1, 2] = 1
    k[1, 0, 4, 0] = k[1, 0, 4, 6] = 0.5
    torch.testing.assert_close(center_of_mass(k), torch.tensor([[1.0, 2.0], [4.0, 3.0]]))
    torch.testing.assert_close(center_of_mass(flip(k)), torch.tensor([[3.0, 4.0], [0.0, 3.0]]))


@pytest.mark.parametrize("subpixel", [False, True])
def test_center(subpixel):
    k = torch.zeros(3, 1, 9, 9, dtype=torch.float64)
    k[0, 0, 1, 2] = 1.0
    k[1, 0, 6, 7], k[1, 0, 6, 8] = 0.7, 0.3
    k[2] = gaussian_kernel(9, 1.0, dtype=torch.float64)[0]
    c = center(k, subpixel=subpixel)
    assert bool((c >= 0).all())
    torch.testing.assert_close(c.sum((-2, -1)), torch.ones(3, 1, dtype=torch.float64))
    err = (center_of_mass(c) - 4).abs().max()
    assert err <= (1e-9 if subpixel else 0.5)
    torch.testing.assert_close(c[2], k[2])  # already centred


def test_shift_is_differentiable():
    k = torch.rand(2, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    off = torch.tensor([[0.3, -0.6], [1.2, 0.4]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(shift, (k, off))


def test_fit_support():
    k = gaussian_kernel(9, 1.5, 0.8, angle=20.0, dtype=torch.float64)
    big = fit_support(k, 15)
    assert big.shape == (1, 1, 15, 15)
    torch.testing.assert_close(big[..., 3:12, 3:12], k)
    small = fit_support(big, 9)
    torch.testing.assert_close(small, k)
    cropped = fit_support(k, 5)
    torch.testing.assert_close(cropped, normalize(k[..., 2:7, 2:7]))
    with pytest.raises(InputError, match="odd"):
        fit_support(k, 8)


def test_resize_keeps_centre_and_sum():
    k = gaussian_kernel(31, 3.0, 1.5, angle=30.0, dtype=torch.float64)
    for size in (15, 61, 31):
        r = resize(k, size)
        _assert_kernel(r, size, centre_tol=1e-6)
    # a Gaussian downsampled by ~2 has about half the width
    r = resize(k, 15)
    var = (r[0, 0].sum(0) * (torch.arange(15) - 7.0) ** 2).sum()
    assert 0.15 < float(var) / 9.0 < 0.35


def test_threshold():
    k = torch.tensor([[[[0.01, 0.2], [0.5, 0.29]]]])
    t = threshold(k, rel=0.05)
    assert t[0, 0, 0, 0] == 0
    torch.testing.assert_close(t.sum(), torch.tensor(1.0))
    with pytest.raises(InputError):
        threshold(k, rel=1.5)


@pytest.mark.parametrize("size", [9, 31])
def test_motion_kernel_properties(size):
    k = motion_kernel(size, n=4, generator=torch.Generator().manual_seed(7), steps=500)
    assert k.dtype == torch.float32
    _assert_kernel(k, size, centre_tol=1e-3)
    # blurry but not a delta, and different kernels per batch item
    assert float(k.amax()) < 0.9
    assert (k[0] - k[1]).abs().sum() > 0.1


def test_motion_kernel_deterministic_and_options():
    a = motion_kernel(15, n=3, generator=torch.Generator().manual_seed(3), steps=300)
    b = motion_kernel(15, n=3, generator=torch.Generator().manual_seed(3), steps=300)
    c = motion_kernel(15, n=3, generator=4, steps=300)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    line = motion_kernel(21, length=10.0, anxiety=0.0, generator=1, steps=400, dtype=torch.float64)
    _assert_kernel(line, 21, centre_tol=1e-9)
    # a straight line: second moments have one dominant axis
    rows, cols = torch.meshgrid(torch.arange(21.0) - 10, torch.arange(21.0) - 10, indexing="ij")
    m = line[0, 0].float()
    cov = torch.tensor(
        [
            [(m * rows * rows).sum(), (m * rows * cols).sum()],
            [(m * rows * cols).sum(), (m * cols * cols).sum()],
        ]
    )
    ev = torch.linalg.eigvalsh(cov)
    assert ev[0] < 0.02 * ev[1]
    half = motion_kernel(21, length=10.0, anxiety=0.0, exposure=0.5, generator=1, steps=400)
    assert float(ev[1]) > 1.5 * float(_second_moment(half))
    with pytest.raises(InputError, match="odd"):
        motion_kernel(16)
    with pytest.raises(InputError, match="exposure"):
        motion_kernel(15, exposure=0.0)


def _second_moment(k):
    r = torch.arange(k.shape[-1], dtype=torch.float32) - k.shape[-1] // 2
    m = k[0, 0]
    return (m * (r[:, None] ** 2 + r[None, :] ** 2)).sum()


def test_gaussian_kernel():
    k = gaussian_kernel(21, 2.0, dtype=torch.float64)
    _assert_kernel(k, 21, centre_tol=1e-9)
    torch.testing.assert_close(k, k.transpose(-1, -2))
    var_x = (k[0, 0].sum(0) * (torch.arange(21) - 10.0) ** 2).sum()
    assert abs(float(var_x) - 4.0) < 1e-3
    a = gaussian_kernel(21, 4.0, 1.0, angle=90.0, dtype=torch.float64)
    b = gaussian_kernel(21, 1.0, 4.0, dtype=torch.float64)
    torch.testing.assert_close(a, b)
    with pytest.raises(InputError):
        gaussian_kernel(21, 0.0)


def test_disk_kernel():
    k = disk_kernel(15, 5.0, dtype=torch.float64)
    _assert_kernel(k, 15, centre_tol=1e-9)
    area = float((k > 0).sum())
    assert abs(area - np.pi * 5.0**2) < 25  # support ~ the disk area (edge pixels partially covered)
    edge = k[0, 0, 7, 7 + 5]
    assert 0 < float(edge) < float(k[0, 0, 7, 7])  # anti-aliased edge
    delta = disk_kernel(7, 0.0)
    assert float(delta[0, 0, 3, 3]) == 1.0
    with pytest.raises(InputError):
        disk_kernel(7, 5.0)


def test_kernel_to_image():
    k = gaussian_kernel(15, 2.0)
    img = kernel_to_image(k)
    assert img.dtype == np.uint8 and img.shape == (15 * 18, 15 * 18)
    assert img.max() == 255 and img.min() == 0
    two = kernel_to_image(torch.cat([k, k]), scale=2)
    assert two.shape == (30, 61)
    assert kernel_to_image(k[0, 0].numpy(), scale=1).shape == (15, 15)
    with pytest.raises(InputError):
        kernel_to_image(torch.ones(2, 2, 3, 3))


def test_generated_kernels_blur():
    """The generators produce kernels the operator accepts; blurring preserves the mean."""
    x = torch.rand(1, 1, 40, 40, generator=torch.Generator().manual_seed(0))
    for k in (motion_kernel(9, steps=200), gaussian_kernel(9, 1.5), disk_kernel(9, 3.0)):
        y = convolve(x, k, boundary="circular")
        torch.testing.assert_close(y.mean(), x.mean())
