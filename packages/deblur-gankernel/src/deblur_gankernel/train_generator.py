r"""``deblur train gankernel-generator``: adversarial training of the kernel generator (Sec. 3.3).

Every step draws a fresh batch of camera-shake kernels (:func:`deblur.kernels.motion_kernel`)
and latent codes :math:`z \sim \mathcal N(0, I)`, then takes one Adam step on the discriminator and
one on the generator with the hinge loss (Lim & Ye 2017; Miyato et al. 2018)

.. math:: L_D = \mathbb E[\max(0, 1 - D(k))] + \mathbb E[\max(0, 1 + D(G(z)))], \qquad
    L_G = -\mathbb E[D(G(z))]

and DCGAN's optimiser (Adam, learning rate 2e-4, betas (0.5, 0.999), batch 64). The hinge loss with a
spectrally normalised discriminator is the pairing that kept both networks learning in CPU-sized runs;
DCGAN's cross-entropy let the discriminator win (see :mod:`deblur_gankernel.generator`).

When the steps are done the generator is frozen in eval mode (batch normalisation on its running
statistics, as every later use runs it on one code), the uniform kernel is inverted (``average_z``,
Table 4's "average" start, stored with the weights) and the card records the mean MNC
(:func:`deblur.metrics.kernel_mnc`) between held-out kernels and their GAN inversions (how well the
manifold covers the data) and between generated samples and their best match among held-out kernels
(how kernel-like the samples are). Held-out kernels come from the seed ``seed + 1_000_003``.

Presets (``--set preset=...``): ``fast`` (the default: ``width=16``, ``disc_width=16``, 4000 steps up to
31 px and 2500 above: about 9 minutes for 31 px and 15 for 55 px on one CPU core) and ``paper`` (DCGAN's
64 channels, 20000 steps, for a GPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from deblur.checks import count, positive
from deblur.context import torch_threads
from deblur.errors import InputError
from deblur.kernels import motion_kernel, normalize
from deblur.metrics import kernel_mnc
from deblur.training import Checkpoint, TrainSpec, check_params, final_losses, fit
from deblur.weights import WeightCard, save_weights
from deblur_gankernel.generator import Discriminator, GeneratorConfig, KernelGenerator
from deblur_gankernel.inversion import invert
from deblur_gankernel.store import STORE

__all__ = ["PRESETS", "SETTINGS", "GanTraining", "train"]

DEFAULT_SIZE = 31
HELD_OUT = 1_000_003
"""Offset of the seed of the held-out kernels from the training seed."""
SAMPLES = 16
"""Generated kernels matched against the held-out ones for the card's ``sample_nearest_mnc``."""

PRESETS: dict[str, dict[str, int]] = {
    "fast": {"width": 16, "disc_width": 16, "steps": 4000, "large_steps": 2500},
    "paper": {"width": 64, "disc_width": 64, "steps": 20000, "large_steps": 20000},
}
LARGE = 32
"""Kernels from this side on default to the preset's ``large_steps`` (a step costs about 3x at 55 px)."""

SETTINGS: dict[str, Any] = {
    "preset": "fast",
    "width": None,
    "disc_width": None,
    "batch": 64,
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "length": [0.3, 1.0],
    "checkpoint_every": 250,
    "eval_kernels": 64,
    "invert_steps": 300,
    "threads": 1,
}
"""Trainer settings (``--set key=value``); ``None`` takes the preset's value."""


class GanTraining:
    """The state of the adversarial training: networks, optimisers, data generator, loss history."""

    def __init__(
        self,
        config: GeneratorConfig,
        generator: torch.Generator,
        *,
        batch: int,
        lr: float,
        betas: tuple[float, float],
        length: tuple[float, float],
        device: torch.device,
    ) -> None:
        self.config, self.g, self.batch, self.length, self.device = config, generator, batch, length, device
        self.generator = KernelGenerator(config, generator).to(device)
        self.discriminator = Discriminator(config, generator).to(device)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)
        self.step_count = 0
        self.history: dict[str, list[float]] = {"loss_d": [], "loss_g": []}

    def step(self) -> None:
        """One discriminator and one generator step; appends ``L_D`` and ``L_G`` to the history."""
        real = motion_kernel(self.config.size, n=self.batch, generator=self.g, length_range=self.length).to(
            self.device
        )
        z = torch.randn(self.batch, self.config.latent, generator=self.g).to(self.device)
        self.generator.train()
        fake = self.generator(z)
        loss_d = (
            F.relu(1 - self.discriminator(real)).mean() + F.relu(1 + self.discriminator(fake.detach())).mean()
        )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        loss_g = -self.discriminator(fake).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step_count += 1
        self.history["loss_d"].append(float(loss_d.detach()))
        self.history["loss_g"].append(float(loss_g.detach()))

    def state(self) -> dict[str, Any]:
        """What a resumed run needs besides the step and the losses (which ``fit`` keeps)."""
        return {
            "config": self.config.as_dict(),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.g.get_state(),
        }

    def restore(self, state: dict[str, Any], source: Path) -> None:
        """Continue from :meth:`state`; refuses a checkpoint of another architecture."""
        Checkpoint.check_config(state, self.config.as_dict(), source)
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.g.set_state(state["rng"])


def evaluate(
    network: KernelGenerator, size: int, seed: int, n: int, steps: int, length: tuple[float, float]
) -> dict[str, float]:
    """Card metrics on ``n`` held-out kernels: inversion MNC and sample-to-nearest-kernel MNC."""
    g = torch.Generator().manual_seed(seed + HELD_OUT)
    device = next(network.parameters()).device
    held = motion_kernel(size, n=n, generator=g, length_range=length).to(device)
    z = invert(network, held, steps=steps)
    with torch.no_grad():
        inverted = float(kernel_mnc(network(z), held).mean())
        m = min(n, SAMPLES)
        samples = network(torch.randn(m, network.config.latent, generator=g).to(device))
        best = torch.stack([kernel_mnc(samples, k[None].expand(m, -1, -1, -1)) for k in held]).amax(0)
    return {"inversion_mnc": round(inverted, 4), "sample_nearest_mnc": round(float(best.mean()), 4)}


def _settings(spec: TrainSpec) -> tuple[dict[str, Any], GeneratorConfig, int]:
    s = check_params(spec, SETTINGS)
    if s["preset"] not in PRESETS:
        raise InputError(f"preset must be one of {', '.join(PRESETS)}, got {s['preset']!r}")
    preset = PRESETS[s["preset"]]
    size = DEFAULT_SIZE if spec.size is None else spec.size
    config = GeneratorConfig(
        size,
        width=preset["width"] if s["width"] is None else s["width"],
        disc_width=preset["disc_width"] if s["disc_width"] is None else s["disc_width"],
    )
    for name in ("batch", "checkpoint_every", "eval_kernels", "invert_steps", "threads"):
        s[name] = count(name, s[name], 1)
    for name in ("lr", "beta1", "beta2"):
        s[name] = positive(name, s[name], allow_zero=name != "lr")
    length = s["length"]
    if not (isinstance(length, (list, tuple)) and len(length) == 2):
        raise InputError(f"length must be a pair [low, high] of fractions of the size, got {length!r}")
    s["length"] = (positive("length low", length[0]), positive("length high", length[1]))
    default = preset["large_steps"] if size >= LARGE else preset["steps"]
    return s, config, default if spec.steps is None else spec.steps


def train(spec: TrainSpec) -> Path:
    """The ``gankernel-generator`` trainer: writes ``generator-{size}.safetensors`` + card, returns its path.

    Output: ``spec.out`` or the package's ``weights/generator-{size}``; a checkpoint ``<stem>.ckpt`` is
    written every ``checkpoint_every`` steps (``--resume`` continues from it) and removed at the end.
    """
    s, config, steps = _settings(spec)
    stem = Path(spec.out) if spec.out is not None else STORE.stem("generator", config.size)
    checkpoint = Checkpoint.beside(stem, s["checkpoint_every"])
    with torch_threads(s["threads"]):
        run = GanTraining(
            config,
            spec.generator(),
            batch=s["batch"],
            lr=s["lr"],
            betas=(s["beta1"], s["beta2"]),
            length=s["length"],
            device=spec.device,
        )
        seconds = fit(run, steps, spec, checkpoint, "gan")

        network = run.generator.eval().requires_grad_(False)
        spec.progress("evaluate", 1, 1)
        uniform = normalize(torch.ones(1, 1, config.size, config.size, device=spec.device))
        average_z = invert(network, uniform, steps=3 * s["invert_steps"])
        metrics = evaluate(network, config.size, spec.seed, s["eval_kernels"], s["invert_steps"], s["length"])
    card = WeightCard(
        command=spec.command,
        architecture=config.as_dict(),
        seed=spec.seed,
        data=(
            f"camera-shake kernels drawn on the fly (Boracchi & Foi trajectories, path length "
            f"U{tuple(s['length'])} x {config.size} px, centred), {s['batch']} per step, {steps} steps"
        ),
        metrics={
            **metrics,
            **final_losses(run.history),
            "train_seconds": round(seconds, 1),
        },
        extra={
            "loss": "hinge",
            "length": list(s["length"]),
            "optimizer": {"name": "adam", "lr": s["lr"], "betas": [s["beta1"], s["beta2"]]},
            "preset": s["preset"],
            "steps": steps,
            "batch": s["batch"],
            "device": str(spec.device),
            "threads": s["threads"],
            "torch": torch.__version__,
            "paper": "Zhang et al., Blind image deconvolution by generative-based kernel prior and "
            "initializer via latent encoding, ECCV 2024, Sec. 3.3",
        },
    )
    tensors = {**network.state_dict(), "average_z": average_z}
    written = save_weights(stem, tensors, card)
    checkpoint.remove()
    return written
