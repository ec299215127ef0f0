"""Uniform blur operator: scipy references, FFT == direct, adjoints, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from deblur.errors import InputError
from deblur.operators import UniformBlur, convolve, convolve_adjoint, fast_len, psf2otf
from deblur.operators.padding import kernel_pads, pad, pad_adjoint

MODES = [
    ("valid", "reflect"),
    ("same", "reflect"),
    ("same", "replicate"),
    ("same", "zero"),
    ("circular", "reflect"),
]
SCIPY_BOUNDARY = {"reflect": None, "replicate": None, "zero": "fill", "circular": "wrap"}


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _scipy(x: np.ndarray, k: np.ndarray, boundary: str, padding: str) -> np.ndarray:
    if boundary == "valid":
        return scipy.signal.convolve2d(x, k, mode="valid")
    if boundary == "circular":
        return scipy.signal.convolve2d(x, k, mode="same", boundary="wrap")
    if padding == "zero":
        return scipy.signal.convolve2d(x, k, mode="same", boundary="fill")
    h, w = k.shape
    mode = {"reflect": "reflect", "replicate": "edge"}[padding]
    return scipy.signal.convolve2d(
        np.pad(x, ((h // 2, h // 2), (w // 2, w // 2)), mode=mode), k, mode="valid"
    )


@pytest.mark.parametrize("boundary,padding", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("ks", [(3, 3), (5, 7), (1, 1)])
def test_matches_scipy(boundary, padding, method, ks):
    k = _rand(1, 1, *ks, seed=1)
    x = _rand(2, 3, 11, 13, seed=2)
    y = convolve(x, k, boundary, padding, method)
    for b in range(2):
        for c in range(3):
            ref = _scipy(x[b, c].numpy(), k[0, 0].numpy(), boundary, padding)
            np.testing.assert_allclose(y[b, c].numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("ks", [(4, 4), (2, 5)])
def test_even_kernel_centre(ks):
    """An even kernel is centred at (h // 2, w // 2): a delta there is the identity."""
    k = torch.zeros(1, 1, *ks, dtype=torch.float64)
    k[..., ks[0] // 2, ks[1] // 2] = 1
    x = _rand(1, 1, 9, 10, seed=3)
    for boundary in ("same", "circular"):
        for method in ("direct", "fft"):
            torch.testing.assert_close(convolve(x, k, boundary, "zero", method), x)
    ref = scipy.signal.convolve2d(x[0, 0].numpy(), k[0, 0].numpy(), mode="valid")
    np.testing.assert_allclose(convolve(x, k, "valid", method="fft")[0, 0].numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("boundary,padding", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("ks", [(3, 3), (4, 5)])
@pytest.mark.parametrize("kb", [1, 2])
def test_adjoint_dot_product(boundary, padding, method, ks, kb):
    """<A x, y> = <x, A^T y> in float32, functional and class forms."""
    g = torch.Generator().manual_seed(4)
    k = torch.rand(kb, 1, *ks, generator=g)
    A = UniformBlur(k, boundary, padding, method)
    x = torch.randn(2, 3, *A.latent_shape((12, 14)), generator=g)
    y = torch.randn(2, 3, 12, 14, generator=g)
    lhs = (A(x) * y).sum()
    for rhs in ((x * A.adjoint(y)).sum(), (x * convolve_adjoint(y, k, boundary, padding, method)).sum()):
        assert torch.allclose(lhs, rhs, rtol=1e-5, atol=1e-4), (lhs, rhs)
    torch.testing.assert_close(A(x), convolve(x, k, boundary, padding, method))


@pytest.mark.parametrize("boundary,padding", MODES)
def test_fft_equals_direct(boundary, padding):
    k = _rand(2, 1, 15, 13, seed=5, dtype=torch.float32)
    k = k / k.sum((-2, -1), keepdim=True)
    x = _rand(2, 3, 40, 37, seed=6, dtype=torch.float32)
    a = convolve(x, k, boundary, padding, "fft")
    b = convolve(x, k, boundary, padding, "direct")
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        convolve_adjoint(a, k, boundary, padding, "fft"),
        convolve_adjoint(a, k, boundary, padding, "direct"),
        rtol=1e-5,
        atol=1e-5,
    )


def test_batch_broadcast_and_per_item_kernels():
    k = _rand(2, 1, 5, 5, seed=7)
    x = _rand(2, 3, 12, 12, seed=8)
    for method in ("direct", "fft"):
        both = convolve(x, k, method=method)
        for b in range(2):
            torch.testing.assert_close(both[b : b + 1], convolve(x[b : b + 1], k[b : b + 1], method=method))
        shared = convolve(x, k[:1], method=method)
        torch.testing.assert_close(shared[1:], convolve(x[1:], k[:1], method=method))


@pytest.mark.parametrize("boundary,padding", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_gradcheck_kernel_and_image(boundary, padding, method):
    k = _rand(2, 1, 2, 3, seed=9).requires_grad_()
    x = _rand(2, 1, 4, 5, seed=10).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, k: convolve(x, k, boundary, padding, method), (x, k), fast_mode=True
    )
    y = _rand(2, 1, 4, 5, seed=11).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda y, k: convolve_adjoint(y, k, boundary, padding, method), (y, k), fast_mode=True
    )


def test_class_cache_and_kernel_grad():
    k = _rand(1, 1, 15, 15, seed=12, dtype=torch.float32)
    A = UniformBlur(k, "valid", method="fft")
    x = _rand(1, 1, 40, 40, seed=13, dtype=torch.float32)
    torch.testing.assert_close(A(x), A(x))
    kg = k.clone().requires_grad_()
    B = UniformBlur(kg, "valid", method="fft")
    for _ in range(2):  # no stale graph from a cached spectrum
        B(x).sum().backward()
    g2 = kg.grad.clone()
    kg.grad = None
    B(x).sum().backward()
    torch.testing.assert_close(g2, 2 * kg.grad)


def test_shapes():
    A = UniformBlur(torch.ones(1, 1, 5, 3) / 15)
    assert A.latent_shape((10, 20)) == (14, 22)
    assert A.observation_shape((14, 22)) == (10, 20)
    S = UniformBlur(torch.ones(1, 1, 5, 3) / 15, "same")
    assert S.latent_shape((10, 20)) == (10, 20) == S.observation_shape((10, 20))


def test_padding_adjoint_all_modes():
    g = torch.Generator().manual_seed(14)
    pads = kernel_pads(6, 5)
    for mode in ("reflect", "replicate", "zero", "circular"):
        x = torch.randn(2, 3, 7, 8, generator=g, dtype=torch.float64)
        z = torch.randn(2, 3, 7 + pads[2] + pads[3], 8 + pads[0] + pads[1], generator=g, dtype=torch.float64)
        torch.testing.assert_close((pad(x, pads, mode) * z).sum(), (x * pad_adjoint(z, pads, mode)).sum())


def test_psf2otf_and_fast_len():
    assert [fast_len(n) for n in (1, 7, 11, 97, 1025)] == [1, 8, 12, 100, 1080]
    k = _rand(1, 1, 3, 3, seed=15)
    x = _rand(1, 1, 8, 9, seed=16)
    otf = psf2otf(k, (8, 9))
    assert otf.shape == (1, 1, 8, 5)
    y = torch.fft.irfft2(torch.fft.rfft2(x) * otf, s=(8, 9))
    torch.testing.assert_close(y, convolve(x, k, "circular", method="direct"))


def test_bad_inputs():
    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(InputError, match="larger than"):
        convolve(x, torch.ones(1, 1, 9, 9))
    with pytest.raises(InputError, match="larger than"):
        convolve(x, torch.ones(1, 1, 9, 3), boundary="same")
    with pytest.raises(InputError, match=r"\(B, 1, h, w\)"):
        convolve(x, torch.ones(3, 3))
    with pytest.raises(InputError, match=r"\(B, C, H, W\)"):
        convolve(torch.rand(8, 8), torch.ones(1, 1, 3, 3))
    with pytest.raises(InputError, match="non-finite"):
        convolve(x, torch.full((1, 1, 3, 3), float("inf")))
    with pytest.raises(InputError, match="batch"):
        convolve(torch.rand(2, 1, 8, 8), torch.ones(3, 1, 3, 3))
    with pytest.raises(InputError, match="boundary"):
        convolve(x, torch.ones(1, 1, 3, 3), boundary="mirror")
    with pytest.raises(InputError, match="padding"):
        convolve(x, torch.ones(1, 1, 3, 3), boundary="same", padding="wrap")
    with pytest.raises(InputError, match="method"):
        UniformBlur(torch.ones(1, 1, 3, 3), method="fast")


def test_cache_follows_in_place_kernel_updates():
    k = _rand(1, 1, 15, 15, seed=17, dtype=torch.float32)
    x = _rand(1, 1, 30, 30, seed=18, dtype=torch.float32)
    A = UniformBlur(k, "same", method="fft")
    A(x)
    with torch.no_grad():
        k.mul_(2)
    torch.testing.assert_close(A(x), convolve(x, k, "same", method="fft"))
