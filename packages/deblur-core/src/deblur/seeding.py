"""Deterministic construction of networks whose layers initialise from torch's global generator."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch

__all__ = ["draw_seed", "seeded", "seeded_weights"]

T = TypeVar("T")


def draw_seed(generator: torch.Generator) -> int:
    """A 62-bit integer drawn from ``generator`` (to seed something that takes an int)."""
    device = generator.device
    return int(torch.randint(2**62, (1,), generator=generator, device=device).item())


def seeded(seed: int, build: Callable[..., T], *args, **kwargs) -> T:
    """``build(*args, **kwargs)`` with torch's CPU generator seeded by ``seed``, restored afterwards.

    ``torch.nn`` layers draw their initial weights from the global generator; building under a fork of
    it makes the weights a function of ``seed`` alone without disturbing anyone else's draws. Build on
    the CPU and move the module afterwards, so CPU and CUDA runs start from the same weights.
    """
    with seeded_weights(seed):
        return build(*args, **kwargs)


@contextlib.contextmanager
def seeded_weights(seed: int) -> Iterator[None]:
    """Torch's CPU generator seeded with ``seed`` inside the block (a fork: restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
