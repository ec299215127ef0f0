r"""Guided reverse sampling of the kernel (Algorithm 1) and its Stage II refinement.

**Stage I** (lines 2-10). From :math:`u_T \sim \mathcal N(0, I)`, every reverse step predicts the noise,
forms the clean estimate :math:`\hat u_0` (Eq. 19), takes the posterior step to :math:`u_{t-1/2}`
(Eq. 18) and, with a guide, steps against the reblur loss of the non-blind solver's deconvolution
(Eq. 20, line 9):

.. math:: u_{t-1} = u_{t-1/2} - \delta\,\nabla_{u_t} \|y - \hat k_0 \circledast F(y, \hat k_0)\|^2,
    \qquad \delta = \frac{s}{\|y - \hat k_0 \circledast F(y, \hat k_0)\|^2}

with :math:`\hat k_0` the decoded :math:`\hat u_0` and the paper's :math:`s = 0.1` (Eq. 33, per sample):
the step is :math:`s\,\nabla \log L`, weak while the estimate is poor, strong near the solution. The
reblur is compared on the interior only (:class:`ReblurLoss`: a "valid" reblur of the deconvolution
against the matching crop of ``y``), since the border of a deconvolution is not data. ``n`` samples run
in one batch; a respaced schedule (:meth:`~deblur_kdiff.diffusion.Schedule.respaced`) runs the same
network in fewer steps.

**Kernel prior** (composition, not in the paper; weight 0 is the paper): a prior with a differentiable
``log_prob`` adds :math:`w \nabla_{u_t} \log p(\hat k_0)` to the guidance step (its ``score`` is not
needed: the gradient is taken through the decoder) and :math:`-w \log p(k)` to Stage II's objective.

**Stage II** (lines 11-14): ``J`` projected gradient steps on the kernel itself, on the reblur loss plus
an L1 sparsity term in peak units, :math:`\lambda L_0 \sum k / \max k` (:math:`L_0` the reblur loss of the
starting kernel, so :math:`\lambda` is relative; on the simplex :math:`\sum k = 1`, so the term rewards a
high peak: few, strong taps), with backtracking: a step that does not lower the
objective is halved until it does, or not taken, so the objective never rises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from deblur.context import Progress, silent
from deblur.loop import MaxSteps, iterate
from deblur.operators.uniform import UniformBlur
from deblur_kdiff.diffusion import Schedule, decode

__all__ = ["Guidance", "KernelPrior", "ReblurLoss", "refine", "reverse"]

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``(u_t (n, 1, s, s), t (n,), cond) -> predicted noise``, e.g. a ``network.KernelDenoiser``."""


class KernelPrior:
    """What the ``kernel_prior`` slot holds: anything with ``log_prob(k (n, 1, s, s)) -> (n,)``."""

    def log_prob(self, k: torch.Tensor) -> torch.Tensor: ...


class ReblurLoss:
    """:math:`\\|y - k \\circledast F(y, k)\\|^2` per kernel, on the interior of the window ``y``.

    Args:
        y: the (gray) observation (1, 1, H, W), larger than the kernel.
        solver: a non-blind solver ``(y, k) -> x``, differentiable with respect to ``k``.
    """

    def __init__(self, y: torch.Tensor, solver: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        self.y, self.solver = y, solver

    def __call__(self, k: torch.Tensor) -> torch.Tensor:
        """Per-kernel mean squared interior residual, shape ``(n,)``, for kernels ``(n, 1, s, s)``."""
        n, s = k.shape[0], k.shape[-1]
        y = self.y.expand(n, -1, -1, -1)
        x = self.solver(y, k)
        r = s // 2
        interior = y[..., r : y.shape[-2] - r, r : y.shape[-1] - r]
        return (UniformBlur(k, "valid")(x) - interior).square().flatten(1).mean(1)


@dataclass
class Guidance:
    """The guided part of a reverse step: the reblur loss (Eq. 20, 33) and an optional kernel prior."""

    loss: ReblurLoss | None = None
    scale: float = 0.1
    prior: KernelPrior | None = None
    prior_weight: float = 0.0

    @property
    def active(self) -> bool:
        return self.loss is not None or (self.prior is not None and self.prior_weight > 0)

    def objective(self, k: torch.Tensor) -> torch.Tensor:
        """The per-sample quantity whose gradient the step descends: ``s L / sg(L) - w log p``."""
        total = k.new_zeros(k.shape[0])
        if self.loss is not None:
            value = self.loss(k)
            total = total + self.scale * value / value.detach().clamp_min(torch.finfo(value.dtype).tiny)
        if self.prior is not None and self.prior_weight > 0:
            total = total - self.prior_weight * self.prior.log_prob(k)
        return total


def reverse(
    model: Denoiser,
    cond: torch.Tensor,
    schedule: Schedule,
    n: int,
    size: int,
    generator: torch.Generator,
    *,
    clip: bool = True,
    guidance: Guidance | None = None,
    progress: Progress = silent,
    history: dict[str, list[float]] | None = None,
) -> torch.Tensor:
    """Stage I: ``n`` kernel samples ``u_0`` (n, 1, size, size) in the network's range (decode for kernels).

    ``cond`` is the observation encoding, one (broadcast to every sample) or ``n``. ``clip`` clips
    :math:`\\hat u_0` to [-1, 1] before the posterior step (not in the paper's equations; common DDPM
    practice). Noise is drawn on the CPU from ``generator``, so a seed gives the same kernels anywhere.
    """
    device = cond.device
    u = torch.randn((n, 1, size, size), generator=generator).to(device, cond.dtype)
    cond = cond.expand(n, *cond.shape[1:]) if cond.shape[0] == 1 else cond
    guided = guidance is not None and guidance.active
    order = list(range(len(schedule) - 1, -1, -1))

    def step(j: int) -> dict[str, float]:
        nonlocal u
        i = order[j]
        index = torch.full((n,), i, dtype=torch.long)
        with torch.set_grad_enabled(guided):
            ut = u.detach().requires_grad_(guided)
            eps = model(ut, schedule.steps[index].to(device), cond)
            u0 = schedule.predict_u0(ut, index.to(device), eps)
            nxt = schedule.step(ut.detach(), i, u0.detach().clamp(-1, 1) if clip else u0.detach(), generator)
            if not guided:
                u = nxt
                return {}
            objective = guidance.objective(decode(u0))  # type: ignore[union-attr]
            (grad,) = torch.autograd.grad(objective.sum(), ut)
        u = nxt - grad
        return {"guidance": float(objective.detach().mean())}

    iterate(step, MaxSteps(len(order)), stage="reverse diffusion", progress=progress, history=history)
    return u.detach()


def refine(
    k: torch.Tensor,
    loss: ReblurLoss,
    steps: int,
    *,
    sparsity: float = 0.0,
    lr: float = 0.05,
    prior: KernelPrior | None = None,
    prior_weight: float = 0.0,
    progress: Progress = silent,
    history: dict[str, list[float]] | None = None,
) -> torch.Tensor:
    """Stage II on one kernel ``k`` (1, 1, s, s): ``steps`` backtracking projected gradient steps.

    Each step moves ``k`` by at most a fraction ``lr`` of its norm along the negative gradient, projects
    onto the simplex (clip at zero, renormalise), and halves the move (up to 6 times) until the objective
    falls; a step that cannot lower it is skipped, so the objective never rises.
    """

    with torch.no_grad():
        weight = sparsity * float(loss(k).sum())  # lambda relative to the starting reblur loss

    def objective(kernel: torch.Tensor) -> torch.Tensor:
        value = loss(kernel)
        if weight > 0:
            value = value + weight * (kernel.sum((-2, -1)) / kernel.amax((-2, -1))).flatten()
        if prior is not None and prior_weight > 0:
            value = value - prior_weight * prior.log_prob(kernel)
        return value.sum()

    k = k.detach().clone()
    rate = lr

    def step(_: int) -> dict[str, float]:
        nonlocal k, rate
        kernel = k.requires_grad_(True)
        with torch.enable_grad():
            current = objective(kernel)
            (grad,) = torch.autograd.grad(current, kernel)
        k = k.detach()
        direction = grad * (k.norm() / grad.norm().clamp_min(torch.finfo(grad.dtype).tiny))
        with torch.no_grad():
            for _ in range(7):
                candidate = (k - rate * direction).clamp_min(0)
                candidate = candidate / candidate.sum().clamp_min(torch.finfo(k.dtype).tiny)
                value = objective(candidate)
                if value < current:
                    k, rate = candidate, min(rate * 1.5, lr)
                    return {"refine": float(value)}
                rate /= 2
        return {"refine": float(current.detach())}

    if steps > 0:
        iterate(step, MaxSteps(steps), stage="kernel refinement", progress=progress, history=history)
    return k.detach()
