"""Shared test helpers: real distributions written to a temporary path, found by importlib.metadata.

An isolated registry of core plus given plugins is :func:`deblur.testing.registry_with`, the helper
plugin authors use too (re-exported here for older imports).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deblur.testing import registry_with

__all__ = ["install_plugin", "registry_with", "write_distribution"]


def write_distribution(
    root: Path, dist: str, version: str, modules: dict[str, str], entry_points: dict[str, str]
) -> Path:
    """Write ``modules`` (name -> source) and a ``.dist-info`` declaring ``entry_points`` in group
    ``deblur`` (name -> module) under ``root``; putting ``root`` on the path installs them."""
    root.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[deblur]\n{lines}")
    return root


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """``install_plugin(dist, version, modules, entry_points)`` makes a plugin discoverable in-process
    (and returns the folder to put on PYTHONPATH for subprocesses)."""
    created: list[str] = []

    def install(dist: str, version: str, modules: dict[str, str], entry_points: dict[str, str]) -> Path:
        root = write_distribution(tmp_path / dist, dist, version, modules, entry_points)
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        created.extend(modules)
        return root

    yield install
    for name in created:
        sys.modules.pop(name, None)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: the networks of a test are tiny, and the machine is shared."""
    from deblur.context import torch_threads

    with torch_threads(1):
        yield
