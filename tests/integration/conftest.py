"""Integration tests run against installed distributions (``nox -s tests`` installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import deblur_fixture  # noqa: F401
except ImportError:
    if os.environ.get("DEBLUR_REQUIRE_INTEGRATION"):
        raise
    pytest.skip("the fixture plugin is not installed; run `nox -s tests`", allow_module_level=True)


def _script() -> str:
    candidate = Path(sys.executable).parent / "deblur"
    return str(candidate) if candidate.exists() else shutil.which("deblur") or "deblur"


@pytest.fixture
def deblur_cli():
    """Run the installed ``deblur`` console script: ``deblur_cli(*args, env_extra={...})``."""

    def call(*args: str, pythonpath: str | None = None, **env: str) -> subprocess.CompletedProcess:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DEBLUR_")}
        environment.update(env)
        if pythonpath:
            environment["PYTHONPATH"] = pythonpath
        return subprocess.run(
            [_script(), *args], capture_output=True, text=True, env=environment, timeout=300
        )

    return call
