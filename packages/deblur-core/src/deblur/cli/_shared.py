"""What several commands share: JSON and table output, the progress bar."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from deblur.parallel import Workers

__all__ = ["ProgressLine", "emit_json", "progress_bar", "read_workers", "table", "worker_options"]


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

    def echo(self, text: str, err: bool = False) -> None:
        """Print ``text`` on a line of its own above the bar; the next update redraws the bar."""
        if self.stage:
            click.echo("\r" + " " * 100 + "\r", nl=False, err=True)
        click.echo(text, err=err)
        self.last = 0.0


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


def worker_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--workers``, ``--threads`` and ``--scheduler``, read by the command as one ``workers`` argument
    (a :class:`deblur.parallel.Workers`)."""
    options = [
        click.option(
            "--workers",
            "count",
            type=int,
            default=1,
            show_default=True,
            help="Worker processes on this machine, one image each at a time (on Dask's LocalCluster "
            "with deblur-core[distributed] installed, else a local process pool).",
        ),
        click.option(
            "--threads",
            type=int,
            help="Torch threads per image. Default: the cores divided by --workers; with --scheduler 1; "
            "with one worker, torch's choice.",
        ),
        click.option(
            "--scheduler",
            envvar="DEBLUR_SCHEDULER",
            metavar="ADDRESS",
            help="Send the images to a running dask.distributed scheduler, e.g. tcp://10.0.0.5:8786 "
            "(env DEBLUR_SCHEDULER); this process reads the inputs and writes the outputs.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def read_workers(count: int, threads: int | None, scheduler: str | None) -> Workers:
    """The three options as a checked :class:`deblur.parallel.Workers`."""
    from deblur.parallel import Workers

    return Workers(count, threads, scheduler or None)
