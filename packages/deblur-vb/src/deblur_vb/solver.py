r"""deblur-vb's components: the one-pass blind solver, the Kernel-Net as a kernel estimator, the
kernel-dependent Deblur-Net as a non-blind solver.

:class:`VBSolver` (the solver ``vb``) is the paper's inference: one forward pass of both networks on the
observation (Sec. 3.2), no optimisation. The kernel posterior is read on the luminance; every colour
channel is restored by Deblur-Net. The :class:`~deblur.result.Result` carries the posterior: the image
mean and its per-pixel standard deviation (``uncertainty``), the Dirichlet's mean kernel and per-tap
standard deviation (``kernel_uncertainty``), ``draws`` samples of both (``samples``,
``kernel_samples``) and the concentrations' total (``config["vb"]["concentration"]``). A support smaller
than the network's is the Dirichlet restricted to it (again a Dirichlet); a larger one is refused (the
network predicts ``size`` px kernels), pointing to ``vb-refine``.

:class:`VBKernelEstimator` (``vb-kernel``, capability ``kernel-estimator``) hands Kernel-Net's mean to
core's kernel-then-image flow, where ``vb-refine`` polishes it with ``classic-refine`` and deconvolves with
core's HQS (neither in the paper). For a support larger than the network's, Kernel-Net reads the
observation downscaled by ``network size / support`` and its kernel is resized up to the support (a
scale-space step, not in the paper), so photos with 50-75 px shake get an estimate at all.

:class:`KDDeblurNet` (``vb-deblurnet``, ``non-blind``): the kernel-dependent Deblur-Net's mean given a
kernel, for any ``nonblind`` slot; a kernel smaller than the network's is zero-padded to it.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from deblur.checks import count, odd_size
from deblur.context import RunContext, torch_threads
from deblur.errors import InputError
from deblur.inputs import check_one_image
from deblur.kernels import center, center_of_mass, fit_support, resize
from deblur.observation import luminance
from deblur.result import Result
from deblur.solvers._common import check_inputs
from deblur.solvers.kernel_then_image import KernelEstimate
from deblur_vb.distributions import crop_concentration, dirichlet_mean
from deblur_vb.model import VBModel
from deblur_vb.store import load_model

__all__ = ["KDDeblurNet", "VBKernelEstimator", "VBSolver", "kernel_mean"]


def _prepare(model: VBModel, y: torch.Tensor) -> torch.Tensor:
    param = next(model.parameters())
    if param.device != y.device:
        model.to(y.device)
    return y.to(param.dtype)


@torch.no_grad()
def kernel_mean(model: VBModel, y: torch.Tensor, size: int) -> torch.Tensor:
    """Kernel-Net's mean kernel (1, 1, size, size) of ``y`` (1, C, H, W), read on the luminance: the
    Dirichlet restricted to ``size`` when it is at most the network's, else on the observation
    downscaled to fit the network and resized back (see the module docstring)."""
    gray = _prepare(model, luminance(y))
    native = model.config.size
    if size <= native:
        return dirichlet_mean(crop_concentration(model.kernel(gray), native, size))
    scale = native / size
    H, W = gray.shape[-2:]
    small = F.interpolate(gray, size=(max(round(H * scale), 16), max(round(W * scale), 16)), mode="area")
    return resize(dirichlet_mean(model.kernel(small)), size)


class VBSolver:
    """The blind solver ``vb`` (see the module docstring).

    Args:
        structure: ``"kf"`` (kernel-free, Eq. 8-9) or ``"kd"`` (kernel-dependent, Eq. 10-11).
        draws: posterior samples of the image and the kernel (0: none; KD's image mean and standard
            deviation are then those given the kernel mean).
        kernel_size: odd support when the run gives none (default: the network's).
        weights: a weight stem instead of the shipped file.
        threads: torch threads during the run (``None``: unchanged).
    """

    def __init__(
        self,
        structure: str = "kf",
        draws: int = 8,
        kernel_size: int | None = None,
        weights: str | Path | None = None,
        threads: int | None = 1,
    ) -> None:
        self.structure, self.weights = structure, weights
        self.draws = count("draws", draws, 0)
        self.kernel_size = None if kernel_size is None else odd_size(kernel_size)
        self.threads = None if threads is None else count("threads", threads, 1)
        self.model, self.card = load_model(structure, 3, weights)  # a bad file fails here, before any work

    def __call__(self, y: torch.Tensor, ctx: RunContext) -> Result:
        check_one_image(y, "vb")
        native = self.model.config.size
        size = next((s for s in (ctx.kernel_size, self.kernel_size) if s is not None), native)
        if size > native:
            raise InputError(
                f"vb's Kernel-Net predicts kernels of at most {native} px, not {size}; "
                "use the method vb-refine (it reads larger blur on a downscaled copy) or --kernel-size"
            )
        if min(y.shape[-2:]) < size:
            raise InputError(
                f"a {size} px kernel needs an image of at least {size}x{size}, got {tuple(y.shape[-2:])}"
            )
        start = time.perf_counter()
        with torch_threads(self.threads), torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.seed)
            ctx.progress("posterior", 1, 1)
            post = self.model.posterior(_prepare(self.model, y), draws=self.draws, support=size)
        return Result(
            image=post.image_mean.to(y.dtype),
            kernel=post.kernel_mean.to(y.dtype),
            kernel_samples=None if post.kernel_samples is None else post.kernel_samples.to(y.dtype),
            kernel_uncertainty=post.kernel_std.to(y.dtype),
            samples=None if post.image_samples is None else post.image_samples.to(y.dtype),
            uncertainty=post.image_std.to(y.dtype),
            timings={"posterior": time.perf_counter() - start},
            config={
                "kernel_size": size,
                "vb": {
                    "structure": self.structure,
                    "draws": self.draws,
                    "concentration": round(float(post.concentration.sum()), 1),
                    "weights": self.card.get("command"),
                },
            },
        )


class VBKernelEstimator:
    """The ``vb-kernel`` estimator: Kernel-Net's mean of the window (see the module docstring).

    Args:
        structure: whose Kernel-Net (``"kf"`` or ``"kd"``).
        weights: a weight stem instead of the shipped file.
    """

    name = "vb"

    def __init__(self, structure: str = "kf", weights: str | Path | None = None) -> None:
        self.structure = structure
        self.model, self.card = load_model(structure, 3, weights)

    def estimate(self, y: torch.Tensor, size: int, ctx: RunContext) -> KernelEstimate:
        ctx.progress("kernel-net", 1, 1)
        k = kernel_mean(self.model, y, size).to(y.dtype)
        native = self.model.config.size
        return KernelEstimate(
            kernel=k,
            config={"structure": self.structure, "downscaled": size > native, "network_size": native},
        )


def _move(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``out(q) = x(q + d)`` for an integer offset ``d`` (rows, cols), edges replicated."""
    dy, dx = (int(v) for v in d.tolist())
    m = max(abs(dy), abs(dx))
    if m == 0:
        return x
    H, W = x.shape[-2:]
    padded = F.pad(x, (m, m, m, m), mode="replicate")
    return padded[..., m + dy : m + dy + H, m + dx : m + dx + W]


class KDDeblurNet:
    """The ``vb-deblurnet`` non-blind solver: ``(y (B, C, H, W), k (1|B, 1, h, w)) -> x``, Deblur-Net's mean.

    Args:
        weights: a weight stem of ``vb-kd`` instead of the shipped file.
        threads: torch threads while restoring (``None``: unchanged).
    """

    def __init__(self, weights: str | Path | None = None, threads: int | None = None) -> None:
        self.weights, self.threads = weights, threads
        self.model, self.card = load_model("kd", 3, weights)

    def __call__(self, y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        if not isinstance(k, torch.Tensor):
            raise InputError("vb-deblurnet takes a kernel tensor, not an operator")
        k = check_inputs(y, k, "same")
        native = self.model.config.size
        if max(k.shape[-2:]) > native:
            raise InputError(f"vb-deblurnet takes kernels of at most {native} px, got {tuple(k.shape[-2:])}")
        # the network was trained on kernels centred by their centre of mass: y = k * x equals the
        # centred kernel applied to x moved by k's offset d, so restore with the centred kernel and
        # move the result back by d
        h, w = k.shape[-2:]
        offset = torch.round(
            center_of_mass(k) - torch.tensor([h // 2, w // 2], dtype=k.dtype, device=k.device)
        )
        with torch_threads(self.threads), torch.no_grad():
            x = _prepare(self.model, y)
            mean, _ = self.model.image(x, fit_support(center(k).to(x.dtype), native))
        if len(offset) == 1:
            return _move(mean, offset[0]).to(y.dtype)
        return torch.cat([_move(mean[i : i + 1], d) for i, d in enumerate(offset)]).to(y.dtype)

    def __repr__(self) -> str:
        return f"KDDeblurNet(weights={self.weights!r})"
