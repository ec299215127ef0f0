r"""DIP-MC: blind deconvolution by a Monte-Carlo approximation of MAP_k (Li, Nan & Ji, Algorithm 1).

The kernel is the MAP_k estimate, :math:`\max_k p(k) \int p(y | x, k)\, p_x(x)\, dx`, with the image
prior :math:`p_x` represented by a randomized generator :math:`G_x` (Eq. 19) and the expectation
replaced by ``samples`` Monte-Carlo draws. With the kernel :math:`k = G_k(z_k; \theta_k)` from any
registered kernel representation, both networks minimise (Eq. 27)

.. math:: \mathcal L(\theta_k, \theta_x) = \frac1N \sum_{i=1}^N
    \tfrac{1}{|y|} \| k \circledast G_x(z_x + \epsilon_i; \theta_x, M_i) - y \|_2^2 + \mu \|k\|_2^2

with the "valid" blur model (the latent is :math:`(H + h - 1) \times (W + w - 1)`, nothing is assumed
outside ``y``) and the data term normalised by the number of observed values, as in SelfDeblur's code.
Every step alternates (Eq. 21): draw :math:`\{\epsilon_i, M_i\}`, take an Adam step on
:math:`\theta_k` with the samples held fixed (Eq. 25), project the kernel (``constrain()``), then an
Adam step on :math:`\theta_x` against the updated kernel (Eq. 26). The two steps share the draw, so one
step costs one forward and one backward pass of :math:`G_x`.

Schedules (fractions of ``steps``; the paper's values at 5000 steps): dropout :math:`p_0` from 0.3 to
0.001 at 0.3 (1.5k), input noise :math:`\sigma_0` from 0.01 (kernels below 31 px) or 0.05 (larger) to
0.001 at 0.7 (3.5k), learning rates (image 1e-2, kernel 1e-4, as Sec. 3.1 and SelfDeblur's code assign
them) halved at 0.6 (3k).

Presets: the method ``dipmc-paper`` is the paper's configuration (whole image, 6 levels x 128 channels,
the U-Net :math:`G_k`, 5000 steps: about 2.5 s a step for a 255 px image on one CPU core, GPU-sized).
The factories' defaults are the CPU preset ``fast`` (method ``dipmc``, which also picks the FCN kernel
generator and one torch thread): the kernel is estimated on a 128 px textured window
(:func:`~deblur.observation.estimation_window`, the region selection the paper names as a speed-up),
:math:`G_x` has 5 levels x 16 channels, the schedule is scaled to 2500 steps (about 0.05 s a step) with
the kernel's learning rate raised to 3e-4 so it travels as far in half the steps (measured on three Levin
images: +2.4, +0.9 and +0.0 dB over 1e-4), and the kernel's softmax floor is cut at 5% of its peak
(a 10% cut scored 0.1 dB less on five Levin images). Every choice is a parameter (``--set``). Measured
and not kept: two random starts trained side by side (one thread each), keeping the one with the lower
final objective (Eq. 27): 31.22 against 31.33 dB on the 32 Levin images at 1.3x the time, because the
objective ranked the worse kernel first on 10 of the 19 images where the starts differed (im04_ker07:
16.6 against 25.5 dB). Coarse-to-fine, a support margin, recentring during training, a larger
window and a start voted by three half-resolution runs were measured on the failing large-kernel images
and not kept either (docs/benchmarks.md).

:class:`DIPMC` is the ``estimator`` of core's kernel-then-image flow
(:class:`~deblur.solvers.kernel_then_image.KernelThenImage`), which owns the rest of the two-stage
protocol of Sec. 3.2: kernel size, luminance (``color``), the estimation window (``crop``), the clean-up
of the estimate (``kernel_threshold``, ``center_kernel``), the optional ``refiner`` and the ``nonblind``
solver on the full observation. The fast preset refines the kernel on the whole image with core's
``classic-refine`` (not in the paper: five alternations of the classic finest level, pruning at 2% of
the peak, about 1 s; it gives back the faint parts of the path that a kernel fitted on a 128 px window
drops, measured on the 32 Levin images, see docs/benchmarks.md); ``dipmc-paper`` has no refiner.
The deterministic output :math:`G_x(z_x; \theta_x)` is returned as ``latent["dip_output"]``, and
``mc_samples`` draws of :math:`G_x` at the final randomness as ``samples`` (the flow crops both to the
window's observation grid and derives the per-pixel standard deviation ``uncertainty``, Fig. 3e).

References:
    Li, Nan & Ji, Un-supervised learning for blind image deconvolution via Monte-Carlo sampling,
    Inverse Problems 38 (2022).
    Ren, Zhang, Wang, Hu & Zuo, Neural blind deconvolution using deep priors, CVPR 2020.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from deblur.checks import count, fraction, positive
from deblur.context import RunContext
from deblur.errors import CompositionError, InputError
from deblur.loop import LoopOutcome, MaxSteps, Plateau, StopCriterion, iterate
from deblur.operators.base import OperatorBuilder
from deblur.operators.uniform import UniformBlur
from deblur.seeding import draw_seed, seeded
from deblur.solvers.kernel_then_image import KernelEstimate

__all__ = ["DIPMC", "MonteCarloMAPk", "Schedule"]

RANDOMIZE = ("both", "dropout", "noise", "none")
LARGE_KERNEL = 31
"""Kernels from this side on start with the larger input noise (paper: 0.05 vs 0.01)."""


@dataclass(frozen=True)
class Schedule:
    r"""Piecewise-constant schedules of Sec. 3.1 as fractions of the run.

    ``dropout`` (:math:`p_0`) and ``noise`` (:math:`\sigma_0`) switch from their first to their second
    value at ``dropout_switch * steps`` and ``noise_switch * steps``; the learning rates are multiplied
    by ``lr_decay`` at ``lr_switch * steps``.
    """

    steps: int
    dropout: tuple[float, float]
    noise: tuple[float, float]
    dropout_switch: float
    noise_switch: float
    lr_switch: float
    lr_decay: float

    def at(self, step: int) -> tuple[float, float, float]:
        """``(p0, sigma0, lr factor)`` at ``step`` (0-based)."""
        t = step / self.steps
        p0 = self.dropout[0] if t < self.dropout_switch else self.dropout[1]
        sigma = self.noise[0] if t < self.noise_switch else self.noise[1]
        lr = 1.0 if t < self.lr_switch else self.lr_decay
        return p0, sigma, lr


class MonteCarloMAPk:
    """The training state of Algorithm 1: generators, optimisers and one alternating :meth:`step`.

    Args:
        image_net: :math:`G_x` (a ``dipmc-image-generator`` module) on ``y``'s latent grid.
        kernel_rep: a kernel representation module (``forward()`` -> kernel, ``constrain()``).
        y: observation (1, C, H, W) on the device of both modules.
        mu: weight of :math:`\\|k\\|_2^2`.
        lr_image, lr_kernel: Adam learning rates of :math:`\\theta_x` and :math:`\\theta_k`.
        samples: Monte-Carlo draws ``N`` per step.
        kernel_steps: Adam steps on :math:`\\theta_k` per step, on the same draws.
        randomize_kernel: also draw :math:`G_k`'s noise and dropout (the Sec. 3.5 ablation).
        forward: builds the blur operator of the data term from the kernel (valid boundary).
    """

    def __init__(
        self,
        image_net: torch.nn.Module,
        kernel_rep: torch.nn.Module,
        y: torch.Tensor,
        *,
        mu: float,
        lr_image: float,
        lr_kernel: float,
        samples: int = 1,
        kernel_steps: int = 1,
        randomize_kernel: bool = False,
        forward: OperatorBuilder = UniformBlur,
    ) -> None:
        self.image_net, self.kernel_rep, self.y, self.forward = image_net, kernel_rep, y, forward
        self.mu, self.samples, self.randomize_kernel = mu, samples, randomize_kernel
        self.kernel_steps = kernel_steps
        self.image_net.train()
        self.kernel_rep.train()
        self.opt_image = torch.optim.Adam(image_net.parameters(), lr=lr_image)
        self.opt_kernel = torch.optim.Adam(kernel_rep.parameters(), lr=lr_kernel)
        self.base_lr = (lr_image, lr_kernel)

    def set_randomness(self, dropout: float, noise: float, lr_factor: float) -> None:
        """Apply a schedule point: :math:`p_0`, :math:`\\sigma_0` and the learning-rate factor."""
        self.image_net.dropout, self.image_net.input_noise = dropout, noise
        if self.randomize_kernel:
            self.kernel_rep.dropout, self.kernel_rep.input_noise = dropout, noise
        for opt, lr in zip((self.opt_image, self.opt_kernel), self.base_lr, strict=True):
            for group in opt.param_groups:
                group["lr"] = lr * lr_factor

    def kernel(self, generator: torch.Generator | None = None, stochastic: bool = False) -> torch.Tensor:
        """The current kernel (1, 1, h, w); a random draw of :math:`G_k` if asked and randomized."""
        if self.randomize_kernel:
            self.kernel_rep.stochastic = stochastic
            self.kernel_rep.generator = generator
        return self.kernel_rep()

    def data_loss(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Mean over the ``N`` draws of the mean squared reblur error."""
        return (self.forward(k)(x) - self.y).square().mean()

    def objective(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """The Monte-Carlo estimate of Eq. 27 for the draws ``x`` (N, C, ...)."""
        return self.data_loss(x, k) + self.mu * k.square().sum()

    def step(self, generator: torch.Generator) -> float:
        """One alternation: kernel step on fresh draws, then image step; returns Eq. 27 before it."""
        x = self.image_net(self.samples, generator=generator, stochastic=True)
        fixed = x.detach()
        losses = []
        for _ in range(self.kernel_steps):
            loss = self.objective(fixed, self.kernel(generator, stochastic=True))
            self.opt_kernel.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_kernel.step()
            self.kernel_rep.constrain()
            losses.append(loss.detach())
        with torch.no_grad():
            k = self.kernel(generator, stochastic=True).detach()
        image_loss = self.data_loss(x, k)
        self.opt_image.zero_grad(set_to_none=True)
        image_loss.backward()
        self.opt_image.step()
        return float(losses[0])


class DIPMC:
    r"""The kernel estimator ``dipmc``: ``DIPMC(image_net=..., kernel_rep=..., **params)``.

    ``estimate(y, size, ctx) -> KernelEstimate`` runs Algorithm 1 on the window ``y`` (see the module).
    Slots: ``image_net`` a builder ``(channels, (H, W), *, generator)`` of a randomized generator
    (``dipmc-image-generator``), ``kernel_rep`` a kernel-representation builder ``(size) -> module``
    (``dipmc-kernel-net``, ``fcn-kernel``, core's ``simplex``, ...), ``forward`` the blur operator of
    Eq. 27's data term (core's ``uniform``, valid boundary). The defaults are the CPU ``fast``
    preset; the method ``dipmc-paper`` sets the paper's values.

    Args:
        steps: iterations ``T`` of Algorithm 1 (the maximum when early stopping).
        samples: Monte-Carlo draws ``N`` per step (paper: 1).
        kernel_steps: Adam steps on :math:`\theta_k` per iteration on the same draws (Eq. 25 is an
            argmin; the paper takes one).
        mu: weight of :math:`\|k\|_2^2` (paper: 1e-4).
        lr_image, lr_kernel: Adam learning rates of :math:`G_x` and of the kernel representation
            (paper: 1e-2 and 1e-4; the fast preset's half-length run takes 3e-4 for the kernel; an explicit
            ``simplex`` kernel wants about 1e-3 to 5e-3).
        lr_switch, lr_decay: the learning rates are multiplied by ``lr_decay`` at ``lr_switch * steps``.
        dropout, dropout_end, dropout_switch: :math:`p_0` schedule (paper: 0.3 -> 0.001 at 0.3).
        noise, noise_end, noise_switch: :math:`\sigma_0` schedule; ``noise="auto"`` is 0.01 for kernels
            below 31 px and 0.05 from 31 px on (paper: -> 0.001 at 0.7).
        randomize: Table 5's ablation: ``"both"`` (the method), ``"dropout"`` (no input noise),
            ``"noise"`` (no dropout), ``"none"`` (a deterministic DIP, Eq. 7).
        randomize_kernel: also randomize the kernel network (Sec. 3.5; needs a representation with
            ``dropout``, ``input_noise``, ``stochastic`` and ``generator`` attributes, as this package's).
        early_stop: stop when the mean loss of the last ``patience`` steps fell by less than this
            fraction of the mean of the ``patience`` before (checked after the noise switch; 0: never).
        patience: the window of ``early_stop``.
        mc_samples: draws of :math:`G_x` kept as ``samples`` (0: none).
    """

    name = "dipmc"

    def __init__(
        self,
        *,
        image_net: Callable[..., torch.nn.Module],
        kernel_rep: Callable[[int], torch.nn.Module],
        forward: OperatorBuilder | None = None,
        steps: int = 2500,
        samples: int = 1,
        kernel_steps: int = 1,
        mu: float = 1e-4,
        lr_image: float = 1e-2,
        lr_kernel: float = 3e-4,
        lr_switch: float = 0.6,
        lr_decay: float = 0.5,
        dropout: float = 0.3,
        dropout_end: float = 0.001,
        dropout_switch: float = 0.3,
        noise: float | str = "auto",
        noise_end: float = 0.001,
        noise_switch: float = 0.7,
        randomize: str = "both",
        randomize_kernel: bool = False,
        early_stop: float = 0.0,
        patience: int = 50,
        mc_samples: int = 8,
    ) -> None:
        for name, part in (("image_net", image_net), ("kernel_rep", kernel_rep)):
            if not callable(part):
                raise CompositionError(f"dipmc slot {name!r} needs a callable, got {part!r}")
        self.image_net, self.kernel_rep = image_net, kernel_rep
        self.forward = UniformBlur if forward is None else forward
        self.steps = count("steps", steps, 1)
        self.samples = count("samples", samples, 1)
        self.kernel_steps = count("kernel_steps", kernel_steps, 1)
        self.mu = positive("mu", mu, allow_zero=True)
        self.lr_image = positive("lr_image", lr_image)
        self.lr_kernel = positive("lr_kernel", lr_kernel)
        self.lr_switch = fraction("lr_switch", lr_switch)
        self.lr_decay = positive("lr_decay", lr_decay)
        self.dropout = (fraction("dropout", dropout), fraction("dropout_end", dropout_end))
        if max(self.dropout) >= 1:
            raise InputError(f"dropout rates must be below 1, got {self.dropout}")
        self.dropout_switch = fraction("dropout_switch", dropout_switch)
        if noise != "auto":
            noise = positive("noise", noise, allow_zero=True)
        self.noise = noise
        self.noise_end = positive("noise_end", noise_end, allow_zero=True)
        self.noise_switch = fraction("noise_switch", noise_switch)
        if randomize not in RANDOMIZE:
            raise InputError(f"randomize must be one of {', '.join(RANDOMIZE)}, got {randomize!r}")
        self.randomize = randomize
        self.randomize_kernel = bool(randomize_kernel)
        self.early_stop = fraction("early_stop", early_stop)
        self.patience = count("patience", patience, 1)
        self.mc_samples = count("mc_samples", mc_samples, 0)

    def params(self) -> dict[str, Any]:
        """The resolved parameters (JSON-serialisable), recorded in ``Result.config["dipmc"]``."""
        return {
            "steps": self.steps,
            "samples": self.samples,
            "kernel_steps": self.kernel_steps,
            "mu": self.mu,
            "lr_image": self.lr_image,
            "lr_kernel": self.lr_kernel,
            "lr_switch": self.lr_switch,
            "lr_decay": self.lr_decay,
            "dropout": list(self.dropout),
            "dropout_switch": self.dropout_switch,
            "noise": self.noise,
            "noise_end": self.noise_end,
            "noise_switch": self.noise_switch,
            "randomize": self.randomize,
            "randomize_kernel": self.randomize_kernel,
            "early_stop": self.early_stop,
            "patience": self.patience,
            "mc_samples": self.mc_samples,
        }

    def schedule(self, kernel_size: int) -> Schedule:
        """The randomness and learning-rate schedule for a kernel of side ``kernel_size``."""
        start = self.noise if self.noise != "auto" else (0.05 if kernel_size >= LARGE_KERNEL else 0.01)
        dropout, noise = self.dropout, (float(start), self.noise_end)
        if self.randomize in ("noise", "none"):
            dropout = (0.0, 0.0)
        if self.randomize in ("dropout", "none"):
            noise = (0.0, 0.0)
        return Schedule(
            self.steps, dropout, noise, self.dropout_switch, self.noise_switch, self.lr_switch, self.lr_decay
        )

    def build(self, y: torch.Tensor, size: int, ctx: RunContext) -> tuple[MonteCarloMAPk, torch.Generator]:
        """The training state for the observation window ``y`` (1, C, H, W) and its random generator."""
        g = ctx.generator()
        H, W = y.shape[-2:]
        latent = (H + size - 1, W + size - 1)
        image_net = self.image_net(y.shape[1], latent, generator=g).to(device=y.device, dtype=y.dtype)
        rep = seeded(draw_seed(g), self.kernel_rep, size).to(device=y.device, dtype=y.dtype)
        if callable(getattr(rep, "initialize", None)):
            rep.initialize(y)  # representations that start from the observation (e.g. a GAN latent)
        if self.randomize_kernel:
            missing = [
                a for a in ("dropout", "input_noise", "stochastic", "generator") if not hasattr(rep, a)
            ]
            if missing:
                raise CompositionError(
                    f"randomize_kernel needs a kernel representation with {', '.join(missing)} "
                    f"({type(rep).__name__} has none); use dipmc-kernel-net or fcn-kernel"
                )
        state = MonteCarloMAPk(
            image_net,
            rep,
            y,
            mu=self.mu,
            lr_image=self.lr_image,
            lr_kernel=self.lr_kernel,
            samples=self.samples,
            kernel_steps=self.kernel_steps,
            randomize_kernel=self.randomize_kernel,
            forward=self.forward,
        )
        return state, g

    def stop(self, schedule: Schedule) -> StopCriterion:
        """``steps`` steps, or earlier on a loss plateau after the noise switch when ``early_stop`` > 0."""
        stop: StopCriterion = MaxSteps(schedule.steps)
        if self.early_stop > 0:
            start = math.ceil(schedule.noise_switch * schedule.steps)
            stop = stop | Plateau(self.early_stop, self.patience, start=start)
        return stop

    def train(
        self, state: MonteCarloMAPk, schedule: Schedule, g: torch.Generator, ctx: RunContext
    ) -> LoopOutcome:
        """Run Algorithm 1; returns the loop's outcome (steps taken, loss history)."""

        def step(t: int) -> dict[str, float]:
            state.set_randomness(*schedule.at(t))
            return {"loss": state.step(g)}

        return iterate(step, self.stop(schedule), stage="dip-mc", progress=ctx.progress)

    def estimate(self, y: torch.Tensor, size: int, ctx: RunContext) -> KernelEstimate:
        """Algorithm 1 on the window ``y`` (1, C, H, W): the kernel, :math:`G_x`'s output and draws."""
        start = time.perf_counter()
        state, g = self.build(y, size, ctx)
        schedule = self.schedule(size)
        setup = time.perf_counter() - start
        outcome = self.train(state, schedule, g, ctx)
        start = time.perf_counter()
        with torch.no_grad():
            k = state.kernel().detach()
            dip_output = state.image_net(1, stochastic=False)
            draws = [state.image_net(1, generator=g, stochastic=True) for _ in range(self.mc_samples)]
        return KernelEstimate(
            kernel=k,
            history=outcome.history,
            latent={"dip_output": dip_output},
            samples=torch.cat(draws) if draws else None,
            config={
                **self.params(),
                "steps_taken": outcome.steps,
                "stopped_early": outcome.steps < self.steps,
            },
            timings={"setup": setup, "samples": time.perf_counter() - start},
        )
