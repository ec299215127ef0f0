"""What the three trainers of deblur-ufp share: one network, Adam with a cosine-annealed learning rate,
gradient clipping, and the state a resumed run needs (core's :class:`deblur.training.Resumable`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deblur.training import Checkpoint

__all__ = ["AdamRun"]


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
