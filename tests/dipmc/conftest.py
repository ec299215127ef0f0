"""deblur-dipmc tests: the plugin module registered into an isolated manager, and tiny settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

import deblur_dipmc.plugin
from deblur.plugins import PluginManager
from deblur.registry import Registry

#: Networks and schedules small enough for a test (the fast preset is far larger).
TINY = {
    "solver": {"steps": 20, "crop": None, "mc_samples": 2},
    "image_net": {"width": 8, "levels": 2, "skip": 2},
    "kernel_rep": {"hidden": 16},
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The networks here are tiny: one thread is faster, and far faster on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def registry() -> Registry:
    """Core's built-ins plus deblur-dipmc, nothing else that happens to be installed."""
    manager = PluginManager(autoload=False)
    manager.register(deblur_dipmc.plugin, "dipmc", distribution="deblur-dipmc", version="test")
    return Registry(manager)
