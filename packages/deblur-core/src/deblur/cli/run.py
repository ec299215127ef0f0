"""``deblur run``: deblur images with a method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deblur.cli._shared import progress_bar, read_workers, worker_options
from deblur.errors import CompositionError, InputError
from deblur.settings import parse_settings, parse_uses

if TYPE_CHECKING:
    import torch

    from deblur.cli import State
    from deblur.io import ImageInfo
    from deblur.parallel import Workers
    from deblur.pipeline import Plan, RunJob
    from deblur.registry import Registry
    from deblur.result import Result


@click.command("run")
@click.argument("method")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("deblurred"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--kernel-size",
    type=int,
    help="Odd kernel support in pixels, at most half the smaller image side. Default: the method's rule; "
    "core's, used by classic, is min(H, W) // 10 made odd, within [7, 75]. Set it for larger shake.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="SLOT.PARAM=VALUE",
    help="Set a parameter, e.g. solver.iterations=500 (repeatable).",
)
@click.option(
    "--use",
    "uses",
    multiple=True,
    metavar="SLOT=COMPONENT",
    help="Fill a slot with a component, e.g. nonblind.prior=tv (repeatable).",
)
@click.option(
    "--kernel-prior",
    help="Fill the method's slot named kernel_prior (any depth; of several, the one NAME fits) with NAME.",
)
@click.option(
    "--image-prior",
    help="Fill the method's slot named image_prior (any depth; of several, the one NAME fits) with NAME.",
)
@click.option("--kernel-rep", help="Fill the method's one slot named kernel_rep (e.g. estimator.kernel_rep).")
@click.option("--nonblind", help="Shortcut for --use nonblind=NAME.")
@click.option(
    "--no-fallback",
    is_flag=True,
    help="Write the estimate even where its confidence says it may be worse than the input "
    "(by default the input is kept as the result there, the estimate written beside it, with a warning).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Skip the inputs whose report is in the output folder already (written last, once all of an "
    "input's outputs are in place).",
)
@worker_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def run_command(
    state: State,
    method: str,
    inputs: tuple[Path, ...],
    out_dir: Path,
    kernel_size: int | None,
    seed: int,
    device: str,
    settings: tuple[str, ...],
    uses: tuple[str, ...],
    kernel_prior: str | None,
    image_prior: str | None,
    kernel_rep: str | None,
    nonblind: str | None,
    no_fallback: bool,
    resume: bool,
    count: int,
    threads: int | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Deblur INPUTS with METHOD; write the image, kernel (PNG, .npy) and a JSON report per input.

    Each input's outputs are written as soon as it is done. An input that fails is named with its error
    and the others run on; the exit code is then 1."""
    from deblur.inputs import check_kernel_size, pick_device
    from deblur.io import read_image
    from deblur.outputs import check_writable
    from deblur.pipeline import RunJob, resolve_method

    # everything that can be refused is refused before the first deblur: the workers, the output
    # folder, clashing names, the composition, its parameters and weights, then every input
    workers = read_workers(count, threads, scheduler)
    check_writable(out_dir)
    check_distinct_stems(inputs, out_dir)
    registry = state.registry()
    components = parse_uses(uses)
    shortcuts = {"kernel_prior": kernel_prior, "image_prior": image_prior, "kernel_rep": kernel_rep}
    components.update(shortcut_paths(registry, resolve_method(registry, method, components), shortcuts))
    if nonblind:  # the last stage of every blind method, a top-level slot
        components["nonblind"] = nonblind
    params = parse_settings(settings)
    resolve_method(registry, method, components, params).build()  # loads (and verifies) any weights
    todo = [p for p in inputs if not (resume and (out_dir / f"{p.stem}-report.json").is_file())]
    for path in inputs:
        if path not in todo:
            click.echo(f"{path}: done already ({out_dir / f'{path.stem}-report.json'}; --resume)")
    infos = {}
    for path in todo:  # read here to refuse a bad one now; the work reads each again when it starts
        image, infos[path] = read_image(path)
        check_kernel_size(kernel_size, image.shape[-2:])
        if not workers.scheduler:  # a cluster's workers may have a GPU this machine lacks
            pick_device(device, image)
        del image
    job = RunJob(
        method,
        kernel_size,
        seed,
        device,
        components,
        params,
        fallback=not no_fallback,
        plugins=not state.no_plugins,
        registry=registry,
    )
    failed = deblur_all(job, infos, out_dir, workers, quiet, debug=state.debug)
    if failed:
        click.echo(
            f"deblur: {len(failed)} of {len(infos)} inputs failed: {', '.join(map(str, failed))}", err=True
        )
        raise click.exceptions.Exit(1)


class InputImages(Sequence):
    """The pixels of ``paths``, each read when it is asked for (when its work starts), so thousands of
    photos need not fit in memory at once."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:  # type: ignore[override]
        from deblur.io import read_image

        return read_image(self.paths[index])[0]


def deblur_all(
    job: RunJob,
    inputs: dict[Path, ImageInfo],
    out_dir: Path,
    workers: Workers,
    quiet: bool,
    *,
    debug: bool = False,
) -> list[Path]:
    """Run ``job`` on every input (here, with one progress bar each, or on ``workers``, with one bar
    over all), writing each one's outputs as it finishes; returns the inputs that failed."""
    from dataclasses import replace

    from deblur.parallel import Failure, each_done

    paths, failed = list(inputs), []
    with progress_bar("deblur", quiet or workers.serial) as bar:
        if workers.serial:  # one input after another, in order, each with its own progress bar
            names = iter(path.name for path in paths)

            def run_here(image: torch.Tensor) -> Result:
                with progress_bar(next(names), quiet) as progress:
                    return replace(job, progress=progress)(image)

            outcomes = each_done(run_here, InputImages(paths), workers)
        else:
            outcomes = each_done(job, InputImages(paths), workers)
        for done, (index, outcome) in enumerate(outcomes, 1):
            path = paths[index]
            say = bar.echo if bar is not None else click.echo
            if isinstance(outcome, Failure):
                failed.append(path)
                say(f"deblur: error: {path}: {outcome.error}", err=True)
                if debug and outcome.traceback:
                    say(outcome.traceback, err=True)
            else:
                say(write_outputs(outcome, path, inputs[path], out_dir))
                for confidence in outcome.confidence:
                    if not confidence.reliable:
                        say(f"deblur: warning: {path}: {confidence.warning()}", err=True)
            if bar is not None:
                bar("images", done, len(paths))
    return failed


def write_outputs(result: Result, path: Path, info: ImageInfo, out_dir: Path) -> str:
    """Write ``result`` as ``path``'s outputs (its image in the input's format where deblur writes that
    format, else PNG); the line that says where."""
    from deblur.outputs import write_result
    from deblur.plugins.manager import core_version

    extension = (
        path.suffix.lower() if path.suffix.lower() in {".png", ".tif", ".tiff", ".jpg", ".jpeg"} else ".png"
    )
    files = write_result(
        result,
        out_dir,
        path.stem,
        info,
        source=path,
        extension=extension,
        report={"deblur-core": core_version()},
    )
    seconds = result.timings.get("total", 0.0)
    return f"{path}: {out_dir / files['deblurred' + extension]} ({seconds:.1f} s)"


def shortcut_paths(registry: Registry, plan: Plan, shortcuts: dict[str, str | None]) -> dict[str, str]:
    """``{"kernel_rep": "simplex"}`` -> ``{"estimator.kernel_rep": "simplex"}``: each shortcut fills the
    plan's slot of that name, wherever it is; where there are several (``kdiff``'s
    ``estimator.kernel_prior`` and ``refiner.kernel_prior``), the one the component fits. No such slot,
    none that it fits or several is a one-line error naming the slots and what they need."""
    chosen = {}
    for slot, name in shortcuts.items():
        if not name:
            continue
        option, slots = f"--{slot.replace('_', '-')}", plan.slot_paths(slot)
        if not slots:
            raise InputError(f"{option}: {plan.method!r} has no such slot; name one with --use PATH={name}")
        if len(slots) > 1:
            entry = registry.get(next(iter(slots.values())).kind, name)
            fits = [path for path, req in slots.items() if not req.missing(entry.record.provides)]
            if not fits:
                needs = "; ".join(f"{path} needs {req.describe()}" for path, req in slots.items())
                raise CompositionError(
                    f"{option}: {name!r} ({entry.distribution or entry.plugin}) fits none of the {slot} "
                    f"slots of {plan.method!r}: {needs}"
                )
            if len(fits) > 1:
                raise InputError(
                    f"{option}: {name!r} fits the slots {', '.join(fits)} of {plan.method!r}; name one "
                    f"with --use PATH={name}"
                )
            slots = {fits[0]: slots[fits[0]]}
        chosen[next(iter(slots))] = name
    return chosen


def check_distinct_stems(inputs: tuple[Path, ...], out_dir: Path) -> None:
    """Refuse inputs whose outputs would overwrite each other (``c.png`` and ``c.jpg``, ``a/c.png`` and
    ``b/c.png``: every output is named after the input's stem)."""
    seen: dict[str, Path] = {}
    for path in inputs:
        first = seen.setdefault(path.stem, path)
        if first is not path:
            raise InputError(
                f"{first} and {path} would write the same outputs ({path.stem}-deblurred, -kernel, "
                f"-report) in {out_dir}; rename one, or deblur them into separate folders with -o"
            )
