r"""The kernel estimator ``gankernel``: DIP image, GAN-latent kernel, joint Adam (Sec. 3.5, Algorithm 2).

The image is a deep image prior :math:`x = G_x(z_x; \theta_x)` (core's
:class:`deblur.nn.DIPGenerator`, the skip hourglass of SelfDeblur, Ren et al. CVPR 2020, on a fixed
input :math:`z_x \sim \mathcal U(0, 0.1)` perturbed by :math:`\mathcal N(0, 0.001^2)` noise at every
step as in SelfDeblur's code), the kernel comes from the ``kernel_rep`` slot (``gan-latent`` by
default: :math:`k = G_k^{(w)}(w)` with :math:`w_0 = g_1(E(y))`, which this solver sets by calling the
representation's ``initialize(y)``). Both minimise (Eq. 6)

.. math:: \mathcal L(w, \theta_x) = \tfrac{1}{|y|}\,
    \| (G_k^{(w)}(w) \circledast G_x(z_x; \theta_x))_{valid} - y \|_2^2

with the "valid" blur model (the latent is :math:`(H + h - 1) \times (W + w - 1)`; nothing is assumed
outside ``y``) by simultaneous Adam steps on both (Algorithm 2, lines 3-4), the learning rates 5e-4
(kernel variables) and 1e-2 (image network) halved at 40%, 60% and 80% of the run (SelfDeblur's
MultiStepLR at 2000, 3000 and 4000 of 5000 steps).

:class:`GanKernelEstimator` is the ``estimator`` of core's kernel-then-image flow
(:class:`~deblur.solvers.kernel_then_image.KernelThenImage`), which owns the rest: kernel size,
luminance (``color``), the estimation window (``crop``), the clean-up of the estimate and the
``nonblind`` solver on the whole observation (core's ``hqs`` by default). :math:`G_x`'s output is
returned as ``latent["dip_output"]`` (the flow crops it to the window's observation grid).

Presets: the method ``gankernel-paper`` is the paper's configuration (whole image, SelfDeblur's
5 x 128 channels with 16-channel skips, 5000 steps; GPU-sized). The factory's defaults are the CPU
preset (method ``gankernel``, which also estimates the kernel on the luminance of a 128 px textured
window, :func:`deblur.observation.estimation_window`, at least three kernel sides, on one torch thread):
:math:`G_x` has 5 levels of 16 channels (4-channel skips), 1500 steps with the schedule scaled, the
kernel's learning rate 5e-3 (ten times the paper's, for the shorter run).

Kernel size: both methods default to 31 px (``solver.kernel_size``), the size of the first shipped
generator (``gan-latent`` has weights for a few sizes only; see ``deblur_gankernel.store.STORE.sizes``);
the run's ``--kernel-size`` comes first.

References:
    Zhang, Yue, Wang, Zhao & Meng, Blind image deconvolution by generative-based kernel prior and
    initializer via latent encoding, ECCV 2024.
    Ren, Zhang, Wang, Hu & Zuo, Neural blind deconvolution using deep priors, CVPR 2020.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from deblur.checks import count, fraction, positive
from deblur.context import RunContext
from deblur.errors import CompositionError
from deblur.loop import MaxSteps, iterate
from deblur.nn import DIPGenerator, dip_input
from deblur.operators.base import OperatorBuilder
from deblur.operators.uniform import UniformBlur
from deblur.seeding import draw_seed, seeded_weights
from deblur.solvers.kernel_then_image import KernelEstimate

__all__ = ["GanKernelEstimator", "JointDIP"]


class JointDIP:
    """The state of Algorithm 2: image network, its input, the kernel representation, one optimiser.

    Args:
        image_net: :math:`G_x` on the latent grid of ``y``.
        z: its fixed input (1, in_channels, H + h - 1, W + w - 1).
        kernel_rep: a kernel representation module (``forward()`` -> kernel, ``constrain()``).
        y: the observation (window) (1, C, H, W).
        lr_image, lr_kernel: Adam learning rates.
        milestones: steps at which both rates are multiplied by ``gamma``.
        input_noise: std of the noise added to ``z`` at every step.
        forward: builds the blur operator of the data term from the kernel (valid boundary).
    """

    def __init__(
        self,
        image_net: torch.nn.Module,
        z: torch.Tensor,
        kernel_rep: torch.nn.Module,
        y: torch.Tensor,
        *,
        lr_image: float,
        lr_kernel: float,
        milestones: list[int],
        gamma: float,
        input_noise: float,
        forward: OperatorBuilder = UniformBlur,
    ) -> None:
        self.image_net, self.z, self.kernel_rep, self.y = image_net, z, kernel_rep, y
        self.forward = forward
        self.input_noise = input_noise
        self.image_net.train()
        self.kernel_rep.train()
        self.opt = torch.optim.Adam(
            [
                {"params": list(image_net.parameters()), "lr": lr_image},
                {"params": list(kernel_rep.parameters()), "lr": lr_kernel},
            ]
        )
        self.schedule = torch.optim.lr_scheduler.MultiStepLR(self.opt, milestones, gamma)

    def image(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """:math:`G_x(z_x + \\epsilon)`, the noise drawn with ``generator``; :math:`G_x(z_x)` without one."""
        z = self.z
        if generator is not None and self.input_noise > 0:
            z = z + self.input_noise * torch.randn(z.shape, generator=generator, device=generator.device).to(
                z
            )
        return self.image_net(z)

    def loss(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Mean squared reblur error of Eq. 6 (valid boundary)."""
        return (self.forward(k)(x) - self.y).square().mean()

    def step(self, generator: torch.Generator) -> float:
        """One joint Adam step on :math:`\\theta_x` and the kernel variables; returns the loss before it."""
        loss = self.loss(self.image(generator), self.kernel_rep())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.schedule.step()
        self.kernel_rep.constrain()
        return float(loss.detach())


class GanKernelEstimator:
    r"""The kernel estimator ``gankernel``: ``GanKernelEstimator(kernel_rep=..., **params)``.

    ``estimate(y, size, ctx) -> KernelEstimate`` runs Algorithm 2 on the window ``y``. Slot:
    ``kernel_rep`` a kernel-representation builder ``(size) -> module`` (``gan-latent`` by default; any
    other works, and one with ``initialize(y)`` is initialised from the window), ``forward`` the blur
    operator of Eq. 6 (core's ``uniform``, valid boundary). The defaults are the
    CPU preset; ``gankernel-paper`` sets the paper's values.

    Args:
        steps: iterations ``T`` of Algorithm 2.
        lr_image, lr_kernel: Adam learning rates of :math:`G_x` and of the kernel variables
            (paper: 1e-2 and 5e-4; the CPU preset's 1500 steps take 5e-3 for the kernel).
        milestones: fractions of ``steps`` at which both rates are multiplied by ``gamma``
            (SelfDeblur: 0.4, 0.6, 0.8 and 0.5).
        gamma: the decay factor.
        width, levels, skip: :math:`G_x`'s channels per level, number of levels (at most
            ``log2(min side) - 1``) and skip channels (SelfDeblur: 128, 5, 16).
        in_channels: channels of :math:`z_x` (SelfDeblur: 8).
        input_noise: std of the noise added to :math:`z_x` at every step (SelfDeblur: 0.001).
    """

    name = "gankernel"

    def __init__(
        self,
        *,
        kernel_rep: Callable[[int], torch.nn.Module],
        forward: OperatorBuilder | None = None,
        steps: int = 1500,
        lr_image: float = 1e-2,
        lr_kernel: float = 5e-3,
        milestones: tuple[float, ...] = (0.4, 0.6, 0.8),
        gamma: float = 0.5,
        width: int = 16,
        levels: int = 5,
        skip: int = 4,
        in_channels: int = 8,
        input_noise: float = 0.001,
    ) -> None:
        if not callable(kernel_rep):
            raise CompositionError(f"gankernel slot 'kernel_rep' needs a callable, got {kernel_rep!r}")
        self.kernel_rep = kernel_rep
        self.forward = UniformBlur if forward is None else forward
        self.steps = count("steps", steps, 1)
        self.lr_image = positive("lr_image", lr_image)
        self.lr_kernel = positive("lr_kernel", lr_kernel)
        self.milestones = tuple(sorted(fraction("milestones", m) for m in milestones))
        self.gamma = positive("gamma", gamma)
        self.width = count("width", width, 1)
        self.levels = count("levels", levels, 1)
        self.skip = count("skip", skip, 0)
        self.in_channels = count("in_channels", in_channels, 1)
        self.input_noise = positive("input_noise", input_noise, allow_zero=True)

    def params(self) -> dict[str, Any]:
        """The resolved parameters (JSON-serialisable), recorded in ``Result.config["gankernel"]``."""
        return {
            "steps": self.steps,
            "lr_image": self.lr_image,
            "lr_kernel": self.lr_kernel,
            "milestones": list(self.milestones),
            "gamma": self.gamma,
            "width": self.width,
            "levels": self.levels,
            "skip": self.skip,
            "in_channels": self.in_channels,
            "input_noise": self.input_noise,
        }

    def build(self, y: torch.Tensor, size: int, ctx: RunContext) -> tuple[JointDIP, torch.Generator]:
        """The state of Algorithm 2 for the window ``y`` (1, C, H, W), and the run's random generator."""
        g = ctx.generator()
        H, W = y.shape[-2:]
        latent = (H + size - 1, W + size - 1)
        levels = min(self.levels, int(math.log2(min(latent))) - 1)
        with seeded_weights(draw_seed(g)):
            net = DIPGenerator(self.in_channels, y.shape[1], (self.width,) * levels, skip_channels=self.skip)
            rep = self.kernel_rep(size)
        net = net.to(device=y.device, dtype=y.dtype)
        rep = rep.to(device=y.device, dtype=y.dtype)
        if callable(getattr(rep, "initialize", None)):
            rep.initialize(y)
        z = dip_input(self.in_channels, latent, g).to(device=y.device, dtype=y.dtype)
        milestones = sorted({max(1, round(m * self.steps)) for m in self.milestones})
        state = JointDIP(
            net,
            z,
            rep,
            y,
            lr_image=self.lr_image,
            lr_kernel=self.lr_kernel,
            milestones=milestones,
            gamma=self.gamma,
            input_noise=self.input_noise,
            forward=self.forward,
        )
        return state, g

    def estimate(self, y: torch.Tensor, size: int, ctx: RunContext) -> KernelEstimate:
        """Algorithm 2 on the window ``y`` (1, C, H, W): the kernel and :math:`G_x`'s output."""
        start = time.perf_counter()
        state, g = self.build(y, size, ctx)
        setup = time.perf_counter() - start
        outcome = iterate(
            lambda _: {"loss": state.step(g)}, MaxSteps(self.steps), stage="gankernel", progress=ctx.progress
        )
        with torch.no_grad():
            k = state.kernel_rep().detach()
            dip_output = state.image()
        return KernelEstimate(
            kernel=k,
            history=outcome.history,
            latent={"dip_output": dip_output},
            config=self.params(),
            timings={"setup": setup},
        )
