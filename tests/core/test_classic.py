"""The classic blind method: kernel recovery on small synthetic images, colour, batches, determinism."""

from __future__ import annotations

import pytest
import torch

from deblur.context import RunContext, torch_threads
from deblur.data.procedural import text_image
from deblur.data.synthetic import blur_image
from deblur.errors import InputError
from deblur.kernels import motion_kernel
from deblur.metrics import kernel_mnc, psnr
from deblur.observation import default_kernel_size, kernel_size, luminance
from deblur.operators import convolve
from deblur.pipeline import resolve_method
from deblur.priors import HyperLaplacian, KernelL2, L0Gradient
from deblur.priors.image import interior_gradient
from deblur.solvers._kernel_estimation import KernelLeastSquares, l0_latent, prune_kernel, rescale_kernel
from deblur.solvers.classic import ClassicBlind, ClassicRefiner
from deblur.solvers.hqs import HQSDeconvolver

SIZE, KSIZE = 64, 9


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny FFTs: one torch thread is faster, and far faster on a CPU shared with other work."""
    with torch_threads(1):
        yield


def make_method(**params) -> ClassicBlind:
    return ClassicBlind(
        image_prior=L0Gradient(2e-3),
        kernel_prior=KernelL2(4.0),
        nonblind=HQSDeconvolver(HyperLaplacian(1e-4)),
        **params,
    )


def observation(seed: int, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(blurry, sharp on the observation grid, kernel): text blurred 'valid' by a motion kernel."""
    g = torch.Generator().manual_seed(seed)
    x = text_image(SIZE + KSIZE - 1, g, channels=channels)
    k = motion_kernel(KSIZE, generator=g)
    y = blur_image(x, k, noise_sigma=0.005, generator=g)
    c = KSIZE // 2
    return y, x[..., c : c + SIZE, c : c + SIZE], k


@pytest.fixture(scope="module")
def gray_case():
    y, x, k = observation(2)
    return y, x, k, make_method()(y, RunContext(kernel_size=KSIZE))


def test_recovers_a_motion_kernel(gray_case) -> None:
    y, x, k, result = gray_case
    assert result.kernel.shape == (1, 1, KSIZE, KSIZE)
    assert float(result.kernel.min()) >= 0
    assert float(result.kernel.sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(kernel_mnc(result.kernel, k)) > 0.85
    assert result.image.shape == y.shape
    assert psnr(result.image.clamp(0, 1), x) > psnr(y.clamp(0, 1), x) + 3.0


def test_result_records_history_timings_and_config(gray_case) -> None:
    result = gray_case[3]
    assert len(result.history["kernel_residual"]) == len(make_method().pyramid(KSIZE)) * 5
    assert set(result.timings) == {"kernel_estimation", "nonblind"}
    assert result.config["kernel_size"] == KSIZE
    assert result.config["kernel_prior"] == "KernelL2(weight=4)"


def test_colour_batch_estimates_on_luminance_and_deconvolves_every_channel() -> None:
    y1, x1, k1 = observation(6, channels=3)
    y2, x2, k2 = observation(2, channels=3)
    y, x = torch.cat([y1, y2]), torch.cat([x1, x2])
    result = make_method()(y, RunContext(kernel_size=KSIZE))
    assert result.image.shape == y.shape
    assert result.kernel.shape == (2, 1, KSIZE, KSIZE)
    assert (kernel_mnc(result.kernel, torch.cat([k1, k2])) > 0.85).all()
    assert (psnr(result.image.clamp(0, 1), x) > psnr(y.clamp(0, 1), x) + 3.0).all()


def test_deterministic_for_a_seed_and_reports_progress() -> None:
    y, _, _ = observation(5)
    calls = []
    method = make_method(iterations=2)
    a = method(y, RunContext(kernel_size=7, seed=3, progress=lambda s, i, n, **m: calls.append((s, i, n, m))))
    b = method(y, RunContext(kernel_size=7, seed=3))
    assert torch.equal(a.kernel, b.kernel) and torch.equal(a.image, b.image)
    levels = len(method.pyramid(7))
    assert calls[0][:3] == (f"scale 1/{levels}", 1, 2) and set(calls[0][3]) == {
        "kernel_residual",
        "weight_scale",
    }
    assert calls[-1][:3] == ("non-blind", 1, 1)
    assert len(calls) == 2 * levels + 1


def test_kernel_size_rules() -> None:
    assert default_kernel_size((255, 255)) == 25
    assert default_kernel_size((40, 300)) == 7
    assert default_kernel_size((600, 900)) == 61
    assert default_kernel_size((2000, 3000)) == 75
    assert kernel_size((255, 255), None, 31) == 31 and kernel_size((255, 255), 9, 31) == 9
    with pytest.raises(InputError, match="too large for a 40x300 image"):
        kernel_size((40, 300), 21)
    assert make_method().pyramid(27) == [27, 21, 15, 11, 7, 5, 5]
    y, _, _ = observation(1)
    result = make_method(iterations=1, kernel_size=5)(y, RunContext())
    assert result.kernel.shape == (1, 1, 5, 5)
    assert make_method(iterations=1)(y, RunContext()).kernel.shape == (1, 1, 7, 7)


@pytest.mark.parametrize(
    ("image", "size", "match"),
    [
        (torch.rand(1, 1, 32, 32), 8, "odd"),
        (torch.rand(1, 1, 32, 32), 17, "too large"),
        (torch.rand(1, 2, 32, 32), 5, "1 or 3"),
        (torch.full((1, 1, 32, 32), float("nan")), 5, "finite"),
    ],
)
def test_bad_input(image: torch.Tensor, size: int, match: str) -> None:
    with pytest.raises(InputError, match=match):
        make_method()(image, RunContext(kernel_size=size))


@pytest.mark.parametrize(
    "params", [{"scale_ratio": 1.5}, {"coarsest": 4}, {"kernel_threshold": 1.0}, {"threads": 0}]
)
def test_bad_parameters(params: dict) -> None:
    with pytest.raises(InputError):
        make_method(**params)


def test_luminance() -> None:
    rgb = torch.rand(2, 3, 4, 5)
    expected = 0.2125 * rgb[:, 0] + 0.7154 * rgb[:, 1] + 0.0721 * rgb[:, 2]
    assert torch.allclose(luminance(rgb)[:, 0], expected)
    assert luminance(rgb[:, :1]) is not None and torch.equal(luminance(rgb[:, :1]), rgb[:, :1])


def test_kernel_least_squares_is_exact_on_the_valid_model() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 40, 44, generator=g, dtype=torch.float64)
    k = motion_kernel(7, generator=g, dtype=torch.float64)
    y = convolve(x, k, boundary="valid")
    ls = KernelLeastSquares(interior_gradient(x), interior_gradient(y), (7, 7), gamma=1e-9)
    est = ls.solve(torch.zeros_like(k), iterations=100, tol=1e-12)
    assert torch.allclose(est, k, atol=1e-6)
    assert ls.residual(k) < 1e-20


def test_l0_latent_shape_and_exact_data_fit_without_prior() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 30, 30, generator=g, dtype=torch.float64)
    k = motion_kernel(5, generator=g, dtype=torch.float64)
    y = convolve(x, k, boundary="valid")
    latent, _ = l0_latent(y, k, L0Gradient(1e-6), beta_max=1e3)
    assert latent.shape == x.shape
    assert (convolve(latent, k, boundary="valid") - y).abs().max() < 1e-2


def test_rescale_and_prune_kernel() -> None:
    k = torch.zeros(1, 1, 5, 5)
    k[0, 0, 2, 1:4] = 1 / 3
    assert torch.allclose(rescale_kernel(k, 1.0, 5), k)
    big = rescale_kernel(k, 2.0, 9)  # taps at -1, 0, 1 -> bilinear support (-2, 2) on the doubled grid
    assert big.shape == (1, 1, 9, 9) and float(big.sum()) == pytest.approx(1)
    assert (big[0, 0, 4] > 0).tolist() == [False] + [True] * 7 + [False] and (big[0, 0, :3] == 0).all()
    noisy = k.clone()
    noisy[0, 0, 0, 0] = 0.02  # an isolated blob of ~2% of the mass
    noisy[0, 0, 4, 4] = -0.1
    pruned = prune_kernel(noisy, rel_threshold=0.05, min_mass=0.1)
    assert torch.allclose(pruned, k)


def test_refine_fits_a_rough_kernel_to_the_whole_image(gray_case) -> None:
    """A kernel with a third of the true path missing (as a method that drops faint kernel parts gives)
    is completed by the finest level alone, started from it (measured MNC 0.935 -> 0.991)."""
    y, _, k, _ = gray_case
    rough = k.clone()
    path = (k[0, 0] > 0).nonzero()
    drop = path[: len(path) // 3]
    rough[0, 0, drop[:, 0], drop[:, 1]] = 0
    rough = rough / rough.sum()
    history: dict[str, list[float]] = {}
    refined = make_method().level.refine(y, rough, history=history)
    assert refined.shape == k.shape and float(refined.min()) >= 0
    assert float(refined.sum()) == pytest.approx(1.0, abs=1e-5)
    assert len(history["kernel_residual"]) == 5 and set(history["weight_scale"]) == {0.05}
    before, after = float(kernel_mnc(rough, k)), float(kernel_mnc(refined, k))
    assert after > before + 0.03 and after > 0.97, (before, after)


def test_refine_over_pyramid_levels_starts_from_the_shrunk_kernel(gray_case) -> None:
    """With ``levels`` the refinement runs the finest levels of the pyramid coarse to fine, from the given
    kernel shrunk onto the coarsest of them, at the weight scale the method's schedule has there: a wrong
    start (a horizontal line) is pulled to the true kernel."""
    y, _, k, _ = gray_case
    line = torch.zeros_like(k)
    line[0, 0, KSIZE // 2, 1:-1] = 1 / (KSIZE - 2)
    refiner = ClassicRefiner(image_prior=L0Gradient(2e-3), kernel_prior=KernelL2(4.0), levels=3)
    history: dict[str, list[float]] = {}
    refined = refiner.refine(y, line, history=history)
    assert refined.shape == k.shape and float(refined.sum()) == pytest.approx(1.0, abs=1e-5)
    assert refiner.pyramid(KSIZE) == [KSIZE, 7, 5, 5], "four levels: the refinement skips the coarsest"
    assert len(history["kernel_residual"]) == 3 * 5
    assert history["weight_scale"][0] == pytest.approx(1.1**-5), "five alternations of decay 1.1 skipped"
    assert float(kernel_mnc(refined, k)) > float(kernel_mnc(line, k)) + 0.1
    with pytest.raises(InputError, match="levels"):
        ClassicRefiner(image_prior=L0Gradient(2e-3), kernel_prior=KernelL2(4.0), levels=0)


def test_refine_best_keeps_the_draw_that_fits_best(gray_case) -> None:
    """Of several draws each refined, the one whose refinement fits the gradients best is kept: a rough
    true kernel beats a wrong line, wherever it stands among the draws."""
    y, _, k, _ = gray_case
    line = torch.zeros_like(k)
    line[0, 0, KSIZE // 2, 1:-1] = 1 / (KSIZE - 2)
    rough = (k + 0.3 * k.flip(-1)) / 1.3
    refiner = ClassicRefiner(image_prior=L0Gradient(2e-3), kernel_prior=KernelL2(4.0))
    history: dict[str, list[float]] = {}
    refined, index = refiner.refine_best(y, torch.cat([line, rough]), history=history)
    assert index == 1 and float(kernel_mnc(refined, k)) > 0.9
    assert len(history["kernel_residual"]) == 5, "only the kept refinement's curves"
    assert refiner.refine_best(y, torch.cat([rough, line]))[1] == 0


def test_refine_refuses_a_kernel_of_the_wrong_shape_or_size() -> None:
    y = torch.rand(1, 1, 32, 32)
    with pytest.raises(InputError, match=r"\(1, 1, H, W\)"):
        make_method().level.refine(torch.rand(1, 3, 32, 32), torch.ones(1, 1, 5, 5) / 25)
    with pytest.raises(InputError, match=r"\(1, 1, h, w\)"):
        make_method().level.refine(y, torch.ones(5, 5) / 25)
    with pytest.raises(InputError, match="too large"):
        make_method().level.refine(y, torch.ones(1, 1, 17, 17) / 289)


def test_an_input_with_autograd_history_runs_without_warnings(registry) -> None:
    import warnings

    import deblur

    y = torch.rand(1, 1, 40, 40, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = deblur.run(y, "classic", kernel_size=5, registry=registry)
        direct = resolve_method(registry, "classic").build()(y * 1.0, RunContext(kernel_size=5))
    assert not result.image.requires_grad and not direct.kernel.requires_grad
