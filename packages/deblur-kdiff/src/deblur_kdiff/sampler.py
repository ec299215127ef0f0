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
``log_prob`` joins the guidance step with :math:`g_p = \nabla_{u_t}[-\log p(\hat k_0)]` (taken through
the decoder, so its ``score`` is not needed), rescaled per draw to ``w`` times the norm of the reblur
step (``w`` times ``s`` without a guide): priors differ by orders of magnitude in scale (a flow's log
density on 961 taps against a Dirichlet's), so ``w`` is the prior's pull relative to the data's, the same
for any prior. Stage II stays the paper's (reblur and sparsity only).

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
        return self.loss is not None or self._prior_on

    @property
    def _prior_on(self) -> bool:
        return self.prior is not None and self.prior_weight > 0

    def step(self, ut: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, float]:
        """The guidance step for ``ut`` (n, 1, s, s), of which the decoded clean estimate ``k`` is a
        function: the gradient of :math:`s L / sg(L)` plus the rescaled prior gradient (module
        docstring), and the mean objective for the history."""
        step = torch.zeros_like(ut)
        shown = 0.0
        reference = torch.full((ut.shape[0],), self.scale, dtype=ut.dtype, device=ut.device)
        if self.loss is not None:
            value = self.loss(k)
            tiny = torch.finfo(value.dtype).tiny
            objective = self.scale * value / value.detach().clamp_min(tiny)
            (step,) = torch.autograd.grad(objective.sum(), ut, retain_graph=self._prior_on)
            reference = step.flatten(1).norm(dim=1)
            shown = float(value.detach().mean())
        if self._prior_on:
            (pull,) = torch.autograd.grad(-self.prior.log_prob(k).sum(), ut)  # type: ignore[union-attr]
            norm = pull.flatten(1).norm(dim=1).clamp_min(torch.finfo(pull.dtype).tiny)
            step = step + (self.prior_weight * reference / norm).view(-1, 1, 1, 1) * pull
        return step, shown


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
            grad, value = guidance.step(ut, decode(u0))  # type: ignore[union-attr]
        u = nxt - grad
        return {"guidance": value}

    iterate(step, MaxSteps(len(order)), stage="reverse diffusion", progress=progress, history=history)
    return u.detach()


def refine(
    k: torch.Tensor,
    loss: ReblurLoss,
    steps: int,
    *,
    sparsity: float = 0.0,
    lr: float = 0.05,
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
