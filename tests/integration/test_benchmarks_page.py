"""docs/benchmarks.md is exactly what the results in bench/results give: no figure on it is typed by hand."""

from __future__ import annotations

import re
from pathlib import Path

from deblur.benchdoc import render_page, sections
from deblur.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_page_is_rendered_from_its_results() -> None:
    page = render_page(Registry(), ROOT / "bench" / "results", ROOT / "docs")
    assert page == (ROOT / "docs" / "benchmarks.md").read_text(), (
        "docs/benchmarks.md differs from its results: python -m deblur.benchdoc --only-existing"
    )


def test_every_declared_run_has_its_result_and_every_picture_exists() -> None:
    runs = {run.name for record in sections(Registry()) for run in record.runs}
    assert {"levin-classic", "levin-dipmc", "levin-gankernel"} <= runs
    missing = sorted(name for name in runs if not (ROOT / "bench" / "results" / f"{name}.json").is_file())
    assert not missing, f"runs without results: {missing}"
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    pictures = re.findall(r"\]\((images/[^)]+\.png)\)", page)
    assert pictures and all((ROOT / "docs" / p).is_file() for p in pictures)
