"""The kernel representation ``gan-latent`` and the prior ``gan-kernel-prior``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deblur.errors import InputError
from deblur.kernels import center, fit_support
from deblur.testing import check_kernel
from deblur_gankernel.prior import GanKernelPrior
from deblur_gankernel.representation import GanLatentKernel, gan_latent
from deblur_gankernel.store import load_encoder, load_generator
from tests.gankernel.conftest import SIZE


def build(weights: dict[str, Path], **params):
    builder = gan_latent(
        generator=str(weights["generator"]), initializer=str(weights["initializer"]), **params
    )
    return builder(SIZE)


def test_spaces_expose_exactly_their_variables(tiny_weights: dict[str, Path]) -> None:
    loaded = load_generator(SIZE, tiny_weights["generator"])
    feature = loaded.network.config.feature_shape
    w = build(tiny_weights, space="w")
    assert [tuple(p.shape) for p in w.parameters()] == [(1, *feature)]
    z = build(tiny_weights, space="z")
    assert [tuple(p.shape) for p in z.parameters()] == [(1, 100)]
    full = build(tiny_weights, space="generator")
    assert len(list(full.parameters())) == 1 + len(list(loaded.network.parameters()))
    for rep in (w, z, full):
        k = rep()
        assert k.shape == (1, 1, SIZE, SIZE) and abs(float(k.detach().sum()) - 1) < 1e-5
        k.sum().backward()  # gradients reach the variables only
        assert all(p.grad is not None for p in rep.parameters())


def test_the_generator_stays_in_eval_mode(tiny_weights: dict[str, Path]) -> None:
    rep = build(tiny_weights).train()
    assert rep.training and not rep.generator.training and not rep.encoder.training
    before = rep().detach()
    torch.testing.assert_close(rep(), before)  # batch-norm running statistics, not batch statistics


def test_initialize_starts_from_the_encoders_kernel(tiny_weights: dict[str, Path]) -> None:
    loaded = load_generator(SIZE, tiny_weights["generator"])
    encoder, _ = load_encoder(SIZE, tiny_weights["initializer"], generator=loaded)
    y = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    for space in ("w", "z"):
        rep = build(tiny_weights, space=space)
        with torch.no_grad():
            average = loaded.network(loaded.average_z)
            torch.testing.assert_close(rep(), average)  # before: the "average" start
            rep.initialize(y)
            z = encoder(rep_window(y, rep))
            torch.testing.assert_close(rep(), loaded.network(z), atol=1e-6, rtol=1e-5)
            assert float((rep() - average).abs().sum()) > 1e-4


def rep_window(y: torch.Tensor, rep) -> torch.Tensor:
    """The most textured 32 px window of the luminance (the tiny initializer's crop), as ``encode`` reads."""
    from deblur.observation import luminance, textured_window

    gray = luminance(y)
    top, left = textured_window(gray, (32, 32))
    return gray[..., top : top + 32, left : left + 32]


def test_average_and_random_starts_ignore_the_observation(tiny_weights: dict[str, Path]) -> None:
    loaded = load_generator(SIZE, tiny_weights["generator"])
    average = build(tiny_weights, init="average")
    assert average.encoder is None
    before = average().detach()
    average.initialize(torch.rand(1, 1, 40, 40))
    torch.testing.assert_close(average(), before)
    torch.testing.assert_close(before, loaded.network(loaded.average_z))
    torch.manual_seed(0)
    random = build(tiny_weights, init="random", space="z")
    assert float((random().detach() - before).abs().sum()) > 1e-4
    with pytest.raises(InputError, match="space must be one of w, z, generator"):
        gan_latent(space="pixels")


def test_prior_samples_projects_and_penalises(tiny_weights: dict[str, Path]) -> None:
    prior = GanKernelPrior(generator=str(tiny_weights["generator"]), steps=50)
    samples = prior.sample(3, SIZE, torch.Generator().manual_seed(0))
    assert samples.shape == (3, 1, SIZE, SIZE)
    torch.testing.assert_close(samples.sum((-2, -1)), torch.ones(3, 1))
    delta = torch.zeros(1, 1, SIZE, SIZE)
    delta[..., 0, 0] = 1.0  # a corner delta: far from any centred motion kernel
    on = float(prior.penalty(samples[:1]))
    off = float(prior.penalty(delta))
    assert on < off
    k = delta.clone().requires_grad_(True)
    prior.penalty(k).backward()
    assert k.grad is not None and float(k.grad.abs().sum()) > 0
    with pytest.raises(InputError, match="square"):
        prior.project(torch.rand(1, 1, 9, 7))


def test_a_smaller_support_is_the_centred_crop_of_the_generators_kernel(
    tiny_weights: dict[str, Path],
) -> None:
    loaded = load_generator(SIZE, tiny_weights["generator"])
    full = GanLatentKernel(loaded.network, loaded.average_z, init="average")
    cropped = GanLatentKernel(loaded.network, loaded.average_z, init="average", size=SIZE - 4)
    with torch.no_grad():
        assert torch.allclose(cropped(), fit_support(center(full()), SIZE - 4))
    check_kernel(cropped(), SIZE - 4)
    with pytest.raises(InputError, match=f"a {SIZE} px generator cannot give {SIZE + 2} px kernels"):
        GanLatentKernel(loaded.network, loaded.average_z, init="average", size=SIZE + 2)
    shipped = gan_latent(init="average")(23)
    assert (shipped.size, shipped.generator.config.size) == (23, 31), "23 px draws on the 31 px generator"
