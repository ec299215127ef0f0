r"""``deblur train ufp-flow --size N``: the motion prior by maximum likelihood (Sec. 3.1, Eq. 2).

Every step draws a fresh batch of core's camera-shake kernels (:func:`deblur.kernels.motion_kernel`,
path lengths ``U(*length) * size``, centred by their first moment), pre-processes them to logits
(:func:`deblur_ufp.flow.preprocess`), dequantises them in logit space (Gaussian, ``dequant``; see
:mod:`deblur_ufp.flow` for why this leaves no haze) and takes one Adam step on the negative
log-likelihood of Eq. 2, the learning rate cosine-annealed to 0. The logits' standardisation is set once,
before the first step, from ``standardise`` kernels.

The card's held-out metrics (kernels from the seed ``seed + 1_000_003``), in nats per kernel on the
dequantised logits: ``heldout_nll`` of the flow against ``gaussian_nll``, a diagonal Gaussian fitted to
the standardisation kernels; ``sample_haze`` (the mean mass of samples' taps below 1% of their peak)
against ``data_haze`` (the same on held-out kernels); ``roundtrip_error`` (max ``|f^{-1}(f(k)) - k|``).

Presets (``--set preset=...``): ``fast`` (the default, minutes on one core) and ``paper`` (a deeper,
wider flow for a GPU; the paper's flow follows FKP, its exact widths are in its supplement).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from deblur.checks import count, positive, value_range
from deblur.context import torch_threads
from deblur.errors import InputError
from deblur.kernels import motion_kernel
from deblur.training import AdamRun, Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_ufp.flow import FlowConfig, KernelFlow, dequantise, gaussian_nll, preprocess
from deblur_ufp.store import STORE

__all__ = ["PRESETS", "SETTINGS", "FlowTraining", "train"]

DEFAULT_SIZE = 19
HELD_OUT = 1_000_003
PAPER = "Fang, Wu, Zhang & Zhang, Self-supervised Non-uniform Kernel Estimation with Flow-based Motion Prior"

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"couplings": 8, "hidden": 256, "layers": 1, "steps": 4000, "batch": 128},
    "paper": {"couplings": 16, "hidden": 1024, "layers": 2, "steps": 100000, "batch": 256},
}

SETTINGS: dict[str, Any] = {
    "preset": "fast",
    "couplings": None,
    "hidden": None,
    "layers": None,
    "batch": None,
    "lr": 1e-3,
    "dequant": 0.5,
    "length": [0.2, 1.0],
    "standardise": 4096,
    "eval_kernels": 1024,
    "checkpoint_every": 250,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value."""


def kernels(size: int, n: int, length: tuple[float, float], g: torch.Generator) -> torch.Tensor:
    """``n`` training kernels ``(n, 1, size, size)`` (float64 trajectories, float32 kernels)."""
    return motion_kernel(size, n=n, generator=g, length_range=length)


class FlowTraining(AdamRun):
    """The state of a run: the flow (``network``), optimiser, random generator, loss history."""

    def __init__(
        self,
        config: FlowConfig,
        g: torch.Generator,
        *,
        batch: int,
        lr: float,
        steps: int,
        s: dict[str, Any],
        device: torch.device,
    ) -> None:
        self.batch, self.dequant, self.length = batch, s["dequant"], s["length"]
        build = functools.partial(KernelFlow, config)
        super().__init__(config, build, g, lr=lr, steps=steps, device=device, losses=("nll",), clip=10.0)
        self.reference = self.logits(s["standardise"])
        self.network.standardise(self.reference)

    def logits(self, n: int, g: torch.Generator | None = None) -> torch.Tensor:
        """Dequantised logits of ``n`` fresh kernels."""
        g = self.g if g is None else g
        x = preprocess(kernels(self.config.size, n, self.length, g))[0]
        return dequantise(x, self.dequant, g).to(self.device)

    def step(self) -> None:
        self.schedule()
        loss = -self.network.log_prob_logits(self.logits(self.batch)).mean() / self.network.dim
        self.update(loss, nll=loss)


def haze(k: torch.Tensor) -> float:
    """Mean mass of taps below 1% of their kernel's peak."""
    low = k < 0.01 * k.amax((-2, -1), keepdim=True)
    return float((k * low).sum((-2, -1)).mean())


@torch.no_grad()
def evaluate(run: FlowTraining, seed: int, n: int) -> dict[str, float]:
    """The card's held-out metrics (see the module docstring)."""
    g = torch.Generator().manual_seed(seed + HELD_OUT)
    flow = run.network.eval()
    clean = kernels(run.config.size, n, run.length, g).to(run.device)
    x = dequantise(preprocess(clean)[0], run.dequant, g)
    nll = float(-flow.log_prob_logits(x).mean())
    back = flow.decode(flow.encode(clean), normalise=False)
    drawn = flow.sample(n, g)
    return {
        "heldout_nll": round(nll, 2),
        "gaussian_nll": round(gaussian_nll(run.reference, x), 2),
        "heldout_nll_per_dim": round(nll / flow.dim, 4),
        "sample_haze": round(haze(drawn), 5),
        "data_haze": round(haze(clean), 5),
        "roundtrip_error": float(f"{float((back - clean).abs().max()):.2e}"),
    }


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], FlowConfig, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    for name in ("couplings", "hidden", "layers", "batch"):
        s[name] = count(name, preset[name] if s[name] is None else s[name], 1)
    for name in ("standardise", "eval_kernels", "checkpoint_every", "threads"):
        s[name] = count(name, s[name], 1 if name != "standardise" else 2)
    s["lr"] = positive("lr", s["lr"])
    s["dequant"] = positive("dequant", s["dequant"])
    s["length"] = value_range("length", s["length"], open_low=True)
    size = DEFAULT_SIZE if spec.size is None else spec.size
    if size % 2 == 0 or size < 3:
        raise InputError(f"kernel size must be odd and at least 3, got {size}")
    config = FlowConfig(size, s["couplings"], s["hidden"], s["layers"])
    return s, config, preset["steps"] if spec.steps is None else spec.steps


def train(spec: TrainSpec) -> Path:
    """The ``ufp-flow`` trainer: writes ``flow-{size}.safetensors`` + card, returns its path.

    Output: ``spec.out`` or the package's ``weights/flow-{size}``; a checkpoint ``<stem>.ckpt`` is written
    every ``checkpoint_every`` steps (``--resume`` continues from it) and removed at the end.
    """
    s, config, steps = _settings(spec)
    stem = Path(spec.out) if spec.out is not None else STORE.stem("flow", config.size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    with torch_threads(s["threads"]):
        run = FlowTraining(
            config, spec.generator(), batch=s["batch"], lr=s["lr"], steps=steps, s=s, device=spec.device
        )
        seconds = fit(run, steps, spec, checkpoint, "flow")
        spec.progress("evaluate", 1, 1)
        metrics = evaluate(run, spec.seed, s["eval_kernels"])
    lo, hi = s["length"]
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=(
            f"camera-shake kernels (deblur.kernels.motion_kernel, path length U({lo}, {hi}) x {config.size} "
            f"px, centred), {s['batch']} fresh per step, {steps} steps"
        ),
        metrics={**metrics, **final_losses(run.history), "train_seconds": round(seconds, 1)},
        extra={
            "objective": "negative log-likelihood of Eq. 2 per dimension, logits dequantised in logit space",
            "preprocess": "x = logit(alpha + (1 - 2 alpha) k), alpha = 1e-5, standardised per tap",
            "dequant": s["dequant"],
            "nll_units": "nats per kernel on dequantised logits (heldout_nll, gaussian_nll)",
            "optimizer": {"name": "adam", "lr": s["lr"], "schedule": "cosine to 0", "grad_clip": 10.0},
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": f"{PAPER}, CVPR 2023, Sec. 3.1, Eq. 2-3",
        },
    )
    state = {name: t.float() for name, t in run.network.state_dict().items()}
    written = save_weights(stem, state, card)
    checkpoint.remove()
    return written
