"""Development sessions: `nox -s tests` (every package + the fixture plugin) and `nox -s lint`."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = sorted(str(p.parent) for p in (ROOT / "packages").glob("*/pyproject.toml"))
#: Core with its optional Dask engine, so the tests run ``--workers`` and ``--scheduler`` on it.
CORE_EXTRAS = str(ROOT / "packages" / "deblur-core") + "[distributed]"
FIXTURE_PLUGIN = str(ROOT / "tests" / "fixtures" / "deblur-fixture-plugin")
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Install every package under packages/ and the fixture plugin, then run pytest."""
    session.install(*CONSTRAINTS, "torch")
    session.install(*CONSTRAINTS, *PACKAGES, CORE_EXTRAS, FIXTURE_PLUGIN, "pytest", "scikit-image")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree (ruff pinned: its formatting changes)."""
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
