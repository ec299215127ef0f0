"""Guided reverse sampling (Algorithm 1), Stage II, and the ``kernel_prior`` composition slot."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch
from deblur_kdiff.diffusion import Schedule, decode, encode
from deblur_kdiff.sampler import Guidance, ReblurLoss, refine, reverse

from deblur.data import blur_image, dead_leaves
from deblur.errors import InputError
from deblur.kernels import motion_kernel
from deblur.metrics import kernel_mnc
from deblur.priors.kernel import KernelSparsity
from deblur.solvers.wiener import WienerDeconvolver

SIZE = 9


class Oracle:
    r"""A denoiser that knows a clean kernel ``u0``: its noise is what separates ``u_t`` from it.

    With ``doubt`` m > 0 it predicts only ``1 - m`` of that noise, so its clean estimate
    :math:`(1 - m) u_0 + m u_t / \sqrt{\bar\alpha_t}` depends on ``u_t`` and guidance can move it.
    """

    def __init__(self, u0: torch.Tensor, bias: float = 0.0, doubt: float = 0.0) -> None:
        self.u0, self.bias, self.doubt = u0, bias, doubt
        self.alpha_bar = Schedule.linear().alpha_bar

    def __call__(self, ut: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        ab = self.alpha_bar[t].to(ut.dtype).view(-1, 1, 1, 1)
        target = self.u0 + self.bias * (torch.rand_like(self.u0) - 0.5)
        return (1 - self.doubt) * (ut - ab.sqrt() * target) / (1 - ab).sqrt()


def _problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    k = motion_kernel(SIZE, generator=g)
    x = dead_leaves(48, generator=g)
    return blur_image(x, k, boundary="same", noise_sigma=0.005, generator=g), k


def test_an_oracle_denoiser_recovers_the_kernel_guided_and_unguided() -> None:
    y, k = _problem()
    schedule = Schedule.linear().respaced(25)
    oracle = Oracle(encode(k))
    cond = torch.zeros(1, 1, SIZE, SIZE)
    plain = decode(reverse(oracle, cond, schedule, 3, SIZE, torch.Generator().manual_seed(0)))
    assert (kernel_mnc(plain, k.expand(3, -1, -1, -1)) > 0.999).all()
    guide = Guidance(ReblurLoss(y, WienerDeconvolver(balance=1e-3)), scale=0.1)
    doubtful = Oracle(encode(k), doubt=0.3)
    guided = decode(
        reverse(doubtful, cond, schedule, 3, SIZE, torch.Generator().manual_seed(0), guidance=guide)
    )
    assert (kernel_mnc(guided, k.expand(3, -1, -1, -1)) > 0.9).all()


def test_guidance_pulls_a_wrong_denoiser_towards_the_observation() -> None:
    y, _ = _problem(1)
    schedule = Schedule.linear().respaced(25)
    wrong = torch.zeros(1, 1, SIZE, SIZE)
    wrong[..., SIZE // 2, 1:-1] = 1 / (SIZE - 2)  # a horizontal line, not the true kernel
    oracle = Oracle(encode(wrong), doubt=0.5)
    loss = ReblurLoss(y, WienerDeconvolver(balance=1e-3))
    cond = torch.zeros(1, 1, SIZE, SIZE)
    plain = decode(reverse(oracle, cond, schedule, 2, SIZE, torch.Generator().manual_seed(0)))
    guided = decode(
        reverse(
            oracle,
            cond,
            schedule,
            2,
            SIZE,
            torch.Generator().manual_seed(0),
            guidance=Guidance(loss, scale=2.0),
        )
    )
    assert (loss(guided) < loss(plain)).all()


def test_stage_two_never_accepts_a_step_that_raises_the_objective() -> None:
    y, k = _problem(2)
    loss = ReblurLoss(y, WienerDeconvolver(balance=1e-3))
    start = decode(
        encode(k) + 0.6 * torch.randn(1, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    )
    history: dict[str, list[float]] = {}
    out = refine(start, loss, 25, sparsity=0.1, lr=0.3, history=history)
    values = history["refine"]
    assert len(values) == 25 and all(b <= a for a, b in pairwise(values))
    assert float(loss(out)) < float(loss(start))
    assert (out >= 0).all() and torch.allclose(out.sum(), torch.tensor(1.0))


def test_the_same_seed_draws_the_same_kernels() -> None:
    y, k = _problem(3)
    schedule = Schedule.linear().respaced(10)
    oracle = Oracle(encode(k), bias=0.5, doubt=0.3)
    guide = Guidance(ReblurLoss(y, WienerDeconvolver()), scale=0.1)

    def draw(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)  # the oracle's bias uses the global generator
        return reverse(
            oracle, torch.zeros(1), schedule, 2, SIZE, torch.Generator().manual_seed(seed), guidance=guide
        )

    assert torch.equal(draw(4), draw(4)) and not torch.equal(draw(4), draw(5))


def test_a_kernel_prior_with_log_prob_joins_the_guidance() -> None:
    _, k = _problem(4)
    schedule = Schedule.linear().respaced(10)
    oracle = Oracle(encode(k), bias=1.0, doubt=0.5)
    prior = KernelSparsity(weight=1.0, p=0.5)
    only_prior = Guidance(prior=prior, prior_weight=50.0)
    assert only_prior.active and not Guidance(prior=prior, prior_weight=0.0).active

    def draw(guidance: Guidance | None) -> torch.Tensor:
        torch.manual_seed(0)
        return decode(
            reverse(
                oracle, torch.zeros(1), schedule, 4, SIZE, torch.Generator().manual_seed(0), guidance=guidance
            )
        )

    assert (prior.log_prob(draw(only_prior)) > prior.log_prob(draw(None))).all()


def test_the_prior_pull_is_relative_to_the_reblur_step_whatever_the_priors_scale() -> None:
    """A prior scaled by 1000 pulls exactly as hard: the weight is relative to the data's step."""
    y, k = _problem(4)
    ut = (encode(k) + 0.3).requires_grad_(True)
    loss = ReblurLoss(y, WienerDeconvolver())

    def step(scale: float, weight: float) -> torch.Tensor:
        guide = Guidance(loss, 0.1, KernelSparsity(weight=scale, p=0.5), weight)
        return guide.step(ut, decode(ut))[0]

    data = step(1.0, 0.0)
    assert torch.allclose(step(1.0, 0.5), step(1000.0, 0.5), rtol=1e-4, atol=1e-9)
    pull = step(1.0, 0.5) - data
    assert torch.allclose(pull.norm(), 0.5 * data.norm(), rtol=1e-4)


def test_reblur_loss_compares_the_interior_only() -> None:
    y, k = _problem(5)
    loss = ReblurLoss(y, WienerDeconvolver(balance=1e-4))
    spoiled = y.clone()
    spoiled[..., :2, :] = 1.0  # a border the interior comparison must not see
    moved = ReblurLoss(spoiled, WienerDeconvolver(balance=1e-4))
    assert loss(k).shape == (1,)
    assert float(moved(k)) < 10 * float(loss(k)) + 1e-4
    with pytest.raises(InputError, match="larger than"):
        loss(torch.ones(1, 1, 61, 61) / 61**2)  # a kernel larger than the window
