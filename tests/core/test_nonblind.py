"""Non-blind solvers: PSNR gains with a known kernel, boundary handling, autograd, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from deblur.errors import InputError
from deblur.observation import SATURATION, saturation_mask
from deblur.operators import convolve
from deblur.operators.padding import kernel_pads
from deblur.priors import L0Gradient, TotalVariation
from deblur.solvers import (
    ConjugateGradient,
    HQSDeconvolver,
    RichardsonLucy,
    WienerDeconvolver,
    cg_deconvolve,
    edgetaper,
    hqs_deconvolve,
    richardson_lucy,
    wiener_deconvolve,
)

SIZE = 48


def _scene(n: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """A piecewise-smooth test image in [0, 1]: shaded background, rectangles and discs."""
    gen = torch.Generator().manual_seed(seed)
    i = torch.arange(n, dtype=torch.float32)
    yy, xx = torch.meshgrid(i, i, indexing="ij")
    out = []
    for _ in range(channels):
        img = 0.3 + 0.2 * torch.sin(xx / 9) * torch.cos(yy / 13)
        for _ in range(6):
            cy, cx, r = (torch.rand(3, generator=gen) * torch.tensor([n, n, n / 5])).tolist()
            value = float(torch.rand(1, generator=gen))
            if r > n / 10:
                img = torch.where((yy - cy) ** 2 + (xx - cx) ** 2 < r**2, value, img)
            else:
                img = torch.where(((yy - cy).abs() < 2 * r) & ((xx - cx).abs() < 3 * r), value, img)
        out.append(img)
    return torch.stack(out)[None]


def _motion_kernel() -> torch.Tensor:
    """A 7x9 L-shaped motion kernel, centred, summing to 1."""
    k = torch.zeros(7, 9)
    k[3, 1:7] = 1.0
    k[1:4, 6] = 0.5
    k[1, 6:8] = 0.5
    return (k / k.sum())[None, None]


def _psnr(x: torch.Tensor, ref: torch.Tensor) -> float:
    return 10 * math.log10(1 / float((x - ref).square().mean()))


@pytest.fixture(scope="module")
def valid_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sharp window, blurred valid observation with noise, kernel)."""
    k = _motion_kernel()
    h, w = k.shape[-2:]
    latent = _scene(SIZE + max(h, w))[..., : SIZE + h - 1, : SIZE + w - 1]
    noise = 0.003 * torch.randn(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    y = convolve(latent, k, boundary="valid") + noise
    left, _, top, _ = kernel_pads(h, w)
    return latent[..., top : top + SIZE, left : left + SIZE], y, k


@pytest.mark.parametrize(
    ("solver", "gain"),
    [
        (HQSDeconvolver(), 8.0),
        (HQSDeconvolver(prior=TotalVariation(2e-4), beta_init=1e-4, beta_rate=1.5), 8.0),
        (HQSDeconvolver(prior=L0Gradient(1e-5)), 6.0),
        (WienerDeconvolver(), 1.5),  # linear: rings on this piecewise-constant scene
        (RichardsonLucy(iterations=100, tv_weight=1e-3), 8.0),
        (RichardsonLucy(), 6.0),
        (ConjugateGradient(), 5.0),  # Tikhonov: measured +6.1 dB
    ],
    ids=repr,
)
def test_solver_recovers_a_valid_blur(solver, gain: float, valid_case) -> None:
    sharp, y, k = valid_case
    x = solver(y, k)
    assert x.shape == y.shape and x.dtype == y.dtype
    assert _psnr(x, sharp) > _psnr(y, sharp) + gain


def test_valid_model_beats_circular_at_the_borders(valid_case) -> None:
    sharp, y, k = valid_case
    valid = hqs_deconvolve(y, k, boundary="valid")
    circular = hqs_deconvolve(y, k, boundary="circular")
    assert _psnr(valid, sharp) > _psnr(circular, sharp) + 5
    tapered = wiener_deconvolve(y, k, boundary="valid")
    periodic = wiener_deconvolve(y, k, boundary="circular")
    assert _psnr(tapered, sharp) > _psnr(periodic, sharp) + 5


def test_circular_model_on_circular_blur() -> None:
    sharp = _scene(SIZE)
    k = _motion_kernel()
    y = convolve(sharp, k, boundary="circular")
    assert _psnr(hqs_deconvolve(y, k, boundary="circular"), sharp) > _psnr(y, sharp) + 10
    assert _psnr(wiener_deconvolve(y, k, boundary="circular", balance=1e-4), sharp) > _psnr(y, sharp) + 10


def test_same_boundary_runs() -> None:
    sharp = _scene(SIZE)
    k = _motion_kernel()
    y = convolve(sharp, k, boundary="same", padding="reflect")
    for x in (hqs_deconvolve(y, k, boundary="same"), richardson_lucy(y, k, boundary="same")):
        assert _psnr(x, sharp) > _psnr(y, sharp) + 5


def test_richardson_lucy_stays_non_negative() -> None:
    sharp = _scene(32) * (torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(3)) > 0.3)
    k = _motion_kernel()
    y = convolve(sharp, k, boundary="valid")
    y = y + 0.02 * torch.randn(y.shape, generator=torch.Generator().manual_seed(4))
    for tv in (0.0, 5e-3):
        x = richardson_lucy(y, k, iterations=30, tv_weight=tv)
        assert bool((x >= 0).all())
    with pytest.raises(InputError, match="non-negative"):
        richardson_lucy(y, -k)


def test_edgetaper_keeps_the_interior() -> None:
    x = _scene(40)
    k = _motion_kernel()
    t = edgetaper(x, k)
    torch.testing.assert_close(t[..., 12:-12, 12:-12], x[..., 12:-12, 12:-12])
    torch.testing.assert_close(t[..., 0, 0], convolve(x, k, boundary="circular")[..., 0, 0])


@pytest.mark.parametrize("boundary", ["valid", "circular"])
def test_wiener_gradcheck_wrt_kernel(boundary: str) -> None:
    y = _scene(10).double()
    k = (_motion_kernel()[..., 2:5, 3:6] + 0.05).double().requires_grad_(True)
    solve = lambda k: wiener_deconvolve(y, k, boundary=boundary)  # noqa: E731
    assert torch.autograd.gradcheck(solve, (k,), fast_mode=True)


def test_hqs_gradient_wrt_kernel_matches_finite_differences() -> None:
    y = _scene(16).double()
    k = (_motion_kernel()[..., 2:5, 3:6] + 0.05).double()
    target = _scene(16, seed=5).double()
    direction = torch.randn(k.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)

    def loss(kernel: torch.Tensor, prior) -> torch.Tensor:
        x = hqs_deconvolve(y, kernel, prior=prior, beta_max=0.1)
        return (x - target).square().sum()

    # TV's shrink is continuous; the hyper-Laplacian's jumps at its threshold, so only check it is finite
    kk = k.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(kk, None), kk)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0
    tv = TotalVariation(1e-3)
    (grad,) = torch.autograd.grad(loss(kk, tv), kk)
    h = 1e-6
    fd = (loss(k + h * direction, tv) - loss(k - h * direction, tv)) / (2 * h)
    assert float((grad * direction).sum()) == pytest.approx(float(fd), rel=1e-4)


def test_colour_batch_and_per_item_kernels() -> None:
    y = torch.cat([_scene(24, channels=3, seed=s) for s in (0, 1)])
    k = torch.cat([_motion_kernel(), _motion_kernel().flip(-1)])
    for solver in (hqs_deconvolve, wiener_deconvolve, RichardsonLucy(iterations=20), cg_deconvolve):
        out = solver(y, k)
        assert out.shape == y.shape
        torch.testing.assert_close(out[1:], solver(y[1:], k[1:]), atol=1e-5, rtol=1e-5)
        assert solver(y, k[:1]).shape == y.shape


def test_deconvolver_classes_match_functions(valid_case) -> None:
    _, y, k = valid_case
    torch.testing.assert_close(HQSDeconvolver(weight=3e-4)(y, k), hqs_deconvolve(y, k, weight=3e-4))
    torch.testing.assert_close(WienerDeconvolver(balance=1e-2)(y, k), wiener_deconvolve(y, k, balance=1e-2))
    torch.testing.assert_close(RichardsonLucy(iterations=5)(y, k), richardson_lucy(y, k, iterations=5))
    torch.testing.assert_close(ConjugateGradient(weight=1e-2)(y, k), cg_deconvolve(y, k, weight=1e-2))
    assert "HQSDeconvolver" in repr(HQSDeconvolver(prior=TotalVariation(1e-3)))


@pytest.mark.parametrize("solver", [hqs_deconvolve, wiener_deconvolve, richardson_lucy, cg_deconvolve])
@pytest.mark.parametrize(
    ("y", "k", "message"),
    [
        (torch.rand(8, 8), torch.ones(1, 1, 3, 3) / 9, "observation must be"),
        (torch.rand(1, 1, 8, 8), torch.ones(3, 3) / 9, "kernel must be"),
        (torch.rand(1, 1, 8, 8), torch.ones(1, 1, 9, 3) / 27, "larger than"),
        (torch.full((1, 1, 8, 8), math.nan), torch.ones(1, 1, 3, 3) / 9, "non-finite"),
        (torch.rand(1, 1, 8, 8), torch.full((1, 1, 3, 3), math.inf), "non-finite"),
        (torch.rand(2, 1, 8, 8), torch.ones(3, 1, 3, 3) / 9, "batch"),
    ],
)
def test_bad_input(solver, y: torch.Tensor, k: torch.Tensor, message: str) -> None:
    with pytest.raises(InputError, match=message):
        solver(y, k)


def test_bad_settings() -> None:
    y, k = torch.rand(1, 1, 8, 8), torch.ones(1, 1, 3, 3) / 9
    with pytest.raises(InputError, match="boundary"):
        hqs_deconvolve(y, k, boundary="mirror")
    with pytest.raises(InputError, match="gradient prior"):
        hqs_deconvolve(y, k, prior=object())
    with pytest.raises(InputError, match="beta_rate"):
        hqs_deconvolve(y, k, beta_rate=1.0)
    with pytest.raises(InputError, match="beta_rate"):  # refused when built, before any deconvolution
        HQSDeconvolver(beta_rate=1.0)
    with pytest.raises(InputError, match="boundary"):
        HQSDeconvolver(boundary="mirror")
    with pytest.raises(InputError, match="saturation"):
        HQSDeconvolver(saturation=1.5)
    with pytest.raises(InputError, match="noise_weight"):
        HQSDeconvolver(noise_weight=-4)
    with pytest.raises(InputError, match="regularizer"):
        WienerDeconvolver(regularizer="laplace")
    with pytest.raises(InputError, match="iterations"):
        RichardsonLucy(iterations=0)
    with pytest.raises(InputError, match="iterations"):
        ConjugateGradient(iterations=0)
    with pytest.raises(InputError, match="weight"):
        cg_deconvolve(y, k, weight=-1.0)


def test_clipped_lights_are_left_out_instead_of_ringing() -> None:
    """A light source clipped after the blur is not fitted: the scene around it rings far less."""
    k = _motion_kernel()
    h, w = k.shape[-2:]
    latent = 0.5 * _scene(SIZE + max(h, w))[..., : SIZE + h - 1, : SIZE + w - 1]
    latent[..., 20:24, 20:24] = 8.0  # a lamp eight times full scale
    y = convolve(latent, k, boundary="valid").clamp(0, 1)
    left, _, top, _ = kernel_pads(h, w)
    sharp = latent[..., top : top + SIZE, left : left + SIZE]
    far = saturation_mask(y, grow=6).logical_not().expand_as(y)
    plain = _psnr(hqs_deconvolve(y, k)[far], sharp[far])
    masked = _psnr(hqs_deconvolve(y, k, saturation=SATURATION)[far], sharp[far])
    assert masked > plain + 3, (plain, masked)


def test_noise_weight_raises_the_prior_on_a_noisy_photo(valid_case) -> None:
    sharp, y, k = valid_case
    noisy = y + 0.02 * torch.randn(y.shape, generator=torch.Generator().manual_seed(3))
    weak = _psnr(hqs_deconvolve(noisy, k, weight=1e-5), sharp)
    adapted = _psnr(hqs_deconvolve(noisy, k, weight=1e-5, noise_weight=4.0), sharp)
    assert adapted > weak + 2, (weak, adapted)
    quiet = hqs_deconvolve(y, k, weight=1e-3, noise_weight=4.0)
    assert torch.equal(quiet, hqs_deconvolve(y, k, weight=1e-3)), "a prior above 4 sigma^2 is kept"
