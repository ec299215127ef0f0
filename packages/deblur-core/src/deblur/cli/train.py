"""``deblur train``: train the weights a plugin ships."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from deblur.cli._shared import progress_bar, table
from deblur.settings import parse_train_settings

if TYPE_CHECKING:
    from deblur.cli import State


@click.command("train")
@click.argument("name", required=False)
@click.option("--size", type=int, help="Kernel (or image) size the weights are for.")
@click.option("--steps", type=int, help="Training steps (default: the trainer's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Weight stem to write (default: the package's own)."
)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint next to the output.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Trainer setting (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def train_command(
    state: State,
    name: str | None,
    size: int | None,
    steps: int | None,
    seed: int,
    device: str,
    out: Path | None,
    resume: bool,
    settings: tuple[str, ...],
    quiet: bool,
) -> None:
    """Train the weights a plugin ships (NAME from the list shown without one)."""
    registry = state.registry()
    if name is None:
        rows = [[e.name, e.distribution or e.plugin, e.record.summary] for e in registry.all(["trainer"])]
        table(rows, ["TRAINER", "PLUGIN", "SUMMARY"])
        return
    entry = registry.get("trainer", name)
    import torch

    from deblur.inputs import pick_device
    from deblur.outputs import check_writable
    from deblur.training import TrainSpec

    if out is not None:
        check_writable(out.parent)

    target = pick_device(device, torch.empty(0))
    with progress_bar(name, quiet) as progress:
        spec = TrainSpec(
            name=name,
            out=out,
            size=size,
            steps=steps,
            seed=seed,
            device=target,
            resume=resume,
            params=parse_train_settings(settings),
            **({"progress": progress} if progress is not None else {}),
        )
        written = entry.record.load_factory()(spec)
    click.echo(f"wrote {written}")
