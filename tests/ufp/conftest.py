"""deblur-ufp tests: the plugin in an isolated registry, tiny random flows, and tiny weights trained once."""

from __future__ import annotations

from pathlib import Path

import deblur_ufp.plugin
import pytest
import torch
from deblur_ufp.flow import FlowConfig, KernelFlow

from deblur.context import torch_threads
from deblur.registry import Registry
from deblur.testing import registry_with
from deblur.training import TrainSpec

SIZE = 5
"""Kernel size of the test weights."""

#: Settings small enough for a test (the shipped presets are far larger).
TINY_FLOW = {"couplings": 2, "hidden": 16, "layers": 1, "batch": 8, "standardise": 64, "eval_kernels": 16}
TINY_ESTIMATOR = {
    "widths": [4, 8],
    "cell": 8,
    "crop": 16,
    "batch": 2,
    "grid": 2,
    "eval_pairs": 2,
    "sources": ["dead_leaves"],
}
TINY_DEBLUR = {
    "width": 4,
    "enc_blocks": [1],
    "middle_blocks": 1,
    "crop": 16,
    "batch": 2,
    "grid": 2,
    "eval_pairs": 2,
    "sources": ["dead_leaves"],
}


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here with one torch thread (tests/conftest.py): the networks are tiny."""


@pytest.fixture
def registry() -> Registry:
    """Core's built-ins plus deblur-ufp, nothing else that happens to be installed."""
    return registry_with(deblur_ufp.plugin)


def random_flow(
    size: int = SIZE, seed: int = 0, dtype: torch.dtype = torch.float64, couplings: int = 4
) -> KernelFlow:
    """A flow that is not the identity: the zero-initialised coupling heads, the ActNorms and the
    standardisation set to random values."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        flow = KernelFlow(FlowConfig(size, couplings=couplings, hidden=12, layers=1)).to(dtype)
    randomise(flow, seed)
    return flow.eval().requires_grad_(False)


@torch.no_grad()
def randomise(flow: KernelFlow, seed: int = 0) -> KernelFlow:
    """Set ``flow``'s coupling heads, ActNorms and standardisation (in place) to random values."""
    g = torch.Generator().manual_seed(seed)

    def draw(t: torch.Tensor, scale: float, shift: float = 0.0) -> None:
        t.copy_(shift + scale * torch.randn(t.shape, generator=g, dtype=torch.float64))

    for name, tensor in flow.named_parameters():
        if name.endswith("head.weight") or name.endswith("head.bias"):
            draw(tensor, 0.1)
        elif name.endswith("log_scale"):
            draw(tensor, 0.2)
        elif name.endswith("shift"):
            draw(tensor, 0.5)
    flow.mean.copy_(-6 * torch.rand(flow.dim, generator=g, dtype=torch.float64))
    flow.std.copy_(0.5 + torch.rand(flow.dim, generator=g, dtype=torch.float64))
    return flow


def train_flow(out: Path, steps: int = 3, seed: int = 0, **settings) -> Path:
    from deblur_ufp.train_flow import train

    params = {**TINY_FLOW, **settings}
    return train(TrainSpec("ufp-flow", out=out, size=SIZE, steps=steps, seed=seed, params=params))


def train_estimator(out: Path, flow: Path, steps: int = 3, seed: int = 0, **settings) -> Path:
    from deblur_ufp.train_estimator import train

    params = {**TINY_ESTIMATOR, "flow": str(flow), **settings}
    return train(TrainSpec("ufp-estimator", out=out, size=SIZE, steps=steps, seed=seed, params=params))


def train_deblur(out: Path, estimator: Path, flow: Path, steps: int = 3, seed: int = 0, **settings) -> Path:
    from deblur_ufp.train_deblur import train

    params = {**TINY_DEBLUR, "estimator": str(estimator), "flow": str(flow), **settings}
    return train(TrainSpec("ufp-deblur", out=out, size=SIZE, steps=steps, seed=seed, params=params))


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stems of tiny ``SIZE`` px networks, a few steps each: ``flow`` (seed 0), ``other_flow`` (seed 1),
    ``estimator`` (through ``flow``), ``other_estimator`` (through ``flow``, seed 1) and ``deblur`` (on
    ``estimator``)."""
    root = tmp_path_factory.mktemp("ufp-weights")
    stems = {
        name: root / f"{name}-{SIZE}"
        for name in ("flow", "other_flow", "estimator", "other_estimator", "deblur")
    }
    with torch_threads(1):
        train_flow(stems["flow"])
        train_flow(stems["other_flow"], seed=1)
        train_estimator(stems["estimator"], stems["flow"], steps=2)
        train_estimator(stems["other_estimator"], stems["flow"], steps=2, seed=1)
        train_deblur(stems["deblur"], stems["estimator"], stems["flow"], steps=2)
    return stems
