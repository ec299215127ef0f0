"""deblur-kdiff tests: the plugin in an isolated registry, and tiny weights trained once per session."""

from __future__ import annotations

from pathlib import Path

import deblur_kdiff.plugin
import pytest

from deblur.context import torch_threads
from deblur.registry import Registry
from deblur.testing import registry_with
from deblur.training import TrainSpec

SIZE = 9
"""Kernel size of the test weights."""

#: Settings small enough for a test (the shipped presets are far larger).
TINY_DIFFUSION = {
    "widths": [8, 16],
    "features": 4,
    "batch": 4,
    "crop": 32,
    "eval_pairs": 2,
    "eval_steps": 3,
    "sources": ["dead_leaves"],
}
TINY_DWDN = {
    "crop": 24,
    "batch": 2,
    "eval_images": 2,
    "features": 4,
    "widths": [4, 8],
    "sources": ["dead_leaves"],
}


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here with one torch thread (tests/conftest.py): the networks are tiny."""


@pytest.fixture
def registry() -> Registry:
    """Core's built-ins plus deblur-kdiff, nothing else that happens to be installed."""
    return registry_with(deblur_kdiff.plugin)


def train_diffusion(out: Path, steps: int = 3, **settings) -> Path:
    from deblur_kdiff.train_diffusion import train

    params = {**TINY_DIFFUSION, **settings}
    return train(TrainSpec("kdiff-diffusion", out=out, size=SIZE, steps=steps, params=params))


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stems of a tiny denoiser and a tiny DWDN (a few steps each), for ``SIZE`` px kernels."""
    from deblur_kdiff.train_dwdn import train

    root = tmp_path_factory.mktemp("kdiff-weights")
    with torch_threads(1):
        train_diffusion(root / "diffusion-9")
        train(TrainSpec("kdiff-dwdn", out=root / "dwdn-9", size=SIZE, steps=2, params=TINY_DWDN))
    return {"diffusion": root / "diffusion-9", "dwdn": root / "dwdn-9"}
