"""The kernel estimator (grid and per-pixel fields, code noise, the direct head), the deblurring network
with kernel attention, and the refusal of a stage trained on another parent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from deblur_ufp.deblurnet import DeblurConfig, DeblurNet, KernelAttention
from deblur_ufp.estimator import EstimatorConfig, KernelEstimator, grid_shape
from deblur_ufp.networks import load_estimator
from deblur_ufp.solver import UFPSolver

from deblur.errors import InputError, WeightsError
from deblur.operators import basis_to_field, grid_weights
from tests.ufp.conftest import SIZE, random_flow

L = SIZE * SIZE


def _images(n: int = 2, shape: tuple[int, int] = (40, 24), seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, *shape, generator=torch.Generator().manual_seed(seed))


def _estimator(**config) -> KernelEstimator:
    torch.manual_seed(0)
    return KernelEstimator(EstimatorConfig(SIZE, (4, 8), cell=8, **config)).eval()


def test_grid_cells_are_about_cell_pixels_within_the_bounds() -> None:
    assert grid_shape((40, 24), 8, 8) == (5, 3)
    assert grid_shape((40, 24), 32, 8) == (1, 1)
    assert grid_shape((400, 12), 8, 8) == (8, 2)


def test_grid_mode_gives_one_kernel_per_cell_on_the_simplex() -> None:
    flow = random_flow(dtype=torch.float32)
    y = _images()
    estimate = _estimator()(y, flow)
    assert estimate.field.shape == (2, L, 5, 3) and estimate.field.shape[-2:] == grid_shape((40, 24), 8, 8)
    assert estimate.sigma.shape == (2, L, 5, 3) and estimate.codes.shape == (2, L, 5, 3)
    assert ((estimate.sigma > 0) & (estimate.sigma < 1)).all()
    assert (estimate.field >= 0).all() and torch.allclose(
        estimate.field.sum(1), torch.ones(2, 5, 3), atol=1e-5
    )
    # each cell's kernel is the flow's decode of the identity component of its code (Eq. 5)
    z = torch.sqrt(1 - estimate.sigma.square()) * estimate.codes
    cell = flow.decode(z[1, :, 2, 1][None])
    assert torch.allclose(estimate.field[1, :, 2, 1], cell.flatten(), atol=1e-6)


def test_pixel_mode_and_the_mode_override_decode_every_pixel() -> None:
    flow = random_flow(dtype=torch.float32)
    y = _images(1, (20, 14))
    pixel = _estimator(mode="pixel")(y, flow)
    assert pixel.field.shape == (1, L, 20, 14) and pixel.sigma.shape == (1, L, 20, 14)
    assert torch.allclose(pixel.field.sum(1), torch.ones(1, 20, 14), atol=1e-5)
    grid = _estimator()
    override = grid(y, flow, mode="pixel")
    assert override.field.shape == (1, L, 20, 14)
    assert torch.allclose(override.field, pixel.field), "the same weights decode per cell or per pixel"
    assert grid(y, flow).field.shape == (1, L, *grid_shape((20, 14), 8, 8))
    with pytest.raises(InputError, match="mode must be one of grid, pixel"):
        grid(y, flow, mode="cells")
    with pytest.raises(InputError, match="gray images"):
        grid(torch.rand(1, 3, 20, 14), flow)
    with pytest.raises(InputError, match="needs the 5 px flow"):
        grid(y, random_flow(size=3, dtype=torch.float32))


def test_code_noise_is_drawn_from_the_generator_and_off_at_inference() -> None:
    flow = random_flow(dtype=torch.float32)
    net, y = _estimator(), _images()
    mean = net(y, flow).field
    assert torch.equal(mean, net(y, flow, sample=False, generator=torch.Generator().manual_seed(0)).field)
    a = net(y, flow, sample=True, generator=torch.Generator().manual_seed(7)).field
    b = net(y, flow, sample=True, generator=torch.Generator().manual_seed(7)).field
    c = net(y, flow, sample=True, generator=torch.Generator().manual_seed(8)).field
    assert (
        torch.equal(a, b) and not torch.allclose(a, mean, atol=1e-4) and not torch.allclose(a, c, atol=1e-4)
    )
    plain = _estimator(uncertainty=False)
    estimate = plain(y, flow, sample=True, generator=torch.Generator().manual_seed(7))
    assert estimate.sigma is None and torch.equal(estimate.field, plain(y, flow).field), "no branch, no noise"


def test_the_direct_head_predicts_softmax_kernels_and_has_no_uncertainty() -> None:
    net = _estimator(head="direct", uncertainty=False)
    estimate = net(_images(), None)
    assert estimate.field.shape == (2, L, 5, 3) and estimate.sigma is None and estimate.codes is None
    assert (estimate.field > 0).all() and torch.allclose(
        estimate.field.sum(1), torch.ones(2, 5, 3), atol=1e-6
    )
    with pytest.raises(InputError, match="uncertainty=false"):
        EstimatorConfig(SIZE, head="direct", uncertainty=True)
    with pytest.raises(InputError, match="head must be one of flow, direct"):
        EstimatorConfig(SIZE, head="softmax")


def _deblur_net(levels: int = 2) -> DeblurNet:
    torch.manual_seed(0)
    config = DeblurConfig(SIZE, width=4, enc_blocks=(1,) * levels, middle_blocks=1, dec_blocks=(1,) * levels)
    net = DeblurNet(config).eval()
    with torch.no_grad():  # NAF blocks start as the identity: give them some effect
        for name, p in net.named_parameters():
            if name.endswith("beta") or name.endswith("gamma"):
                p.normal_(0, 0.5)
    return net


def _field(grid: tuple[int, int], seed: int = 0, batch: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(batch, L, *grid, generator=g), 1)


def test_the_deblurring_network_keeps_odd_sizes_and_shares_one_field_across_channels() -> None:
    net = _deblur_net()
    y = _images(3, (37, 29), seed=1)  # a colour image as a batch of its channels
    field = _field((3, 2))
    with torch.no_grad():
        x = net(y, field)
        assert x.shape == y.shape and torch.isfinite(x).all()
        assert not torch.allclose(x, y, atol=1e-3), "the network changes its input"
        for c in range(3):
            assert torch.allclose(net(y[c : c + 1], field), x[c : c + 1], atol=1e-5), "channels apart"
        per_pixel = net(y, _field((37, 29), seed=2))
        assert per_pixel.shape == y.shape and not torch.allclose(per_pixel, x, atol=1e-4), (
            "it reads the field"
        )
    with pytest.raises(InputError, match="reads 5 px fields, got 9 taps"):
        net(y, torch.rand(1, 9, 3, 2))
    with pytest.raises(InputError, match=r"\(B, 1, H, W\) images"):
        net(torch.rand(1, 3, 16, 16), field)


def test_kernel_attention_on_a_grid_field_equals_it_on_the_interpolated_per_pixel_field() -> None:
    torch.manual_seed(0)
    attention = KernelAttention(4, L).double()
    x = torch.randn(2, 4, 13, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grid = _field((3, 2), seed=3).double()
    kernels = grid[0].flatten(1).T.reshape(-1, 1, SIZE, SIZE)  # cell i * Gw + j, as grid_blur reads it
    per_pixel = basis_to_field(kernels, grid_weights((3, 2), (13, 10)).double())
    assert per_pixel.shape == (1, L, 13, 10)
    # grid_weights are float32: exact to their rounding; in float64 throughout, exact to float64's
    assert torch.allclose(attention(x, grid, (13, 10)), attention(x, per_pixel, (13, 10)), atol=1e-6, rtol=0)
    interpolated = torch.nn.functional.interpolate(grid, size=(13, 10), mode="bilinear", align_corners=False)
    assert torch.allclose(
        attention(x, grid, (13, 10)), attention(x, interpolated, (13, 10)), atol=1e-12, rtol=0
    )
    nearest = torch.nn.functional.interpolate(grid, size=(13, 10), mode="nearest")
    assert not torch.allclose(attention(x, grid, (13, 10)), attention(x, nearest, (13, 10)), atol=1e-6), (
        "the layout matters"
    )


def test_a_one_level_network_reads_a_grid_field_as_its_interpolated_per_pixel_field() -> None:
    net = _deblur_net(levels=1).double()
    y = _images(2, (36, 28), seed=4).double()  # a multiple of the network's stride: no padding
    grid = _field((3, 2), seed=5).double()
    per_pixel = torch.nn.functional.interpolate(grid, size=(36, 28), mode="bilinear", align_corners=False)
    with torch.no_grad():
        assert torch.allclose(net(y, grid), net(y, per_pixel), atol=1e-12, rtol=0)


def test_an_estimator_trained_through_another_flow_is_refused(tiny_weights: dict[str, Path]) -> None:
    estimator, flow, card = load_estimator(SIZE, tiny_weights["estimator"], tiny_weights["flow"])
    assert (
        flow is not None
        and flow.size == SIZE
        and not estimator.training
        and card["architecture"]["size"] == SIZE
    )
    with pytest.raises(WeightsError, match="trained on the flow") as info:
        load_estimator(SIZE, tiny_weights["estimator"], tiny_weights["other_flow"])
    assert "deblur train ufp-estimator" in str(info.value)


def test_a_deblurring_network_trained_on_another_estimator_is_refused(tiny_weights: dict[str, Path]) -> None:
    stems = {k: str(tiny_weights[k]) for k in ("estimator", "flow", "deblur")}
    solver = UFPSolver(size=SIZE, **stems)
    assert solver.network is not None and solver.params()["layout"] == "grid"
    with pytest.raises(WeightsError, match="trained on the estimator"):
        UFPSolver(size=SIZE, **{**stems, "estimator": str(tiny_weights["other_estimator"])})
    with pytest.raises(WeightsError, match="trained on the flow"):
        UFPSolver(size=SIZE, **{**stems, "flow": str(tiny_weights["other_flow"])})
    with pytest.raises(InputError, match="layout must be one of grid, pixel"):
        UFPSolver(size=SIZE, layout="cells", **stems)


def test_a_grid_field_is_placed_on_the_image_not_on_its_padding() -> None:
    torch.manual_seed(0)
    attention = KernelAttention(4, L).double()
    g = torch.Generator().manual_seed(1)
    padded = torch.randn(1, 4, 40, 32, generator=g, dtype=torch.float64)  # a 37 x 29 image padded to 8
    grid = _field((3, 2), seed=3).double()
    on_padding = attention(padded, grid, (37, 29))
    on_image = attention(padded[..., :37, :29], grid, (37, 29))
    # two 3x3 convolutions: the last two rows and columns also see the padding
    assert torch.allclose(on_padding[..., :35, :27], on_image[..., :35, :27], atol=1e-12, rtol=0)
    stretched = attention(padded, grid, (40, 32))
    assert not torch.allclose(stretched[..., :35, :27], on_image[..., :35, :27], atol=1e-6)


def test_extreme_codes_and_sigmas_stay_finite_through_the_flow() -> None:
    estimator = _estimator()
    with torch.no_grad():
        estimator.head.bias.fill_(1e3)  # codes and sigmas far beyond their range
    y = _images(1, (32, 32))
    estimate = estimator(y, random_flow(dtype=torch.float32), sample=True, generator=torch.Generator())
    assert bool(torch.isfinite(estimate.field).all()) and float(estimate.sigma.detach().max()) < 1
    estimate.field.sum().backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in estimator.parameters() if p.grad is not None)
