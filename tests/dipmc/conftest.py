"""deblur-dipmc tests: the plugin module registered into an isolated manager, and tiny settings."""

from __future__ import annotations

import pytest

import deblur_dipmc.plugin
from deblur.registry import Registry
from deblur.testing import registry_with

#: Networks and schedules small enough for a test (the fast preset is far larger).
TINY = {
    "solver": {"crop": None},
    "estimator": {"steps": 20, "mc_samples": 2},
    "estimator.image_net": {"width": 8, "levels": 2, "skip": 2},
    "estimator.kernel_rep": {"hidden": 16},
}


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Every test here with one torch thread (tests/conftest.py): the networks are tiny."""


@pytest.fixture
def registry() -> Registry:
    """Core's built-ins plus deblur-dipmc, nothing else that happens to be installed."""
    return registry_with(deblur_dipmc.plugin)
