"""What a running solver receives besides the image: sizes, randomness, device and progress."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch


class Progress(Protocol):
    """Progress callback: ``progress(stage, step, total, loss=0.1, ...)``.

    ``stage`` names the phase (e.g. ``"scale 2/5"``), ``step`` counts from 1 to ``total`` within it and
    keyword metrics are optional floats to display. Callbacks must be cheap; solvers call them at most
    once per iteration.
    """

    def __call__(self, stage: str, step: int, total: int, /, **metrics: float) -> None: ...


def silent(stage: str, step: int, total: int, /, **metrics: float) -> None:
    """A :class:`Progress` callback that ignores everything."""


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (``None``: unchanged), restored afterwards."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class RunContext:
    """Run-wide settings handed to a blind solver.

    Attributes:
        kernel_size: odd kernel support in pixels, or ``None`` to let the solver choose.
        seed: seed of every random draw of the run; the same seed gives the same result.
        device: where tensors live; the observation is already on it.
        progress: callback for long loops.
    """

    kernel_size: int | None = None
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: Progress = silent

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh generator seeded with ``seed + offset`` on the run's device."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.seed + offset)
        return gen
