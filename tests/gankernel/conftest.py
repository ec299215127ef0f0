"""deblur-gankernel tests: the plugin in an isolated registry, and tiny weights trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deblur_gankernel.plugin
from deblur.registry import Registry
from deblur.testing import registry_with
from deblur.training import TrainSpec

SIZE = 9
"""Kernel size of the test weights (the smallest the generator builds: 4 -> 5 -> 9)."""

#: Settings small enough for a test (the shipped presets are far larger).
TINY_GENERATOR = {"width": 4, "disc_width": 4, "batch": 8, "eval_kernels": 4, "invert_steps": 5}
TINY_INITIALIZER = {
    "width": 4,
    "crop": 32,
    "batch": 4,
    "inner_steps": 2,
    "eval_images": 4,
    "sources": ["dead_leaves"],
}


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here with one torch thread (tests/conftest.py): the networks are tiny."""


@pytest.fixture
def registry() -> Registry:
    """Core's built-ins plus deblur-gankernel, nothing else that happens to be installed."""
    return registry_with(deblur_gankernel.plugin)


def train_generator(out: Path, steps: int = 3, **settings) -> Path:
    from deblur_gankernel.train_generator import train

    params = {**TINY_GENERATOR, **settings}
    return train(TrainSpec("gankernel-generator", out=out, size=SIZE, steps=steps, params=params))


def train_initializer(out: Path, generator: Path, steps: int = 2, **settings) -> Path:
    from deblur_gankernel.train_initializer import train

    params = {**TINY_INITIALIZER, "generator": str(generator), **settings}
    return train(TrainSpec("gankernel-initializer", out=out, size=SIZE, steps=steps, params=params))


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stems of a tiny generator and an initializer trained against it (a few steps each)."""
    root = tmp_path_factory.mktemp("weights")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = root / "generator-9"
        train_generator(generator)
        initializer = root / "initializer-9"
        train_initializer(initializer, generator)
    finally:
        torch.set_num_threads(threads)
    return {"generator": generator, "initializer": initializer}
