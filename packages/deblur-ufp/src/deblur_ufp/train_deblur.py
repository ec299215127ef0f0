r"""``deblur train ufp-deblur``: the deblurring network with kernel attention (Sec. 3.3, Eq. 8), stage III.

Every step draws fresh spatially varying pairs (as ``ufp-estimator``), estimates their fields with the
frozen estimator and flow (no code noise), restores the blurry crops and takes one Adam step (betas
0.9, 0.9, cosine-annealed learning rate, as NAFNet) on the paper's loss
:math:`\mathcal L_{PSNR} + \lambda \mathcal L_{reblur}`, :math:`\lambda = 0.01`: NAFNet's PSNR loss
(:math:`10 \log_{10}` of each crop's mean squared error) plus the L1 distance between the restored crop
reblurred by the estimated field (:func:`deblur.operators.grid_blur`, ``same`` boundary) and the blurry
crop (Eq. 8).

The card's held-out metrics (pairs from ``seed + 1_000_003``): PSNR of the blurry crops and of the
restored ones against the sharp crops. It records the estimator's SHA-256: loading this network with
another estimator is refused.

Presets: ``fast`` (the default, on one CPU core: 16 channels, 96 px crops) and ``paper`` (NAFNet's
width 32 and its 256 px crops, batch 64, 400 000 iterations, for a GPU).
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
from deblur.metrics import psnr
from deblur.operators import grid_blur
from deblur.training import AdamRun, Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_ufp.deblurnet import DeblurConfig, DeblurNet
from deblur_ufp.estimator import KernelEstimator
from deblur_ufp.flow import KernelFlow
from deblur_ufp.networks import load_estimator
from deblur_ufp.store import STORE

__all__ = ["PRESETS", "SETTINGS", "DeblurTraining", "train"]

HELD_OUT = 1_000_003
REBLUR_WEIGHT = 0.01
PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"width": 16, "enc_blocks": [1, 1, 2], "middle_blocks": 2, "crop": 96, "batch": 4, "steps": 1000},
    "paper": {
        "width": 32,
        "enc_blocks": [1, 1, 1, 28],
        "middle_blocks": 1,
        "crop": 256,
        "batch": 64,
        "steps": 400000,
    },
}
SETTINGS: dict[str, Any] = {
    "preset": "fast",
    "width": None,
    "enc_blocks": None,
    "middle_blocks": None,
    "crop": None,
    "batch": None,
    "estimator": None,
    "flow": None,
    "lr": 1e-3,
    "reblur_weight": REBLUR_WEIGHT,
    "noise": [0.0, 0.02],
    "length": [0.3, 1.0],
    "grid": 4,
    "sources": ["dead_leaves", "text", "photos"],
    "checkpoint_every": 100,
    "eval_pairs": 16,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value; ``estimator`` is a weight
stem to train on instead of the shipped estimator, ``flow`` the flow it was trained through."""


def reblur_field(x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Restored crops ``(B, 1, H, W)`` reblurred ('same') by their fields ``(B, L, Gh, Gw)`` (Eq. 8)."""
    shape = tuple(x.shape[-2:])
    return torch.cat(
        [grid_blur(field[b : b + 1], shape, boundary="same")(x[b : b + 1]) for b in range(len(x))]
    )


def psnr_loss(x: torch.Tensor, sharp: torch.Tensor) -> torch.Tensor:
    """NAFNet's PSNR loss: the mean over crops of ``10 log10(MSE)``."""
    return 10 * torch.log10((x - sharp).square().mean((1, 2, 3)) + 1e-8).mean()


class DeblurTraining(AdamRun):
    """The state of a run: network, frozen estimator and flow, optimiser, data, generator, losses."""

    def __init__(
        self,
        config: DeblurConfig,
        estimator: KernelEstimator,
        flow: KernelFlow | None,
        data: SVBlurredCrops,
        g: torch.Generator,
        *,
        batch: int,
        lr: float,
        steps: int,
        reblur_weight: float,
        device: torch.device,
    ) -> None:
        self.estimator, self.flow, self.data = estimator, flow, data
        self.batch, self.weight = batch, reblur_weight
        build = functools.partial(DeblurNet, config)
        losses = ("loss", "psnr_loss", "reblur_l1")
        super().__init__(config, build, g, lr=lr, steps=steps, device=device, losses=losses, betas=(0.9, 0.9))

    def restore_batch(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(restored, field)`` of blurry crops ``y``."""
        with torch.no_grad():
            field = self.estimator(y, self.flow).field
        return self.network(y, field), field

    def step(self) -> None:
        self.schedule()
        y, _, sharp = self.data.triples(self.batch, self.g)
        y, sharp = y.to(self.device), sharp.to(self.device)
        self.network.train()
        x, field = self.restore_batch(y)
        main = psnr_loss(x, sharp)
        again = (reblur_field(x, field) - y).abs().mean()
        loss = main + self.weight * again
        self.update(loss, loss=loss, psnr_loss=main, reblur_l1=again)


@torch.no_grad()
def evaluate(run: DeblurTraining, seed: int, n: int) -> dict[str, float]:
    """Held-out PSNR of the blurry and of the restored crops (see the module docstring)."""
    g = torch.Generator().manual_seed(seed + HELD_OUT)
    y, _, sharp = run.data.triples(n, g)
    y, sharp = y.to(run.device), sharp.to(run.device)
    run.network.eval()
    x, _ = run.restore_batch(y)
    return {
        "heldout_psnr_blurry": round(float(psnr(y.clamp(0, 1), sharp).mean()), 2),
        "heldout_psnr": round(float(psnr(x.clamp(0, 1), sharp).mean()), 2),
    }


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], DeblurConfig, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    for name in ("width", "enc_blocks", "middle_blocks", "crop", "batch"):
        s[name] = preset[name] if s[name] is None else s[name]
    for name in (
        "width",
        "middle_blocks",
        "crop",
        "batch",
        "grid",
        "checkpoint_every",
        "eval_pairs",
        "threads",
    ):
        s[name] = count(name, s[name], 1)
    blocks = positive_ints("enc_blocks", s["enc_blocks"])
    s["lr"] = positive("lr", s["lr"])
    s["reblur_weight"] = positive("reblur_weight", s["reblur_weight"], allow_zero=True)
    for name in ("noise", "length"):
        s[name] = value_range(name, s[name])
    size = 31 if spec.size is None else spec.size
    if size % 2 == 0 or size < 3:
        raise InputError(f"kernel size must be odd and at least 3, got {size}")
    if s["crop"] % 2 ** len(blocks):
        raise InputError(f"crop must be a multiple of {2 ** len(blocks)}, got {s['crop']}")
    config = DeblurConfig(size, s["width"], blocks, s["middle_blocks"], tuple(1 for _ in blocks))
    return s, config, preset["steps"] if spec.steps is None else spec.steps


def train(spec: TrainSpec) -> Path:
    """The ``ufp-deblur`` trainer: writes ``deblur-{size}.safetensors`` + card, returns its path.

    The estimator of the same size (shipped, or ``--set estimator=STEM``) and its flow must exist; a
    checkpoint ``<stem>.ckpt`` is written every ``checkpoint_every`` steps (``--resume``) and removed at
    the end.
    """
    s, config, steps = _settings(spec)
    estimator, flow, estimator_card = load_estimator(config.size, s["estimator"], s["flow"], spec.device)
    stem = Path(spec.out) if spec.out is not None else STORE.stem("deblur", config.size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    data = SVBlurredCrops(
        config.size,
        s["crop"],
        grid=(s["grid"], s["grid"]),
        sources=s["sources"],
        noise=s["noise"],
        length=s["length"],
    )
    with torch_threads(s["threads"]):
        run = DeblurTraining(
            config,
            estimator,
            flow,
            data,
            spec.generator(),
            batch=s["batch"],
            lr=s["lr"],
            steps=steps,
            reblur_weight=s["reblur_weight"],
            device=spec.device,
        )
        seconds = fit(run, steps, spec, checkpoint, "deblur")
        spec.progress("evaluate", 1, 1)
        metrics = evaluate(run, spec.seed, s["eval_pairs"])
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=f"{data.describe()}, {s['batch']} per step, {steps} steps",
        metrics={**metrics, **final_losses(run.history), "train_seconds": round(seconds, 1)},
        extra={
            "objective": f"PSNR loss + {s['reblur_weight']} x reblur L1 (Eq. 8), estimator and flow frozen",
            "estimator_sha256": estimator_card.get("sha256"),
            "estimator_command": estimator_card.get("command"),
            "optimizer": {"name": "adam", "lr": s["lr"], "betas": [0.9, 0.9], "schedule": "cosine to 0"},
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "crop": s["crop"],
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": "Fang et al., UFPNet, CVPR 2023, Sec. 3.3, Eq. 7-8",
        },
    )
    written = save_weights(stem, run.network.state_dict(), card)
    checkpoint.remove()
    return written
