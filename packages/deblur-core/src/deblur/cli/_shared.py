"""What several commands share: JSON and table output, the progress bar."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import click

__all__ = ["ProgressLine", "emit_json", "progress_bar", "table"]


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


class ProgressLine:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str) -> None:
        self.label, self.last, self.stage = label, 0.0, ""

    def __call__(self, stage: str, step: int, total: int, /, **metrics: float) -> None:
        now = time.monotonic()
        if stage == self.stage and step < total and now - self.last < 0.1:
            return
        self.last, self.stage = now, stage
        filled = int(20 * step / max(total, 1))
        extra = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        line = f"\r{self.label} {stage} [{'#' * filled}{'.' * (20 - filled)}] {step}/{total} {extra}"
        click.echo(line.ljust(100)[:120], nl=False, err=True)

    def close(self) -> None:
        if self.stage:
            click.echo("", err=True)


@contextlib.contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[ProgressLine | None]:
    """A :class:`ProgressLine` closed on exit; ``None`` when ``quiet`` or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    line = ProgressLine(label)
    try:
        yield line
    finally:
        line.close()
