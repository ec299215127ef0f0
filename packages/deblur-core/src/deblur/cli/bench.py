"""``deblur bench``: benchmark methods side by side on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from deblur.cli._shared import progress_bar, read_workers, worker_options
from deblur.settings import bench_settings, bench_uses

if TYPE_CHECKING:
    from deblur.cli import State


@click.command("bench")
@click.argument("methods", nargs=-1, required=True)
@click.option(
    "--dataset",
    "spec",
    required=True,
    metavar="SPEC",
    help="levin:PATH, folder:PATH (blurry/, sharp/, optional kernels/), realistic:N, synthetic:N, "
    "text:N (rendered text) or synthetic-sv:N (spatially varying blur, scored by field MNC).",
)
@click.option("--limit", type=int, help="Use only the first N images.")
@click.option("--images", metavar="NAME,...", help="Use only these images (comma-separated names).")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), help="Write report.md, report.json, montages/."
)
@click.option("--kernel-size", type=int, help="Kernel size for blind methods (default: the dataset's).")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="SLOT.PARAM=VALUE",
    help="Parameter override for every method, or for one as METHOD:SLOT.PARAM=VALUE (repeatable).",
)
@click.option(
    "--use",
    "uses",
    multiple=True,
    metavar="SLOT=COMPONENT",
    help="Fill a slot for every method, or for one as METHOD:SLOT=COMPONENT, e.g. refiner=none (repeatable).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run in --out: keep the images its report.json has, run the rest.",
)
@worker_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def bench_command(
    state: State,
    methods: tuple[str, ...],
    spec: str,
    limit: int | None,
    images: str | None,
    out_dir: Path | None,
    kernel_size: int | None,
    settings: tuple[str, ...],
    uses: tuple[str, ...],
    resume: bool,
    count: int,
    threads: int | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Benchmark METHODS side by side (`true-kernel:SOLVER` runs a non-blind solver with the true kernel,
    or on synthetic-sv with the true kernel field: cg, richardson-lucy).

    An image a method fails on is listed with its error and the others run on; the exit code is then 1."""
    from deblur.bench import MethodRunner, check_runnable, load_dataset, parse_method, run_bench
    from deblur.outputs import check_writable
    from deblur.pipeline import resolve_method, resolve_solver

    workers = read_workers(count, threads, scheduler)
    if out_dir is not None:
        check_writable(out_dir)
    registry = state.registry()
    params = bench_settings(settings, methods)
    components = bench_uses(uses, methods)
    for method in methods:
        kind, name = parse_method(method)
        if kind == "blind":
            plan = resolve_method(registry, name, components[method], params[method]).check()
        else:
            plan = resolve_solver(
                registry, name, need="non-blind", components=components[method], params=params[method]
            ).check()
        nodes = {node.path: node for node in plan.root.walk()}
        params[method] = {  # as the components read them, so reports record numbers, not text
            path: {key: nodes[path].params[key] for key in values} for path, values in params[method].items()
        }
    names = None if images is None else [n.strip() for n in images.split(",") if n.strip()]
    items = load_dataset(spec, limit=limit, kernel_size=kernel_size, images=names)
    check_runnable(methods, items, registry)
    runner = MethodRunner(params, components, plugins=not state.no_plugins, registry=registry)
    with progress_bar("bench", quiet) as progress:
        report = run_bench(
            list(methods),
            items,
            run=runner,
            dataset=spec,
            out_dir=out_dir,
            overrides={m: p for m, p in params.items() if p},
            components={m: c for m, c in components.items() if c},
            progress=progress,
            resume=resume,
            workers=workers,
        )
    click.echo(report.to_markdown())
    for failure in report.failures:
        on = f" ({failure.method})" if failure.method else ""
        click.echo(f"deblur: error: {failure.image}{on}: {failure.error}", err=True)
        if state.debug and failure.traceback:
            click.echo(failure.traceback, err=True)
    if report.failures:
        raise click.exceptions.Exit(1)
