"""Core tests never see installed plugins: autoload is off or the allowlist is empty."""

from __future__ import annotations

import pytest

from deblur.plugins import PluginManager
from deblur.registry import Registry


@pytest.fixture(autouse=True)
def _no_external_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBLUR_LOAD_PLUGINS", "")
    monkeypatch.delenv("DEBLUR_STRICT_PLUGINS", raising=False)


@pytest.fixture
def registry() -> Registry:
    """Core's built-ins only, from a fresh manager."""
    return Registry(PluginManager(autoload=False))
