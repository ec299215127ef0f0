"""Spatially varying blur: loop references, adjoints, basis == field, constant field == uniform."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from deblur.errors import InputError
from deblur.operators import UniformBlur
from deblur.operators.spatially_varying import BasisBlur, KernelFieldBlur, basis_to_field, field_from_kernel

NP_PAD = {"reflect": "reflect", "replicate": "edge", "zero": "constant"}
CASES = [
    (order, boundary, padding)
    for order in ("filter-then-mask", "mask-then-filter")
    for boundary, padding in (
        ("valid", "reflect"),
        ("same", "reflect"),
        ("same", "replicate"),
        ("same", "zero"),
    )
]


def _ext(a: np.ndarray, h: int, w: int, padding: str) -> np.ndarray:
    """Extend the last two axes for a centred h x w kernel (top = h - 1 - h // 2, bottom = h // 2)."""
    widths = [(0, 0)] * (a.ndim - 2) + [(h - 1 - h // 2, h // 2), (w - 1 - w // 2, w // 2)]
    return np.pad(a, widths, mode=NP_PAD[padding])


def loop_reference(x, field, h, w, order, boundary, padding):
    """Direct per-pixel loops on one gray image: x (Hx, Wx), field (h*w, Hf, Wf), TRUE convolution."""
    ch, cw = h // 2, w // 2
    K = field.reshape(h, w, *field.shape[-2:])
    if boundary == "same":
        x = _ext(x, h, w, padding)
        if order == "mask-then-filter":
            K = _ext(K, h, w, padding)
    Hx, Wx = x.shape
    H, W = Hx - h + 1, Wx - w + 1
    oy, ox = h - 1 - ch, w - 1 - cw  # output p sits on latent p + (oy, ox)
    y = np.zeros((H, W))
    if order == "filter-then-mask":  # gather: y(p) = sum_u K_p(u) x(p - u)
        for p, q in itertools.product(range(H), range(W)):
            for i, j in itertools.product(range(h), range(w)):
                y[p, q] += K[i, j, p, q] * x[p + oy - (i - ch), q + ox - (j - cw)]
    else:  # scatter: source r sends K_r(u) x(r) to r + u
        for r, s in itertools.product(range(Hx), range(Wx)):
            for i, j in itertools.product(range(h), range(w)):
                p, q = r + (i - ch) - oy, s + (j - cw) - ox
                if 0 <= p < H and 0 <= q < W:
                    y[p, q] += K[i, j, r, s] * x[r, s]
    return y


def _field_grid(order, boundary, H, W, h, w):
    if boundary == "valid" and order == "mask-then-filter":
        return H + h - 1, W + w - 1
    return H, W


@pytest.mark.parametrize("order,boundary,padding", CASES)
@pytest.mark.parametrize("h,w", [(3, 3), (3, 2)])
def test_field_matches_loop_reference(order, boundary, padding, h, w):
    g = torch.Generator().manual_seed(0)
    H, W = 8, 9
    Hf, Wf = _field_grid(order, boundary, H, W, h, w)
    field = torch.rand(1, h * w, Hf, Wf, generator=g, dtype=torch.float64)
    A = KernelFieldBlur(field, (h, w), order, boundary, padding)
    lat = A.latent_shape((H, W))
    x = torch.rand(1, 1, *lat, generator=g, dtype=torch.float64)
    y = A(x)
    ref = loop_reference(x[0, 0].numpy(), field[0].numpy(), h, w, order, boundary, padding)
    assert y.shape == (1, 1, H, W)
    np.testing.assert_allclose(y[0, 0].numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("order,boundary,padding", CASES)
def test_field_adjoint(order, boundary, padding):
    g = torch.Generator().manual_seed(1)
    h = w = 3
    H, W = 8, 9
    Hf, Wf = _field_grid(order, boundary, H, W, h, w)
    A = KernelFieldBlur(torch.randn(2, h * w, Hf, Wf, generator=g), None, order, boundary, padding)
    x = torch.randn(2, 3, *A.latent_shape((H, W)), generator=g)
    y = torch.randn(2, 3, H, W, generator=g)
    lhs, rhs = (A(x) * y).sum(), (x * A.adjoint(y)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("order,boundary,padding", CASES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_basis_equals_field_and_adjoint(order, boundary, padding, method):
    g = torch.Generator().manual_seed(2)
    h = w = 5
    H, W = 10, 11
    Hf, Wf = _field_grid(order, boundary, H, W, h, w)
    kernels = torch.rand(3, 1, h, w, generator=g, dtype=torch.float64)
    weights = torch.rand(2, 3, Hf, Wf, generator=g, dtype=torch.float64)
    A = BasisBlur(kernels, weights, order, boundary, padding, method)
    Af = KernelFieldBlur(basis_to_field(kernels, weights), (h, w), order, boundary, padding)
    x = torch.rand(2, 2, *A.latent_shape((H, W)), generator=g, dtype=torch.float64)
    y = torch.rand(2, 2, H, W, generator=g, dtype=torch.float64)
    torch.testing.assert_close(A(x), Af(x))
    torch.testing.assert_close(A.adjoint(y), Af.adjoint(y))
    torch.testing.assert_close((A(x) * y).sum(), (x * A.adjoint(y)).sum())


def test_orders_differ():
    g = torch.Generator().manual_seed(3)
    kernels = torch.rand(2, 1, 3, 3, generator=g)
    weights = torch.rand(1, 2, 8, 8, generator=g)
    x = torch.rand(1, 1, 8, 8, generator=g)
    a = BasisBlur(kernels, weights, "filter-then-mask", "same")(x)
    b = BasisBlur(kernels, weights, "mask-then-filter", "same")(x)
    assert (a - b).abs().max() > 1e-3


@pytest.mark.parametrize("order,boundary,padding", CASES)
def test_constant_field_equals_uniform(order, boundary, padding):
    g = torch.Generator().manual_seed(4)
    h, w = 5, 3
    H, W = 9, 8
    k = torch.rand(1, 1, h, w, generator=g, dtype=torch.float64)
    U = UniformBlur(k, boundary, padding, "direct")
    A = KernelFieldBlur(
        field_from_kernel(k, _field_grid(order, boundary, H, W, h, w)), (h, w), order, boundary, padding
    )
    x = torch.rand(2, 3, *U.latent_shape((H, W)), generator=g, dtype=torch.float64)
    torch.testing.assert_close(A(x), U(x))
    y = torch.rand(2, 3, H, W, generator=g, dtype=torch.float64)
    torch.testing.assert_close(A.adjoint(y), U.adjoint(y))


def test_field_is_differentiable():
    g = torch.Generator().manual_seed(5)
    field = torch.rand(1, 9, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, x: KernelFieldBlur(f)(x), (field, x), fast_mode=True)


def test_bad_inputs():
    with pytest.raises(InputError, match="not a square"):
        KernelFieldBlur(torch.rand(1, 8, 4, 4))
    with pytest.raises(InputError, match="order"):
        KernelFieldBlur(torch.rand(1, 9, 4, 4), order="mask-first")
    with pytest.raises(InputError, match="non-finite"):
        KernelFieldBlur(torch.full((1, 9, 4, 4), float("nan")))
    A = KernelFieldBlur(torch.rand(1, 9, 4, 4))
    with pytest.raises(InputError, match="needs 6x6"):
        A(torch.rand(1, 1, 4, 4))
    with pytest.raises(InputError, match="weights"):
        BasisBlur(torch.rand(2, 1, 3, 3), torch.rand(1, 3, 4, 4))
