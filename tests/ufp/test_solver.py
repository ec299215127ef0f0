"""The blind solver ``ufp`` through the pipeline: the network, core's HQS on the field, the per-pixel
layout, downscaled estimation, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deblur.data import blur_image, dead_leaves
from deblur.errors import InputError
from deblur.kernels import motion_kernel
from deblur.pipeline import resolve_method, run
from deblur.registry import Registry
from tests.ufp.conftest import SIZE

L = SIZE * SIZE


def _params(weights: dict[str, Path], **solver) -> dict[str, dict]:
    stems = {name: str(weights[name]) for name in ("estimator", "flow", "deblur")}
    return {"solver": {"size": SIZE, **stems, **solver}}


def _observation(channels: int = 1, side: int = 40, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    k = motion_kernel(SIZE, generator=g)
    x = dead_leaves(side + SIZE - 1, g).expand(1, channels, -1, -1).contiguous()
    if channels == 3:
        x = x * torch.tensor([1.0, 0.7, 0.4])[None, :, None, None]
    return blur_image(x, k, noise_sigma=0.005, generator=g)


def _on_the_simplex(field: torch.Tensor) -> bool:
    return bool((field >= 0).all()) and torch.allclose(field.sum(1), torch.ones_like(field[:, 0]), atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_ufp_returns_the_image_a_grid_field_and_the_uncertainty(
    channels: int, registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y = _observation(channels)
    result = run(y, "ufp", kernel_size=SIZE, registry=registry, params=_params(tiny_weights))
    assert result.image.shape == y.shape and torch.isfinite(result.image).all()
    assert result.kernel_field.shape == (1, L, 5, 5), "40 px over cells of about 8 px"
    assert _on_the_simplex(result.kernel_field)
    assert result.uncertainty.shape == (1, channels, 40, 40)
    assert ((result.uncertainty > 0) & (result.uncertainty < 1)).all()
    config = result.config
    assert config["kernel_size"] == SIZE and config["scale"] == 1 and config["grid"] == [5, 5]
    assert config["layout"] == "grid" and 0 < config["mean_sigma"] < 1
    assert {"kernel_estimation", "restoration"} <= set(result.timings)
    again = run(y, "ufp", kernel_size=SIZE, registry=registry, params=_params(tiny_weights))
    assert torch.equal(again.kernel_field, result.kernel_field), "inference draws nothing"


def test_ufp_hqs_deconvolves_the_fields_operator(registry: Registry, tiny_weights: dict[str, Path]) -> None:
    nodes = {n.path: n.entry.name for n in resolve_method(registry, "ufp-hqs").root.walk()}
    assert nodes["nonblind"] == "hqs" and nodes["nonblind.prior"] == "hyper-laplacian"
    y = _observation(3)
    result = run(y, "ufp-hqs", kernel_size=SIZE, registry=registry, params=_params(tiny_weights))
    network = run(y, "ufp", kernel_size=SIZE, registry=registry, params=_params(tiny_weights))
    assert result.image.shape == y.shape and torch.isfinite(result.image).all()
    assert torch.equal(result.kernel_field, network.kernel_field), "the same estimate, another restoration"
    assert not torch.allclose(result.image, network.image, atol=1e-3)


def test_a_larger_kernel_size_is_estimated_downscaled(
    registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y = _observation()
    result = run(y, "ufp-hqs", kernel_size=9, registry=registry, params=_params(tiny_weights))
    assert result.image.shape == y.shape
    field = result.kernel_field
    assert field.shape[:2] == (1, 81) and _on_the_simplex(field), "9 px kernels from the 5 px networks"
    assert field.shape[-2:] == (3, 3), "the grid of the image downscaled by 5/9 (22 px)"
    assert result.config["scale"] == pytest.approx(5 / 9) and result.config["kernel_size"] == 9
    network = run(y, "ufp", kernel_size=9, registry=registry, params=_params(tiny_weights))
    assert network.image.shape == y.shape and network.kernel_field.shape[1] == 81


def test_ufp_paper_decodes_a_kernel_per_pixel(registry: Registry, tiny_weights: dict[str, Path]) -> None:
    y = _observation(side=24)
    result = run(y, "ufp-paper", kernel_size=SIZE, registry=registry, params=_params(tiny_weights))
    assert result.image.shape == y.shape
    assert result.kernel_field.shape == (1, L, 24, 24) and _on_the_simplex(result.kernel_field)
    assert result.uncertainty.shape == (1, 1, 24, 24) and result.config["layout"] == "pixel"


def test_an_image_too_small_for_the_networks_is_refused(
    registry: Registry, tiny_weights: dict[str, Path]
) -> None:
    y = torch.rand(1, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    with pytest.raises(InputError, match="ufp needs at least 10 px per side"):
        run(y, "ufp", kernel_size=3, registry=registry, params=_params(tiny_weights))
