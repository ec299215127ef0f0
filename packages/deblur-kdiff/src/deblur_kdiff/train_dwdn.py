r"""``deblur train kdiff-dwdn``: the learned non-blind solver :class:`~deblur_kdiff.dwdn.DWDN`.

Every step draws a fresh batch of blurry crops with their camera-shake kernels and sharp crops
(:class:`deblur.data.BlurredCrops`: "valid" blur, Gaussian noise of a standard deviation drawn per crop
from ``noise``) and takes one Adam step on the L1 loss between the output and the sharp crop over the
whole crop (DWDN, Sec. 3.4, trains with an L1 loss at every scale of its coarse-to-fine decoder; the
U-Net here has one output).

At the end the card records the mean PSNR (outputs clipped to [0, 1]) on ``eval_images`` held-out crops
(seed ``seed + 1_000_003``) of the network, of core's Wiener (:func:`deblur.solvers.wiener.wiener_deconvolve`)
and of HQS (:func:`deblur.solvers.hqs.hqs_deconvolve`), both with default settings and boundary "same",
all with the true kernel.

Presets (``--set preset=...``): ``fast`` (the default: 16 features, U-Net (16, 32, 64), batch 8 of
96 px crops, 2400 steps: 53 minutes on one core, the diffusion trainer on the other) and ``paper``
(the paper's size, 16 features and a (32, 64, 128) encoder-decoder, batch 16 of 256 px crops, 100000
steps at learning rate 1e-4: for a GPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from deblur.checks import count, positive
from deblur.context import torch_threads
from deblur.data import BlurredCrops
from deblur.errors import InputError
from deblur.metrics import psnr
from deblur.solvers.hqs import hqs_deconvolve
from deblur.solvers.wiener import wiener_deconvolve
from deblur.training import Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_kdiff.dwdn import DWDN, DWDNConfig
from deblur_kdiff.store import STORE

__all__ = ["PRESETS", "SETTINGS", "DWDNTraining", "train"]

DEFAULT_SIZE = 31
HELD_OUT = 1_000_003
"""Offset of the seed of the held-out crops from the training seed."""
PAPER = (
    "Dong, Roth & Schiele, Deep Wiener Deconvolution: Wiener Meets Deep Learning for Image Deblurring, "
    "NeurIPS 2020"
)

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {
        "features": 16,
        "feature_layers": 2,
        "widths": [16, 32, 64],
        "steps": 2400,
        "batch": 8,
        "crop": 96,
        "lr": 3e-4,
    },
    "paper": {
        "features": 16,
        "feature_layers": 3,
        "widths": [32, 64, 128],
        "steps": 100_000,
        "batch": 16,
        "crop": 256,
        "lr": 1e-4,
    },
}

SETTINGS: dict[str, Any] = {
    "preset": "fast",
    "features": None,
    "feature_layers": None,
    "widths": None,
    "batch": None,
    "crop": None,
    "lr": None,
    "noise": [0.0, 0.02],
    "length": [0.3, 1.0],
    "sources": ["dead_leaves", "text", "photos"],
    "checkpoint_every": 100,
    "eval_images": 32,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value."""


class DWDNTraining:
    """The state of a run: network, optimiser, data, random generator, loss history."""

    def __init__(
        self,
        config: DWDNConfig,
        data: BlurredCrops,
        generator: torch.Generator,
        *,
        batch: int,
        lr: float,
        device: torch.device,
    ) -> None:
        self.config, self.data, self.g, self.batch, self.device = config, data, generator, batch, device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            self.network = DWDN(config).to(device)
        self.opt = torch.optim.Adam(self.network.parameters(), lr=lr)
        self.step_count = 0
        self.history: dict[str, list[float]] = {"loss": []}

    def step(self) -> None:
        """One Adam step on the L1 loss of a fresh batch; appends it to the history."""
        y, k, x = (t.to(self.device) for t in self.data.triples(self.batch, self.g))
        self.network.train()
        loss = F.l1_loss(self.network(y, k), x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step_count += 1
        self.history["loss"].append(float(loss.detach()))

    def state(self) -> dict[str, Any]:
        """What a resumed run needs besides the step and the losses (which ``fit`` keeps)."""
        return {
            "config": self.config.as_dict(),
            "network": self.network.state_dict(),
            "opt": self.opt.state_dict(),
            "rng": self.g.get_state(),
        }

    def restore(self, state: dict[str, Any], source: Path) -> None:
        """Continue from :meth:`state`; refuses a checkpoint of another architecture."""
        Checkpoint.check_config(state, self.config.as_dict(), source)
        self.network.load_state_dict(state["network"])
        self.opt.load_state_dict(state["opt"])
        self.g.set_state(state["rng"])


def evaluate(network: DWDN, data: BlurredCrops, seed: int, n: int) -> dict[str, float]:
    """Mean PSNR (dB, clipped to [0, 1]) on ``n`` held-out crops: the network, Wiener and HQS."""
    g = torch.Generator().manual_seed(seed + HELD_OUT)
    device = next(network.parameters()).device
    y, k, x = (t.to(device) for t in data.triples(n, g))
    out: dict[str, list[float]] = {"psnr_dwdn": [], "psnr_wiener": [], "psnr_hqs": []}
    with torch.no_grad():
        for i in range(n):
            yi, ki, xi = y[i : i + 1], k[i : i + 1], x[i : i + 1]
            estimates = {
                "psnr_dwdn": network(yi, ki),
                "psnr_wiener": wiener_deconvolve(yi, ki, boundary="same"),
                "psnr_hqs": hqs_deconvolve(yi, ki, boundary="same"),
            }
            for name, estimate in estimates.items():
                out[name].append(float(psnr(estimate.clamp(0, 1), xi)))
    return {name: round(sum(v) / len(v), 3) for name, v in out.items()}


def _pair(name: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise InputError(f"{name} must be a pair [low, high], got {value!r}")
    low = positive(f"{name} low", value[0], allow_zero=True)
    high = positive(f"{name} high", value[1], allow_zero=True)
    if high < low:
        raise InputError(f"{name} must be [low, high] with low <= high, got {value!r}")
    return low, high


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], DWDNConfig, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    for name in ("features", "feature_layers", "widths", "batch", "crop", "lr"):
        if s[name] is None:
            s[name] = preset[name]
    for name in ("features", "feature_layers", "batch", "crop", "checkpoint_every", "eval_images", "threads"):
        s[name] = count(name, s[name], 1)
    s["lr"] = positive("lr", s["lr"])
    widths = s["widths"]
    if not (isinstance(widths, (list, tuple)) and widths):
        raise InputError(f"widths must be a list of channel counts, got {widths!r}")
    s["widths"] = [count("widths", w, 1) for w in widths]
    s["noise"], s["length"] = _pair("noise", s["noise"]), _pair("length", s["length"])
    if isinstance(s["sources"], str):
        s["sources"] = [s["sources"]]
    config = DWDNConfig(features=s["features"], feature_layers=s["feature_layers"], widths=tuple(s["widths"]))
    return s, config, preset["steps"] if spec.steps is None else spec.steps


def train(spec: TrainSpec) -> Path:
    """The ``kdiff-dwdn`` trainer: writes ``dwdn-{size}.safetensors`` + card, returns its path.

    Output: ``spec.out`` or the package's ``weights/dwdn-{size}``; a checkpoint ``<stem>.ckpt`` is written
    every ``checkpoint_every`` steps (``--resume`` continues from it) and removed at the end.
    """
    s, config, steps = _settings(spec)
    size = DEFAULT_SIZE if spec.size is None else spec.size
    if s["crop"] < size:
        raise InputError(f"crop {s['crop']} must be at least the kernel size {size}")
    stem = Path(spec.out) if spec.out is not None else STORE.stem("dwdn", size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    data = BlurredCrops(size, s["crop"], sources=s["sources"], noise=s["noise"], length=s["length"])
    with torch_threads(s["threads"]):
        run = DWDNTraining(config, data, spec.generator(), batch=s["batch"], lr=s["lr"], device=spec.device)
        seconds = fit(run, steps, spec, checkpoint, "dwdn")
        network = run.network.eval().requires_grad_(False)
        spec.progress("evaluate", 1, 1)
        metrics = evaluate(network, data, spec.seed, s["eval_images"])
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=f"{data.describe()}; {s['batch']} per step, {steps} steps",
        metrics={**metrics, **final_losses(run.history), "train_seconds": round(seconds, 1)},
        extra={
            "loss": "l1 over the whole crop",
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "crop": s["crop"],
            "noise": list(s["noise"]),
            "length": list(s["length"]),
            "optimizer": {"name": "adam", "lr": s["lr"]},
            "eval": f"{s['eval_images']} held-out crops (seed + {HELD_OUT}), true kernel, PSNR clipped",
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": PAPER,
        },
    )
    written = save_weights(stem, network.state_dict(), card)
    checkpoint.remove()
    return written
