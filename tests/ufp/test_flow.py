"""The flow motion prior: exact inverse, exact log density, the prior's score, samples on the simplex."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from deblur_ufp.flow import ALPHA, FlowConfig, KernelFlow, checkerboard, postprocess, preprocess
from deblur_ufp.networks import load_flow
from deblur_ufp.prior import FlowKernelPrior

from deblur.errors import InputError
from tests.ufp.conftest import SIZE, random_flow, randomise, train_flow


def _kernels(n: int = 4, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """Random taps in [0, 1], about a third of them exactly 0, and a 0 and a 1 in every kernel."""
    g = torch.Generator().manual_seed(seed)
    k = torch.rand(n, 1, size, size, generator=g, dtype=torch.float64)
    k[k < 0.35] = 0
    k[:, 0, 0, 0], k[:, 0, -1, -1] = 0.0, 1.0
    return k


def test_the_random_flow_is_not_the_identity() -> None:
    flow = random_flow()
    k = _kernels()
    x = preprocess(k)[0]
    assert not torch.allclose(flow.encode(k), (x - flow.mean) / flow.std, atol=1e-3)
    assert checkerboard(3, 0).tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert torch.equal(checkerboard(3, 0) + checkerboard(3, 1), torch.ones(9))


def test_decode_inverts_encode_exactly_empty_taps_included() -> None:
    flow = random_flow()
    k = _kernels()
    back = flow.decode(flow.encode(k), normalise=False)
    assert back.shape == k.shape and back.dtype == torch.float64
    assert torch.allclose(back, k, atol=1e-9, rtol=0)
    assert float(back[k == 0].abs().max()) < 1e-15, "an empty tap comes back empty (to rounding)"


def test_encode_inverts_decode_where_no_tap_clamps() -> None:
    flow = random_flow()
    z = torch.randn(256, flow.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = flow.inverse_logits(z)
    z_back, _ = flow.forward_logits(x)
    assert torch.allclose(z_back, z, atol=1e-10)
    assert torch.allclose(flow.inverse_logits(flow.forward_logits(x)[0]), x, atol=1e-10)
    inside = ((x > math.log(ALPHA) + 1) & (x < 11)).all(1)  # no tap clamped at 0, none saturated
    assert int(inside.sum()) >= 32, "the test needs latents whose taps are all inside"
    z_in = z[inside]
    assert torch.allclose(flow.encode(flow.decode(z_in, normalise=False)), z_in, atol=1e-7)


def test_log_prob_is_the_gaussian_density_times_the_jacobian_of_the_whole_map() -> None:
    flow = random_flow(size=3)
    for k in _kernels(n=3, size=3, seed=2):
        flat = k.flatten()

        def f(taps: torch.Tensor) -> torch.Tensor:
            return flow.encode(taps.reshape(1, 1, 3, 3))[0]

        jacobian = torch.autograd.functional.jacobian(f, flat)
        z = f(flat)
        expected = -0.5 * (z.square().sum() + 9 * math.log(2 * math.pi)) + torch.linalg.slogdet(jacobian)[1]
        assert torch.allclose(flow.log_prob(k[None]), expected.reshape(1), atol=1e-9, rtol=0)


def test_the_logit_preprocessing_log_det_is_its_jacobians() -> None:
    k = _kernels(n=2)
    x, log_det = preprocess(k)
    for i in range(2):
        jac = torch.autograd.functional.jacobian(
            lambda t: preprocess(t.reshape(1, 1, SIZE, SIZE))[0][0], k[i].flatten()
        )
        assert torch.allclose(log_det[i], torch.linalg.slogdet(jac)[1], atol=1e-9)
    assert torch.allclose(postprocess(x, SIZE), k, atol=1e-12)


def test_an_empty_tap_decoded_within_the_dequantisation_noise_gets_almost_no_mass() -> None:
    empty = preprocess(torch.zeros(1, 1, SIZE, SIZE, dtype=torch.float64))[0]
    assert torch.equal(postprocess(empty, SIZE), torch.zeros(1, 1, SIZE, SIZE, dtype=torch.float64))
    dequant = 0.5  # the trainer's default
    noise = torch.linspace(-3 * dequant, 3 * dequant, 25, dtype=torch.float64)[None]
    mass = postprocess(empty + noise, SIZE)
    assert float(mass.max()) <= ALPHA * (math.exp(3 * dequant) - 1) * 1.001
    assert float(mass.flatten()[:12].max()) == 0, "below the empty tap's logit the tap clamps to 0"


def test_decoded_kernels_and_samples_lie_on_the_simplex() -> None:
    flow = random_flow()
    z = 2 * torch.randn(16, flow.dim, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    k = flow.decode(z)
    assert k.shape == (16, 1, SIZE, SIZE) and (k >= 0).all()
    assert torch.allclose(k.sum((-2, -1)), torch.ones(16, 1, dtype=torch.float64), atol=1e-12)
    drawn = flow.sample(8, torch.Generator().manual_seed(0))
    assert (drawn >= 0).all() and torch.allclose(drawn.sum((-2, -1)), torch.ones(8, 1, dtype=torch.float64))


def test_shapes_are_checked() -> None:
    flow = random_flow()
    with pytest.raises(InputError, match=r"takes \(B, 1, 5, 5\) kernels"):
        flow.encode(torch.rand(1, 1, 3, 3, dtype=torch.float64))
    with pytest.raises(InputError, match=r"takes \(B, 25\) latents"):
        flow.decode(torch.zeros(1, 9, dtype=torch.float64))
    with pytest.raises(InputError, match="odd"):
        KernelFlow(FlowConfig(4))


def test_the_prior_score_is_the_gradient_of_its_log_prob(tmp_path: Path) -> None:
    stem = train_flow(tmp_path / "flow-5", steps=1).with_suffix("")
    prior = FlowKernelPrior(flow=str(stem))
    flow = prior.flow(SIZE)
    assert flow is load_flow(SIZE, stem)[0], "the prior reads the cached flow of its stem"
    randomise(flow, seed=4).double()  # this stem's cached flow only: far from the identity, in float64
    g = torch.Generator().manual_seed(5)
    k = 0.05 + 0.9 * torch.rand(2, 1, SIZE, SIZE, generator=g, dtype=torch.float64)  # nothing clamps
    assert torch.allclose(prior.log_prob(k), flow.log_prob(k))
    score = prior.score(k)
    assert score.shape == k.shape and not k.requires_grad
    eps = 1e-6
    numeric = torch.zeros_like(k)
    for j in range(SIZE * SIZE):
        step = torch.zeros(SIZE * SIZE, dtype=torch.float64)
        step[j] = eps
        step = step.reshape(1, 1, SIZE, SIZE)
        numeric.view(2, -1)[:, j] = (prior.log_prob(k + step) - prior.log_prob(k - step)) / (2 * eps)
    assert torch.allclose(score, numeric, rtol=1e-5, atol=1e-5)
    assert prior.penalty(k) == pytest.approx(-float(prior.log_prob(k).sum()))
    assert FlowKernelPrior(weight=0.5, flow=str(stem)).penalty(k) == pytest.approx(
        0.5 * float(prior.penalty(k))
    )


def test_prior_samples_are_seeded_kernels_on_the_simplex(tiny_weights: dict[str, Path]) -> None:
    prior = FlowKernelPrior(flow=str(tiny_weights["flow"]))
    a = prior.sample(6, size=SIZE, generator=torch.Generator().manual_seed(0))
    again = prior.sample(6, size=SIZE, generator=torch.Generator().manual_seed(0))
    other = prior.sample(6, size=SIZE, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, 1, SIZE, SIZE) and (a >= 0).all()
    assert torch.allclose(a.sum((-2, -1)), torch.ones(6, 1), atol=1e-5)
    assert torch.equal(a, again) and not torch.allclose(a, other)
    z = prior.encode(a)
    assert z.shape == (6, SIZE * SIZE)
    assert torch.allclose(prior.decode(z, SIZE), a, atol=1e-4)
    with pytest.raises(InputError, match="square"):
        prior.log_prob(torch.rand(1, 1, 5, 3))
