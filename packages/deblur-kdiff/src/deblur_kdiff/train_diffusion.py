r"""``deblur train kdiff-diffusion``: the conditional kernel denoiser by DDPM's noise regression (Eq. 17).

Every step draws a fresh batch of training pairs (core's :class:`deblur.data.BlurredCrops`: dead
leaves, rendered text and the bundled photos, 'valid' blur by camera-shake trajectories over a range of
path lengths, centred by their first moment, Gaussian noise), encodes the kernels with the peak codec
(:func:`deblur_kdiff.diffusion.encode`), draws a time step uniformly from the T = 1000 of the linear
schedule and Gaussian noise, and takes one Adam step on the l2 loss
:math:`\|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t} u + \sqrt{1 - \bar\alpha_t}\epsilon, y, t)\|^2`
(the paper's choice over l1, Appendix E). An exponential moving average of the weights (decay
``ema``, with the usual warm-up ``min(ema, (1 + n) / (10 + n))``) is what ships.

The card's held-out metrics (pairs from the seed ``seed + 1_000_003``): the denoising loss of the EMA
network, and the mean kernel MNC of unguided samples (``eval_steps`` respaced steps) conditioned on their
own observation against the same draws conditioned on another pair's observation
(``conditioned_mnc`` vs ``shuffled_mnc``): how much the image branch tells the sampler.

Presets (``--set preset=...``): ``fast`` (the default; its 3600 steps took 54 minutes on one core of
the 2-core CPU, the DWDN trainer on the other) and ``paper`` (the paper's batch 16 and 500 000
iterations at wider channels, for a GPU).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from deblur.checks import count, positive, positive_ints, value_range
from deblur.context import torch_threads
from deblur.data import BlurredCrops
from deblur.errors import InputError
from deblur.metrics import kernel_mnc
from deblur.training import Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_kdiff.diffusion import Schedule, decode, encode
from deblur_kdiff.network import DenoiserConfig, KernelDenoiser
from deblur_kdiff.sampler import reverse
from deblur_kdiff.store import STORE

__all__ = ["PRESETS", "SETTINGS", "DiffusionTraining", "train"]

DEFAULT_SIZE = 31
HELD_OUT = 1_000_003
"""Offset of the seed of the held-out pairs from the training seed."""

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"widths": [32, 64, 128], "features": 16, "blocks": 1, "steps": 3600, "batch": 16},
    "paper": {"widths": [64, 128, 256], "features": 32, "blocks": 2, "steps": 500000, "batch": 16},
}

SETTINGS: dict[str, Any] = {
    "preset": "fast",
    "widths": None,
    "features": None,
    "blocks": None,
    "batch": None,
    "crop": 96,
    "lr": 3e-4,
    "ema": 0.999,
    "noise": [0.0, 0.02],
    "length": [0.3, 1.0],
    "sources": ["dead_leaves", "text", "photos"],
    "checkpoint_every": 250,
    "eval_pairs": 32,
    "eval_steps": 50,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value."""


class DiffusionTraining:
    """The state of a run: network, its EMA, optimiser, data, random generator, loss history."""

    def __init__(
        self,
        config: DenoiserConfig,
        data: BlurredCrops,
        generator: torch.Generator,
        *,
        batch: int,
        lr: float,
        ema: float,
        device: torch.device,
    ) -> None:
        self.config, self.data, self.g, self.batch, self.decay, self.device = (
            config,
            data,
            generator,
            batch,
            ema,
            device,
        )
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=generator)))
        self.network = KernelDenoiser(config).to(device)
        self.ema = copy.deepcopy(self.network).requires_grad_(False)
        self.opt = torch.optim.Adam(self.network.parameters(), lr=lr)
        self.schedule = Schedule.linear()
        self.step_count = 0
        self.history: dict[str, list[float]] = {"loss": []}

    def loss(
        self, network: KernelDenoiser, y: torch.Tensor, k: torch.Tensor, g: torch.Generator
    ) -> torch.Tensor:
        """Eq. 17 on one batch, time steps and noise drawn from ``g``."""
        u0 = encode(k)
        i = torch.randint(len(self.schedule), (len(k),), generator=g)
        eps = torch.randn(u0.shape, generator=g)
        u0, eps, y = u0.to(self.device), eps.to(self.device), y.to(self.device)
        ut = self.schedule.noise(u0, i.to(self.device), eps)
        pred = network(ut, self.schedule.steps[i].to(self.device), network.condition(y))
        return F.mse_loss(pred, eps)

    def step(self) -> None:
        """One Adam step and one EMA update; appends the loss."""
        y, k = self.data.batch(self.batch, self.g)
        self.network.train()
        loss = self.loss(self.network, y, k, self.g)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), 1.0)
        self.opt.step()
        n = self.step_count
        decay = min(self.decay, (1 + n) / (10 + n))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.network.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        self.step_count += 1
        self.history["loss"].append(float(loss.detach()))

    def state(self) -> dict[str, Any]:
        """What a resumed run needs besides the step and the losses (which ``fit`` keeps)."""
        return {
            "config": self.config.as_dict(),
            "network": self.network.state_dict(),
            "ema": self.ema.state_dict(),
            "opt": self.opt.state_dict(),
            "rng": self.g.get_state(),
        }

    def restore(self, state: dict[str, Any], source: Path) -> None:
        """Continue from :meth:`state`; refuses a checkpoint of another architecture."""
        Checkpoint.check_config(state, self.config.as_dict(), source)
        self.network.load_state_dict(state["network"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.g.set_state(state["rng"])


def evaluate(run: DiffusionTraining, seed: int, n: int, steps: int) -> dict[str, float]:
    """Card metrics on ``n`` held-out pairs: EMA loss, MNC of samples on their own vs a shuffled image."""
    g = torch.Generator().manual_seed(seed + HELD_OUT)
    network = run.ema.eval()
    y, k = run.data.batch(n, g)
    y, k = y.to(run.device), k.to(run.device)
    schedule = run.schedule.respaced(steps)
    with torch.no_grad():
        held = float(run.loss(network, y, k, g))
        cond = network.condition(y)
        state = g.get_state()
        own = decode(reverse(network, cond, schedule, n, network.config.size, g))
        g.set_state(state)  # the same draws, conditioned on the next pair's observation
        shuffled = decode(reverse(network, cond.roll(1, 0), schedule, n, network.config.size, g))
    return {
        "heldout_loss": round(held, 4),
        "conditioned_mnc": round(float(kernel_mnc(own, k).mean()), 4),
        "shuffled_mnc": round(float(kernel_mnc(shuffled, k).mean()), 4),
    }


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], DenoiserConfig, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    for name in ("widths", "features", "blocks", "batch"):
        s[name] = preset[name] if s[name] is None else s[name]
    size = DEFAULT_SIZE if spec.size is None else spec.size
    if size % 2 == 0 or size < 3:
        raise InputError(f"kernel size must be odd and at least 3, got {size}")
    for name in (
        "batch",
        "crop",
        "checkpoint_every",
        "eval_pairs",
        "eval_steps",
        "threads",
        "features",
        "blocks",
    ):
        s[name] = count(name, s[name], 1)
    s["lr"] = positive("lr", s["lr"])
    if not 0 <= s["ema"] < 1:
        raise InputError(f"ema must be in [0, 1), got {s['ema']}")
    for name in ("noise", "length"):
        s[name] = value_range(name, s[name])
    widths = positive_ints("widths", s["widths"])
    config = DenoiserConfig(size, widths, s["features"], blocks=s["blocks"])
    return s, config, preset["steps"] if spec.steps is None else spec.steps


def train(spec: TrainSpec) -> Path:
    """The ``kdiff-diffusion`` trainer: writes ``diffusion-{size}.safetensors`` + card, returns its path.

    Output: ``spec.out`` or the package's ``weights/diffusion-{size}``; a checkpoint ``<stem>.ckpt`` is
    written every ``checkpoint_every`` steps (``--resume`` continues from it) and removed at the end.
    """
    s, config, steps = _settings(spec)
    stem = Path(spec.out) if spec.out is not None else STORE.stem("diffusion", config.size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    data = BlurredCrops(config.size, s["crop"], sources=s["sources"], noise=s["noise"], length=s["length"])
    with torch_threads(s["threads"]):
        run = DiffusionTraining(
            config, data, spec.generator(), batch=s["batch"], lr=s["lr"], ema=s["ema"], device=spec.device
        )
        seconds = fit(run, steps, spec, checkpoint, "diffusion")
        spec.progress("evaluate", 1, 1)
        metrics = evaluate(run, spec.seed, s["eval_pairs"], s["eval_steps"])
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=f"{data.describe()}, {s['batch']} per step, {steps} steps",
        metrics={**metrics, **final_losses(run.history), "train_seconds": round(seconds, 1)},
        extra={
            "codec": "peak: u = 2 k / max k - 1, decode [u + 1]_+ / sum",
            "schedule": "linear beta 1e-4 .. 0.02, T = 1000, epsilon prediction, l2 loss",
            "ema": s["ema"],
            "optimizer": {"name": "adam", "lr": s["lr"], "grad_clip": 1.0},
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "crop": s["crop"],
            "eval_steps": s["eval_steps"],
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": "Sanghvi, Chi & Chan, Kernel Diffusion: An Alternate Approach to Blind Deconvolution, "
            "Sec. 3.3 and Appendix E",
        },
    )
    written = save_weights(stem, run.ema.state_dict(), card)
    checkpoint.remove()
    return written
