r"""``deblur train ufp-estimator``: the kernel estimator, self-supervised by reblurring (Sec. 3.2, Eq. 4).

Every step draws fresh pairs from core's spatially varying data (:class:`deblur.data.SVBlurredCrops`:
dead leaves, text and the bundled photos; camera shake with roll, several kernels under smooth masks, a
quarter uniform; Gaussian noise), predicts the field of each blurry crop through the frozen flow with
the codes perturbed (Eq. 5-6), reblurs the *sharp latent* with it through core's spatially varying
operator in filter-then-mask order (:func:`deblur.operators.grid_blur`, ``valid``) and takes one Adam
step (the paper's betas 0.9, 0.9) on the L1 distance to the blurry crop: Eq. 4. No ground-truth kernel
enters the loss.

**Not in the paper** (``latent_weight``; the ``fast`` preset's 0.002, ``paper``'s 0): the codes' Gaussian
energy ``mean(z^2) / 2``, the flow's base density, joins the loss. Eq. 4 alone let a briefly trained
estimator drift to codes of mean ``|z|`` near 3 (the shipped flow's latents of real kernels are standard
normal), which the flow decodes into scattered, noisy kernels: its held-out field MNC was 0.38 after
1500 steps. The paper's premise that the codes are standard normal (Sec. 3.2, Eq. 6) is what the term
asks for.

The card's held-out metrics (pairs from ``seed + 1_000_003``, estimates without the noise): the reblur
PSNR of Table 4 (``reblur_psnr``, the sharp latent reblurred by the estimate against the noisy
observation; ``reblur_psnr_true`` with the true field), the field MNC against the true fields at the
true grid's cells, the mean sigma. The card records the flow's SHA-256: a flow it was not trained
through is refused when loading.

Presets: ``fast`` (the default, on one CPU core; kernels on a grid of about 32 px cells, not the paper's
layout) and ``paper`` (per-pixel kernels of the paper's 19 px flow, 256 px crops, 400 000 iterations).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from deblur.checks import count, positive, positive_ints, value_range
from deblur.context import torch_threads
from deblur.data.spatially_varying import SVBlurredCrops
from deblur.errors import InputError
from deblur.fields import field_mnc
from deblur.metrics import psnr
from deblur.operators import grid_blur
from deblur.training import AdamRun, Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_ufp.estimator import EstimatorConfig, FieldEstimate, KernelEstimator
from deblur_ufp.flow import KernelFlow
from deblur_ufp.networks import load_flow
from deblur_ufp.store import STORE

__all__ = ["PRESETS", "SETTINGS", "EstimatorTraining", "reblur", "train"]

HELD_OUT = 1_000_003
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"size": 31, "mode": "grid", "crop": 128, "batch": 8, "steps": 1200, "latent_weight": 2e-3},
    "paper": {"size": 19, "mode": "pixel", "crop": 256, "batch": 64, "steps": 400000, "latent_weight": 0.0},
}
SETTINGS: dict[str, Any] = {
    "preset": "fast",
    "mode": None,
    "crop": None,
    "batch": None,
    "widths": [32, 64, 96, 128, 128],
    "cell": 32,
    "head": "flow",
    "latent_weight": None,
    "uncertainty": True,
    "flow": None,
    "lr": 5e-4,
    "noise": [0.0, 0.02],
    "length": [0.3, 1.0],
    "grid": 4,
    "sources": ["dead_leaves", "text", "photos"],
    "checkpoint_every": 100,
    "eval_pairs": 16,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value. ``flow`` is a weight stem
to train through instead of the shipped flow; ``grid`` the true fields' cells per side; ``cell`` the
estimated grid's cell side (grid mode); ``widths`` the encoder's channels."""


def reblur(estimate: FieldEstimate, latents: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The latents ``(B, 1, H + s - 1, W + s - 1)`` blurred 'valid' by the estimated fields (Eq. 4)."""
    out = [grid_blur(estimate.field[b : b + 1], shape)(latents[b : b + 1]) for b in range(len(latents))]
    return torch.cat(out)


class EstimatorTraining(AdamRun):
    """The state of a run: estimator, frozen flow, optimiser, data, random generator, loss history."""

    def __init__(
        self,
        config: EstimatorConfig,
        flow: KernelFlow | None,
        data: SVBlurredCrops,
        g: torch.Generator,
        *,
        batch: int,
        lr: float,
        steps: int,
        latent_weight: float,
        device: torch.device,
    ) -> None:
        self.flow, self.data, self.batch, self.latent_weight = flow, data, batch, latent_weight
        build = functools.partial(KernelEstimator, config)
        losses = ("reblur_l1", "latent")
        super().__init__(config, build, g, lr=lr, steps=steps, device=device, losses=losses, betas=(0.9, 0.9))

    def step(self) -> None:
        self.schedule()
        y, _, x = self.data.latents(self.batch, self.g)
        y, x = y.to(self.device), x.to(self.device)
        self.network.train()
        estimate = self.network(y, self.flow, sample=True, generator=self.g)
        data = (reblur(estimate, x, tuple(y.shape[-2:])) - y).abs().mean()
        latent = 0.5 * estimate.codes.square().mean() if estimate.codes is not None else torch.zeros(())
        self.update(data + self.latent_weight * latent, reblur_l1=data, latent=latent)


@torch.no_grad()
def evaluate(run: EstimatorTraining, seed: int, n: int) -> dict[str, float]:
    """The card's held-out metrics (see the module docstring)."""
    g = torch.Generator().manual_seed(seed + HELD_OUT)
    y, fields, x = run.data.latents(n, g)
    y, fields, x = y.to(run.device), fields.to(run.device), x.to(run.device)
    shape = tuple(y.shape[-2:])
    estimate = run.network.eval()(y, run.flow)
    truth = FieldEstimate(fields, None, None)
    out = {
        "reblur_psnr": round(float(psnr(reblur(estimate, x, shape).clamp(0, 1), y.clamp(0, 1)).mean()), 2),
        "reblur_psnr_true": round(float(psnr(reblur(truth, x, shape).clamp(0, 1), y.clamp(0, 1)).mean()), 2),
        "field_mnc": round(float(field_mnc(estimate.field, fields, shape).mean()), 4),
    }
    if estimate.sigma is not None:
        out["mean_sigma"] = round(float(estimate.sigma.mean()), 4)
    return out


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], EstimatorConfig, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    for name in ("mode", "crop", "batch", "latent_weight"):
        s[name] = preset[name] if s[name] is None else s[name]
    widths = positive_ints("widths", s["widths"])
    for name in ("crop", "batch", "grid", "cell", "checkpoint_every", "eval_pairs", "threads"):
        s[name] = count(name, s[name], 1)
    s["lr"] = positive("lr", s["lr"])
    s["latent_weight"] = positive("latent_weight", s["latent_weight"], allow_zero=True)
    for name in ("noise", "length"):
        s[name] = value_range(name, s[name])
    if not isinstance(s["uncertainty"], bool):
        raise InputError(f"uncertainty must be true or false, got {s['uncertainty']!r}")
    size = preset["size"] if spec.size is None else spec.size
    if size % 2 == 0 or size < 3:
        raise InputError(f"kernel size must be odd and at least 3, got {size}")
    if s["crop"] < 2 * size:
        raise InputError(f"crop must be at least twice the kernel size ({2 * size}), got {s['crop']}")
    config = EstimatorConfig(
        size, widths, mode=s["mode"], cell=s["cell"], head=s["head"], uncertainty=s["uncertainty"]
    )
    return s, config, preset["steps"] if spec.steps is None else spec.steps


def train(spec: TrainSpec) -> Path:
    """The ``ufp-estimator`` trainer: writes ``estimator-{size}.safetensors`` + card, returns its path.

    The flow of the same size (shipped, or ``--set flow=STEM``) must exist; a checkpoint ``<stem>.ckpt``
    is written every ``checkpoint_every`` steps (``--resume``) and removed at the end.
    """
    s, config, steps = _settings(spec)
    flow, flow_card = (
        (None, {}) if config.head == "direct" else load_flow(config.size, s["flow"], spec.device)
    )
    stem = Path(spec.out) if spec.out is not None else STORE.stem("estimator", config.size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    grid = (s["grid"], s["grid"])
    data = SVBlurredCrops(
        config.size, s["crop"], grid=grid, sources=s["sources"], noise=s["noise"], length=s["length"]
    )
    with torch_threads(s["threads"]):
        run = EstimatorTraining(
            config,
            flow,
            data,
            spec.generator(),
            batch=s["batch"],
            lr=s["lr"],
            steps=steps,
            latent_weight=s["latent_weight"],
            device=spec.device,
        )
        seconds = fit(run, steps, spec, checkpoint, "estimator")
        spec.progress("evaluate", 1, 1)
        metrics = evaluate(run, spec.seed, s["eval_pairs"])
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=f"{data.describe()}, {s['batch']} per step, {steps} steps",
        metrics={**metrics, **final_losses(run.history), "train_seconds": round(seconds, 1)},
        extra={
            "objective": "Eq. 4: L1 of the sharp latent reblurred by the estimated field to the blurry crop, "
            f"plus {s['latent_weight']} x the codes' Gaussian energy mean(z^2) / 2 (not in the paper)",
            "latent_weight": s["latent_weight"],
            "flow_sha256": flow_card.get("sha256"),
            "flow_command": flow_card.get("command"),
            "optimizer": {"name": "adam", "lr": s["lr"], "betas": [0.9, 0.9], "schedule": "cosine to 0"},
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "crop": s["crop"],
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": "Fang et al., UFPNet, CVPR 2023, Sec. 3.2, Eq. 4-6",
        },
    )
    written = save_weights(stem, run.network.state_dict(), card)
    checkpoint.remove()
    return written
