"""``deblur run``: deblur images with a method."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from deblur.cli._shared import progress_bar
from deblur.errors import CompositionError, InputError
from deblur.settings import parse_settings, parse_uses

if TYPE_CHECKING:
    from deblur.cli import State
    from deblur.pipeline import Plan
    from deblur.registry import Registry


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
    quiet: bool,
) -> None:
    """Deblur INPUTS with METHOD; write the image, kernel (PNG, .npy) and a JSON report per input."""
    from deblur.inputs import check_kernel_size
    from deblur.io import read_image
    from deblur.outputs import check_writable, write_result
    from deblur.pipeline import resolve_method, run
    from deblur.plugins.manager import core_version

    # everything that can be refused is refused before the first deblur: the output folder, clashing
    # names, the composition and its parameters, then every input
    check_writable(out_dir)
    check_distinct_stems(inputs, out_dir)
    registry = state.registry()
    components = parse_uses(uses)
    shortcuts = {"kernel_prior": kernel_prior, "image_prior": image_prior, "kernel_rep": kernel_rep}
    components.update(shortcut_paths(registry, resolve_method(registry, method, components), shortcuts))
    if nonblind:  # the last stage of every blind method, a top-level slot
        components["nonblind"] = nonblind
    params = parse_settings(settings)
    resolve_method(registry, method, components, params).check()
    loaded = []
    for path in inputs:
        image, info = read_image(path)
        check_kernel_size(kernel_size, image.shape[-2:])
        loaded.append((path, image, info))
    for path, image, info in loaded:
        with progress_bar(path.name, quiet) as progress:
            result = run(
                image,
                method,
                kernel_size=kernel_size,
                seed=seed,
                device=device,
                progress=progress,
                registry=registry,
                components=components,
                params=params,
                fallback=not no_fallback,
            )
        extension = (
            path.suffix.lower()
            if path.suffix.lower() in {".png", ".tif", ".tiff", ".jpg", ".jpeg"}
            else ".png"
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
        click.echo(f"{path}: {out_dir / files['deblurred' + extension]} ({seconds:.1f} s)")
        for confidence in result.confidence:
            if not confidence.reliable:
                click.echo(f"deblur: warning: {path}: {confidence.warning()}", err=True)


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
