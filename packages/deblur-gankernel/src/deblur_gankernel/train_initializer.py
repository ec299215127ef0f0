r"""``deblur train gankernel-initializer``: collaborative training of the kernel initializer (Sec. 3.4).

With the generator :math:`G_k` fixed, the encoder :math:`E` learns to map a blurry crop to the latent
code of its kernel (Eq. 4):

.. math:: \min_{\theta_E} \sum_n \|G_k(E(y_n)) - G_k(z_n)\|_1 + \lambda \|E(y_n) - z_n\|_2^2,
    \qquad z_n = \arg\min_z \|G_k(z) - k_n\|_1, \quad \lambda = 0.1

Every step follows Algorithm 1 on a fresh batch of (blurry crop, kernel) pairs
(:class:`deblur.data.BlurredCrops`): the codes start at the encoder's prediction
:math:`z^{(0)} = E(y_n)` (line 4), take ``inner_steps`` Adam steps on the GAN-inversion loss
:math:`\mathcal L_z` (line 5; :func:`deblur_gankernel.inversion.invert`), then the encoder takes
``outer_steps`` Adam steps on :math:`\mathcal L_E` (line 8). The encoder's learning rate follows Sec.
4.1: Adam from ``lr``, divided by 10 at ``decay[0]`` and again at ``decay[1]`` of the run (the paper
starts at 1e-4; the CPU preset at 1e-3, which in 150-step trials reached a mean MNC of 0.64 against 0.58).

The card records, on held-out crops (seed ``seed + 1_000_003``), the mean MNC between the true kernels
and :math:`G_k(E(y))` (the initializer alone), :math:`G_k(z_{avg})` (the "average" start) and
:math:`G_k(z)` with :math:`z \sim \mathcal N(0, I)` (a random start), Table 4's three initialisations.

Presets (``--set preset=...``): ``fast`` (default: ResNet-18 of width 16 on 128 px crops, batch 32,
learning rate 1e-3, 1300 steps: 15 minutes for 31 px and 30 for 55 px on one loaded CPU core) and
``paper`` (width 64, 256 px crops, learning rate 1e-4, 50000 steps, for a GPU).
The generator is the shipped one of the same size, or ``--set generator=STEM``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from deblur.checks import count, fraction, positive
from deblur.context import torch_threads
from deblur.data import BlurredCrops
from deblur.errors import InputError
from deblur.metrics import kernel_mnc
from deblur.training import Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_gankernel.encoder import EncoderConfig, KernelEncoder
from deblur_gankernel.generator import KernelGenerator
from deblur_gankernel.inversion import invert, l1_distance
from deblur_gankernel.store import STORE, LoadedGenerator, load_generator

__all__ = ["PRESETS", "SETTINGS", "InitializerTraining", "train"]

DEFAULT_SIZE = 31
HELD_OUT = 1_000_003
"""Offset of the seed of the held-out crops from the training seed."""

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"width": 16, "crop": 128, "steps": 1300, "lr": 1e-3},
    "paper": {"width": 64, "crop": 256, "steps": 50000, "lr": 1e-4},
}

SETTINGS: dict[str, Any] = {
    "preset": "fast",
    "width": None,
    "crop": None,
    "generator": None,
    "batch": 32,
    "lr": None,
    "decay": [0.7, 0.9],
    "latent_weight": 0.1,
    "inner_steps": 20,
    "inner_lr": 0.05,
    "outer_steps": 1,
    "noise": [0.0, 0.01],
    "length": [0.3, 1.0],
    "sources": ["dead_leaves", "text", "photos"],
    "checkpoint_every": 100,
    "eval_images": 64,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value (or the shipped generator)."""


class InitializerTraining:
    """The state of Algorithm 1: encoder, its optimiser, the fixed generator, data and loss history."""

    def __init__(
        self,
        encoder: KernelEncoder,
        generator: KernelGenerator,
        data: BlurredCrops,
        rng: torch.Generator,
        *,
        batch: int,
        lr: float,
        decay: tuple[float, float],
        steps: int,
        latent_weight: float,
        inner_steps: int,
        inner_lr: float,
        outer_steps: int,
        device: torch.device,
    ) -> None:
        self.encoder, self.generator, self.data, self.g = encoder, generator, data, rng
        self.batch, self.lr, self.decay, self.steps = batch, lr, decay, steps
        self.latent_weight, self.inner_steps, self.inner_lr = latent_weight, inner_steps, inner_lr
        self.outer_steps, self.device = outer_steps, device
        self.opt = torch.optim.Adam(encoder.parameters(), lr=lr)
        self.step_count = 0
        self.history: dict[str, list[float]] = {"loss": [], "inversion_l1": []}

    def learning_rate(self, step: int) -> float:
        """``lr``, divided by 10 from ``decay[0] * steps`` and by 100 from ``decay[1] * steps``."""
        return self.lr * 0.1 ** sum(step >= d * self.steps for d in self.decay)

    def step(self) -> None:
        """One iteration of Algorithm 1; appends ``L_E`` and mean ``||G(z_n) - k_n||_1`` to the history."""
        y, k = self.data.batch(self.batch, self.g)
        y, k = y.to(self.device), k.to(self.device)
        self.encoder.train()
        with torch.no_grad():
            z0 = self.encoder(y)
        z = invert(self.generator, k, steps=self.inner_steps, lr=self.inner_lr, z=z0)
        with torch.no_grad():
            target = self.generator(z)
        for group in self.opt.param_groups:
            group["lr"] = self.learning_rate(self.step_count)
        for _ in range(self.outer_steps):
            e = self.encoder(y)
            loss = (
                l1_distance(self.generator(e), target) + self.latent_weight * (e - z).square().sum(1)
            ).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        self.step_count += 1
        self.history["loss"].append(float(loss.detach()))
        self.history["inversion_l1"].append(float(l1_distance(target, k).mean()))

    def state(self) -> dict[str, Any]:
        """What a resumed run needs besides the step and the losses (which ``fit`` keeps)."""
        return {
            "config": self.encoder.config.as_dict(),
            "encoder": self.encoder.state_dict(),
            "opt": self.opt.state_dict(),
            "rng": self.g.get_state(),
        }

    def restore(self, state: dict[str, Any], source: Path) -> None:
        """Continue from :meth:`state`; refuses a checkpoint of another architecture."""
        Checkpoint.check_config(state, self.encoder.config.as_dict(), source)
        self.encoder.load_state_dict(state["encoder"])
        self.opt.load_state_dict(state["opt"])
        self.g.set_state(state["rng"])


def evaluate(
    encoder: KernelEncoder, loaded: LoadedGenerator, data: BlurredCrops, seed: int, n: int
) -> dict[str, float]:
    """Table 4's initialisations on ``n`` held-out crops: mean MNC of each start to the true kernel."""
    g = torch.Generator().manual_seed(seed + HELD_OUT)
    network = loaded.network
    device = loaded.average_z.device
    y, k = data.batch(n, g)
    y, k = y.to(device), k.to(device)
    with torch.no_grad():
        starts = {
            "encoder": network(encoder.eval()(y)),
            "average": network(loaded.average_z).expand(n, -1, -1, -1),
            "random": network(torch.randn(n, network.config.latent, generator=g).to(device)),
        }
    return {f"mnc_{name}": round(float(kernel_mnc(est, k).mean()), 4) for name, est in starts.items()}


def _pair(name: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise InputError(f"{name} must be a pair [low, high], got {value!r}")
    return float(value[0]), float(value[1])


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], EncoderConfig, int, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    size = DEFAULT_SIZE if spec.size is None else spec.size
    config = EncoderConfig(
        width=count("width", preset["width"] if s["width"] is None else s["width"], 1),
        crop=count("crop", preset["crop"] if s["crop"] is None else s["crop"], 32),
    )
    for name in ("batch", "inner_steps", "outer_steps", "checkpoint_every", "eval_images", "threads"):
        s[name] = count(name, s[name], 1)
    s["lr"] = positive("lr", preset["lr"] if s["lr"] is None else s["lr"])
    s["inner_lr"] = positive("inner_lr", s["inner_lr"])
    s["latent_weight"] = positive("latent_weight", s["latent_weight"], allow_zero=True)
    s["decay"] = tuple(fraction("decay", d) for d in _pair("decay", s["decay"]))
    s["noise"] = _pair("noise", s["noise"])
    s["length"] = _pair("length", s["length"])
    if isinstance(s["sources"], str):
        s["sources"] = [part.strip() for part in s["sources"].split(",")]
    steps = preset["steps"] if spec.steps is None else spec.steps
    return s, config, size, steps


def train(spec: TrainSpec) -> Path:
    """The ``gankernel-initializer`` trainer: writes ``initializer-{size}.safetensors`` + card.

    Output: ``spec.out`` or the package's ``weights/initializer-{size}``; checkpoints go to
    ``<stem>.ckpt`` every ``checkpoint_every`` steps (``--resume`` continues) and are removed at the end.
    """
    s, config, size, steps = _settings(spec)
    loaded = load_generator(size, s["generator"], spec.device)
    if loaded.network.config.latent != config.latent:
        raise InputError(
            f"the generator's latent has {loaded.network.config.latent} dimensions, not {config.latent}"
        )
    stem = Path(spec.out) if spec.out is not None else STORE.stem("initializer", size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    data = BlurredCrops(size, config.crop, sources=s["sources"], noise=s["noise"], length=s["length"])
    with torch_threads(s["threads"]):
        rng = spec.generator()
        run = InitializerTraining(
            KernelEncoder(config, rng).to(spec.device),
            loaded.network,
            data,
            rng,
            batch=s["batch"],
            lr=s["lr"],
            decay=s["decay"],
            steps=steps,
            latent_weight=s["latent_weight"],
            inner_steps=s["inner_steps"],
            inner_lr=s["inner_lr"],
            outer_steps=s["outer_steps"],
            device=spec.device,
        )
        seconds = fit(run, steps, spec, checkpoint, "initializer")
        spec.progress("evaluate", 1, 1)
        encoder = run.encoder.eval()
        metrics = evaluate(encoder, loaded, data, spec.seed, s["eval_images"])
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=f"{data.describe()}; {s['batch']} per step, {steps} steps",
        metrics={
            **metrics,
            **final_losses(run.history),
            "train_seconds": round(seconds, 1),
        },
        extra={
            "generator": loaded.card.get("command", ""),
            "generator_sha256": loaded.sha256,
            "latent_weight": s["latent_weight"],
            "length": list(s["length"]),
            "noise": list(s["noise"]),
            "sources": list(data.sources),
            "inner": {"steps": s["inner_steps"], "lr": s["inner_lr"], "optimizer": "adam"},
            "optimizer": {"name": "adam", "lr": s["lr"], "decay_at": list(s["decay"]), "factor": 0.1},
            "outer_steps": s["outer_steps"],
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": "Zhang et al., Blind image deconvolution by generative-based kernel prior and "
            "initializer via latent encoding, ECCV 2024, Sec. 3.4, Eq. 4, Algorithm 1",
        },
    )
    written = save_weights(stem, encoder.state_dict(), card)
    checkpoint.remove()
    return written
