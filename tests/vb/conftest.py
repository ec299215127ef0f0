"""deblur-vb tests: the plugin in an isolated registry, and tiny weights trained once per session."""

from __future__ import annotations

from pathlib import Path

import deblur_vb.plugin
import pytest

from deblur.context import torch_threads
from deblur.registry import Registry
from deblur.testing import registry_with
from deblur.training import TrainSpec

SIZE = 9
"""Kernel size of the test weights."""

#: Networks and batches small enough for a test (the shipped presets are far larger).
TINY = {
    "width": 4,
    "scales": 2,
    "blocks": 1,
    "kernel_width": 4,
    "kernel_stages": 2,
    "kernel_blocks": 1,
    "kernel_max_width": 8,
    "kernel_code": 4,
    "crop": 24,
    "batch": 2,
    "eval_pairs": 2,
    "sources": ["dead_leaves"],
}


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here with one torch thread (tests/conftest.py): the networks are tiny."""


@pytest.fixture
def registry() -> Registry:
    """Core's built-ins plus deblur-vb, nothing else that happens to be installed."""
    return registry_with(deblur_vb.plugin)


def train_tiny(structure: str, out: Path, steps: int = 3, **settings) -> Path:
    from deblur_vb.train import train

    spec = TrainSpec(f"vb-{structure}", out=out, size=SIZE, steps=steps, params={**TINY, **settings})
    return train(spec)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stems of tiny kernel-free and kernel-dependent models (three steps each), for ``SIZE`` px kernels."""
    root = tmp_path_factory.mktemp("vb-weights")
    with torch_threads(1):
        return {s: train_tiny(s, root / f"{s}-{SIZE}").with_suffix("") for s in ("kf", "kd")}
