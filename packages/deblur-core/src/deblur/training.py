"""What a training command receives (:class:`TrainSpec`), resumable checkpoints (:class:`Checkpoint`) and
the loop that drives a training run with both (:func:`fit`), and the usual state of such a run
(:class:`AdamRun`: one network, Adam, a cosine-annealed learning rate).

Plugins register trainers with the ``deblur_trainers`` hook; ``deblur train NAME ...`` builds a
:class:`TrainSpec` from the command line and calls the trainer, which writes ``.safetensors`` + card with
:func:`deblur.weights.save_weights` and records :attr:`TrainSpec.command` there, so every shipped file
names the command that recreates it. A trainer whose state is a :class:`Resumable` hands the loop to
:func:`fit` (progress, checkpoints, ``--resume``, the clock) and records :func:`final_losses` in its card.
"""

from __future__ import annotations

import json
import logging
import math
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import torch
from torch import nn

from deblur.context import Progress, silent
from deblur.errors import InputError
from deblur.io import atomic_write

__all__ = ["AdamRun", "Checkpoint", "Resumable", "TrainSpec", "check_params", "final_losses", "fit"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSpec:
    """One training run, as the user asked for it.

    Attributes:
        name: the trainer's registered name.
        out: weight stem chosen by the user (``name`` of ``name.safetensors`` + ``name.json``);
            ``None`` lets the trainer write to its package's shipped location.
        size: kernel or image size the weights are for, when the trainer has one.
        steps: optimisation steps; ``None`` takes the trainer's default.
        seed: seed of every random draw.
        device: where to train.
        resume: continue from the checkpoint next to the output if there is one.
        params: trainer-specific settings (``--set key=value``; values JSON-decoded).
        progress: progress callback.
    """

    name: str
    out: Path | None = None
    size: int | None = None
    steps: int | None = None
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    resume: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    progress: Progress = silent

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        for label, value, minimum in (("size", self.size, 1), ("steps", self.steps, 1)):
            if value is not None and (isinstance(value, bool) or int(value) != value or value < minimum):
                raise InputError(f"{label} must be an integer >= {minimum}, got {value!r}")

    @property
    def command(self) -> str:
        """The command line that reproduces the weights (output path and device left out)."""
        words = ["deblur", "train", self.name]
        if self.size is not None:
            words += ["--size", str(self.size)]
        if self.steps is not None:
            words += ["--steps", str(self.steps)]
        words += ["--seed", str(self.seed)]
        for key, value in sorted(self.params.items()):
            text = value if isinstance(value, str) else json.dumps(value)
            words += ["--set", f"{key}={text}"]
        return shlex.join(words)

    def generator(self) -> torch.Generator:
        """A CPU generator seeded with :attr:`seed` (draw on CPU, then move: same data on any device)."""
        gen = torch.Generator()
        gen.manual_seed(self.seed)
        return gen


def check_params(spec: TrainSpec, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` updated by ``spec.params``; an unknown key is an :class:`InputError` listing the known."""
    unknown = sorted(set(spec.params) - set(defaults))
    if unknown:
        raise InputError(
            f"trainer {spec.name!r} has no setting {', '.join(map(repr, unknown))}; "
            f"settings: {', '.join(sorted(defaults))}"
        )
    return {**defaults, **spec.params}


class Checkpoint:
    """Training state saved every ``every`` steps to ``path`` (atomically), for ``--resume``.

    A trainer saves whatever it needs to continue exactly (model and optimiser ``state_dict``s, the step,
    the loss history, the random generator's state) and removes the file once the weights are written.
    """

    def __init__(self, path: str | Path, every: int) -> None:
        if every < 1:
            raise InputError(f"checkpoint interval must be >= 1, got {every}")
        self.path, self.every = Path(path), int(every)

    @classmethod
    def beside(cls, stem: str | Path, every: int) -> Checkpoint:
        """The checkpoint of the weights ``stem``: ``<stem>.ckpt`` in the same folder."""
        stem = Path(stem)
        return cls(stem.with_name(stem.name + ".ckpt"), every)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is no checkpoint; an unreadable one is an error."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for truncated or foreign files
            reason = f"checkpoint {self.path} is unreadable ({exc}); delete it to start over"
            raise InputError(reason) from exc
        if not isinstance(state, dict) or "step" not in state:
            raise InputError(f"checkpoint {self.path} holds no training state; delete it to start over")
        return state

    def save(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` (it must hold ``"step"``) atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path) as tmp:
            torch.save(dict(state), tmp)

    def maybe_save(self, step: int, state: Callable[[], Mapping[str, Any]]) -> None:
        """Save ``state()`` when ``step`` is a multiple of the interval."""
        if step % self.every == 0:
            self.save(state())

    def remove(self) -> None:
        """Delete the checkpoint (after the final weights are written)."""
        self.path.unlink(missing_ok=True)

    @staticmethod
    def check_config(state: Mapping[str, Any], config: Mapping[str, Any], source: Path) -> None:
        """Refuse a saved ``state`` written for another architecture than ``config`` (its ``"config"``)."""
        if state.get("config") != config:
            raise InputError(
                f"checkpoint {source} was written for {state.get('config')}, not {dict(config)}; "
                "delete it or run without --resume"
            )


class Resumable(Protocol):
    """A training run :func:`fit` can drive: one step at a time, with a state to checkpoint.

    ``step`` advances ``step_count`` and appends one value to each loss in ``history``; ``state()`` holds
    everything else a resumed run needs to continue exactly (models, optimisers, random state), and
    ``restore(state, source)`` loads it back (``source`` names the file in errors). :func:`fit` saves
    and restores ``step_count`` and ``history`` itself.
    """

    step_count: int
    history: dict[str, list[float]]

    def step(self) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any], source: Path) -> None: ...


def fit(run: Resumable, steps: int, spec: TrainSpec, checkpoint: Checkpoint, stage: str) -> float:
    """Step ``run`` until ``steps``; returns the training time in seconds, resumed runs included.

    With ``spec.resume`` the run first continues from ``checkpoint`` when there is one (without one it
    starts from step 0 and logs a warning, so a job script may always pass ``--resume``). Every step
    reports ``spec.progress(stage, step, steps, **latest losses)``; every ``checkpoint.every`` steps the
    state is saved with the time spent so far, so an interrupted run resumed to the end gives the same
    weights as an uninterrupted one.
    """
    saved = checkpoint.load() if spec.resume else None
    if spec.resume and saved is None:
        log.warning("no checkpoint at %s: training from step 0", checkpoint.path)
    elapsed = 0.0
    if saved is not None:
        run.restore(saved, checkpoint.path)
        run.step_count = int(saved["step"])
        run.history = {name: list(values) for name, values in saved.get("history", {}).items()}
        elapsed = float(saved.get("elapsed", 0.0))
    start = time.perf_counter() - elapsed

    def state() -> dict[str, Any]:
        return {
            **run.state(),
            "step": run.step_count,
            "history": {name: list(values) for name, values in run.history.items()},
            "elapsed": time.perf_counter() - start,
        }

    while run.step_count < steps:
        run.step()
        spec.progress(stage, run.step_count, steps, **{name: v[-1] for name, v in run.history.items()})
        checkpoint.maybe_save(run.step_count, state)
    return time.perf_counter() - start


def final_losses(history: Mapping[str, list[float]]) -> dict[str, float]:
    """Each loss averaged over the last tenth of the run (1 to 100 steps), rounded: what a card records."""
    out = {}
    for name, values in history.items():
        if not values:
            raise InputError(f"loss {name!r} has no values; train at least one step")
        tail = values[-max(1, min(100, len(values) // 10)) :]
        out[name] = round(sum(tail) / len(tail), 4)
    return out


class AdamRun:
    """A run's network, optimiser, random generator, step count and loss history.

    ``build()`` makes the network after torch's global generator is seeded from ``g`` (so its
    initialisation follows the run's seed); the learning rate falls from ``lr`` to 0 over ``steps`` by a
    cosine; :meth:`update` clips the gradients' norm to ``clip``. Subclasses define ``step()``.
    """

    def __init__(
        self,
        config: Any,
        build: Callable[[], nn.Module],
        g: torch.Generator,
        *,
        lr: float,
        steps: int,
        device: torch.device,
        losses: tuple[str, ...],
        betas: tuple[float, float] = (0.9, 0.999),
        clip: float = 1.0,
    ) -> None:
        self.config, self.g, self.lr, self.steps, self.device, self.clip = config, g, lr, steps, device, clip
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=g)))
        self.network = build().to(device)
        self.opt = torch.optim.Adam(self.network.parameters(), lr=lr, betas=betas)
        self.step_count = 0
        self.history: dict[str, list[float]] = {name: [] for name in losses}

    def schedule(self) -> None:
        """Set this step's learning rate: ``lr (1 + cos(pi step / steps)) / 2``."""
        for group in self.opt.param_groups:
            group["lr"] = self.lr * 0.5 * (1 + math.cos(math.pi * self.step_count / self.steps))

    def update(self, objective: torch.Tensor, /, **losses: torch.Tensor) -> None:
        """One clipped Adam step on ``objective``; appends each of ``losses`` to the history."""
        self.opt.zero_grad(set_to_none=True)
        objective.backward()
        torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.clip)
        self.opt.step()
        self.step_count += 1
        for name, value in losses.items():
            self.history[name].append(float(value.detach()))

    def state(self) -> dict[str, Any]:
        return {
            "config": self.config.as_dict(),
            "network": self.network.state_dict(),
            "opt": self.opt.state_dict(),
            "rng": self.g.get_state(),
        }

    def restore(self, state: dict[str, Any], source: Path) -> None:
        Checkpoint.check_config(state, self.config.as_dict(), source)
        self.network.load_state_dict(state["network"])
        self.opt.load_state_dict(state["opt"])
        self.g.set_state(state["rng"])
