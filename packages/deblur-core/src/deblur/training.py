"""What a training command receives (:class:`TrainSpec`) and resumable checkpoints (:class:`Checkpoint`).

Plugins register trainers with the ``deblur_trainers`` hook; ``deblur train NAME ...`` builds a
:class:`TrainSpec` from the command line and calls the trainer, which writes ``.safetensors`` + card with
:func:`deblur.weights.save_weights` and records :attr:`TrainSpec.command` there, so every shipped file
names the command that recreates it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch

from deblur.context import Progress, silent
from deblur.errors import InputError
from deblur.io import atomic_write

__all__ = ["Checkpoint", "TrainSpec", "check_params"]


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
