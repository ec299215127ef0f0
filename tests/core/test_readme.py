"""The README's layout names every package of the repository."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_layout_lists_every_package() -> None:
    layout = ROOT.joinpath("README.md").read_text().split("## Layout", 1)[1].split("```")[1]
    listed = {line.split()[0] for line in layout.strip().splitlines()}
    packages = {f"packages/{p.parent.name}/" for p in ROOT.glob("packages/*/pyproject.toml")}
    assert packages and packages <= listed, sorted(packages - listed)
