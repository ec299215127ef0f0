r"""``deblur train vb-kf`` and ``deblur train vb-kd``: Deblur-Net and Kernel-Net by the ELBO (Eq. 17).

Every step draws fresh training tuples :math:`(x, y, k)` (core's :class:`~deblur.data.BlurredCrops`:
dead leaves, rendered text and scikit-image's photos, each blurred "valid" by its own camera-shake
trajectory kernel of path length ``length`` x size, Gaussian noise of std up to ``noise``, the paper's
Text set's 7/255 by default) and takes one Adam step on the negative ELBO, Eq. 13 (``vb-kf``) or Eq. 14
(``vb-kd``), of the batch (:func:`deblur_vb.elbo.elbo_terms`). ``--set objective=mse`` trains the same
networks on the mean squared error instead: the paper's MSE_KF and MSE_KD baselines (Table 1).

The optimiser follows Sec. 4.1 (Adam, default betas); the ``paper`` preset's learning rate steps from
1e-4 to 1e-5 and 1e-6 (at 60% and 90% of the run: the paper lowers it "as the loss becomes stable"), the
``fast`` one falls from 1e-3 by a cosine. The card's held-out metrics (tuples from ``seed + 1_000_003``):
PSNR of the blurry and of the restored crops, the kernel MNC and the fraction of true pixels and taps
within two posterior standard deviations.

Presets: ``fast`` (the default, about an hour on one CPU core: Deblur-Net 24 channels, 3 scales, one
ResBlock each; Kernel-Net 16-64 channels; 64 px crops) and ``paper`` (64 channels, 4 scales of 4 ResBlocks
(Table 1's network), Kernel-Net 64-512 channels, 256 px crops, for a GPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from deblur.checks import count, positive, value_range
from deblur.context import torch_threads
from deblur.data.synthetic import BlurredCrops
from deblur.errors import InputError
from deblur.metrics import psnr
from deblur.training import AdamRun, Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_vb.elbo import Hyper, elbo_terms, mse_terms
from deblur_vb.model import VBConfig, VBModel
from deblur_vb.store import STORE

__all__ = ["OBJECTIVES", "PRESETS", "SETTINGS", "VBTraining", "evaluate", "train"]

HELD_OUT = 1_000_003
OBJECTIVES = ("elbo", "mse")
#: Kernel-Net's total concentration: learned (the default), or the prior's c (see deblur_vb.networks).
CONCENTRATIONS = ("learned", "fixed")
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {
        "width": 24, "scales": 3, "blocks": 1, "kernel_width": 16, "kernel_stages": 4,
        "kernel_blocks": 1, "kernel_max_width": 64, "crop": 64, "batch": 8, "lr": 1e-3,
        "schedule": "cosine", "steps": 10_000,
    },
    "paper": {
        "width": 64, "scales": 4, "blocks": 4, "kernel_width": 64, "kernel_stages": 4,
        "kernel_blocks": 2, "kernel_max_width": 512, "crop": 256, "batch": 16, "lr": 1e-4,
        "schedule": "step", "steps": 300_000,
    },
}  # fmt: skip
SETTINGS: dict[str, Any] = {
    "preset": "fast",
    **{name: None for name in PRESETS["fast"] if name != "steps"},
    "objective": "elbo",
    "sigma_sq": 1e-5,
    "eps0_sq": 1e-6,
    "c": 2e4,
    "prior_floor": 0.05,
    "kernel_code": 64,
    "concentration": None,
    "draws": 1,
    "noise": [0.0, 7 / 255],
    "length": [0.3, 1.0],
    "sources": ["dead_leaves", "text", "photos"],
    "checkpoint_every": 100,
    "eval_pairs": 32,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value (``concentration``: see
:data:`CONCENTRATIONS`)."""


class VBTraining(AdamRun):
    """The state of a run: both networks (one :class:`VBModel`), Adam, data, generator, losses."""

    def __init__(
        self,
        config: VBConfig,
        data: BlurredCrops,
        g: torch.Generator,
        *,
        hyper: Hyper,
        objective: str,
        batch: int,
        lr: float,
        schedule: str,
        steps: int,
        draws: int,
        device: torch.device,
    ) -> None:
        self.data, self.hyper, self.objective = data, hyper, objective
        self.batch, self.draws, self.kind = batch, draws, schedule
        losses = (
            ("loss", "nll", "kl_image", "kl_kernel")
            if objective == "elbo"
            else ("loss", "mse_image", "mse_kernel")
        )
        super().__init__(
            config, lambda: VBModel(config), g, lr=lr, steps=steps, device=device, losses=losses, clip=10.0
        )

    def schedule(self) -> None:
        if self.kind == "cosine":
            return super().schedule()
        done = self.step_count / self.steps
        for group in self.opt.param_groups:
            group["lr"] = self.lr * (1.0 if done < 0.6 else 0.1 if done < 0.9 else 0.01)

    def losses(self, y: torch.Tensor, sharp: torch.Tensor, k: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch means of the objective's terms (ELBO terms in units of 1 / (2 eps0^2), see below)."""
        net: VBModel = self.network  # type: ignore[assignment]
        if self.objective == "mse":
            terms = {n: v.mean() for n, v in mse_terms(y, sharp, k, net.deblur, net.kernel).items()}
            return {"loss": terms["mse_image"] + terms["mse_kernel"], **terms}
        terms = {
            n: v.mean()
            for n, v in elbo_terms(y, sharp, k, net.deblur, net.kernel, self.hyper, self.draws).items()
        }
        # one unit = the image term of a unit squared error: keeps gradient clipping meaningful
        unit = 2 * self.hyper.eps0_sq
        return {"loss": unit * sum(terms.values()), **terms}

    def step(self) -> None:
        self.schedule()
        y, k, sharp = self.data.triples(self.batch, self.g)
        y, k, sharp = y.to(self.device), k.to(self.device), sharp.to(self.device)
        self.network.train()
        seed = int(torch.randint(2**62, (1,), generator=self.g))
        with torch.random.fork_rng(devices=[]):  # the Dirichlet draws follow the run's generator
            torch.manual_seed(seed)
            terms = self.losses(y, sharp, k)
        self.update(terms["loss"], **terms)


def coverage(truth: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> float:
    """Fraction of ``truth`` within ``mean +- 2 std``."""
    return float(((truth - mean).abs() <= 2 * std).double().mean())


@torch.no_grad()
def evaluate(
    network: nn.Module, data: BlurredCrops, seed: int, n: int, device: torch.device
) -> dict[str, float]:
    """Held-out figures (see the module docstring) of ``n`` tuples drawn from ``seed + HELD_OUT``."""
    from deblur.metrics import kernel_mnc

    g = torch.Generator().manual_seed(seed + HELD_OUT)
    y, k, sharp = (t.to(device) for t in data.triples(n, g))
    network.eval()
    post = network.posterior(y)
    return {
        "heldout_psnr_blurry": round(float(psnr(y.clamp(0, 1), sharp).mean()), 2),
        "heldout_psnr": round(float(psnr(post.image_mean.clamp(0, 1), sharp).mean()), 2),
        "heldout_kernel_mnc": round(float(kernel_mnc(post.kernel_mean, k).mean()), 3),
        "heldout_image_coverage_2std": round(coverage(sharp, post.image_mean, post.image_std), 3),
        "heldout_kernel_coverage_2std": round(coverage(k, post.kernel_mean, post.kernel_std), 3),
    }


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], VBConfig, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    for name in preset:
        if name != "steps" and s[name] is None:
            s[name] = preset[name]
    if s["objective"] not in OBJECTIVES:
        raise InputError(f"objective must be one of {', '.join(OBJECTIVES)}, got {s['objective']!r}")
    if s["schedule"] not in ("cosine", "step"):
        raise InputError(f"schedule must be 'cosine' or 'step', got {s['schedule']!r}")
    for name in ("width", "scales", "blocks", "kernel_width", "kernel_stages", "kernel_blocks",
                 "kernel_max_width", "crop", "batch", "kernel_code", "draws", "checkpoint_every",
                 "eval_pairs", "threads"):  # fmt: skip
        s[name] = count(name, s[name], 1)
    for name in ("lr", "sigma_sq", "eps0_sq", "c", "prior_floor"):
        s[name] = positive(name, s[name])
    for name in ("noise", "length"):
        s[name] = value_range(name, s[name])
    size = 31 if spec.size is None else spec.size
    if size % 2 == 0 or size < 3:
        raise InputError(f"kernel size must be odd and at least 3, got {size}")
    if s["crop"] % 2 ** (s["scales"] - 1) or s["crop"] < size:
        raise InputError(
            f"crop must be a multiple of {2 ** (s['scales'] - 1)} and at least {size}, got {s['crop']}"
        )
    kd = spec.name == "vb-kd"
    s["concentration"] = s["concentration"] or "learned"
    if s["concentration"] not in CONCENTRATIONS:
        raise InputError(
            f"concentration must be one of {', '.join(CONCENTRATIONS)}, got {s['concentration']!r}"
        )
    config = VBConfig(
        size=size,
        width=s["width"],
        scales=s["scales"],
        blocks=s["blocks"],
        kernel_code=s["kernel_code"] if kd else 0,
        kernel_width=s["kernel_width"],
        kernel_stages=s["kernel_stages"],
        kernel_blocks=s["kernel_blocks"],
        kernel_max_width=s["kernel_max_width"],
        concentration=s["c"],
        learn_concentration=s["concentration"] == "learned",
    )
    return s, config, preset["steps"] if spec.steps is None else spec.steps


def train(spec: TrainSpec) -> Path:
    """The ``vb-kf`` / ``vb-kd`` trainer: writes ``{kf,kd}-{size}.safetensors`` + card, returns its path.

    A checkpoint ``<stem>.ckpt`` is written every ``checkpoint_every`` steps (``--resume``) and removed at
    the end. ``--set objective=mse`` trains a Table 1 baseline (write it with ``--out``: the shipped
    weights are the ELBO ones).
    """
    s, config, steps = _settings(spec)
    kind = "kd" if config.kernel_code else "kf"
    stem = Path(spec.out) if spec.out is not None else STORE.stem(kind, config.size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    data = BlurredCrops(config.size, s["crop"], sources=s["sources"], noise=s["noise"], length=s["length"])
    hyper = Hyper(s["sigma_sq"], s["eps0_sq"], s["c"], s["prior_floor"])
    with torch_threads(s["threads"]):
        run = VBTraining(
            config,
            data,
            spec.generator(),
            hyper=hyper,
            objective=s["objective"],
            batch=s["batch"],
            lr=s["lr"],
            schedule=s["schedule"],
            steps=steps,
            draws=s["draws"],
            device=spec.device,
        )
        seconds = fit(run, steps, spec, checkpoint, spec.name)
        spec.progress("evaluate", 1, 1)
        metrics = evaluate(run.network, data, spec.seed, s["eval_pairs"], spec.device)
    equation = "Eq. 13 (kernel-free)" if kind == "kf" else "Eq. 14 (kernel-dependent)"
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=f"{data.describe()}, {s['batch']} per step, {steps} steps",
        metrics={**metrics, **final_losses(run.history), "train_seconds": round(seconds, 1)},
        extra={
            "objective": f"negative ELBO, {equation}"
            if s["objective"] == "elbo"
            else "MSE (Table 1 baseline)",
            "hyper_parameters": hyper.as_dict(),
            "kernel_draws": s["draws"],
            "optimizer": {"name": "adam", "lr": s["lr"], "schedule": s["schedule"]},
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "crop": s["crop"],
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": "Wang, Yue, Zhao & Meng (2021), Sec. 3.3 and 4.1",
        },
    )
    written = save_weights(stem, run.network.state_dict(), card)
    checkpoint.remove()
    return written
