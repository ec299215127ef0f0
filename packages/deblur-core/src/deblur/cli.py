"""The ``deblur`` command line."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from deblur.errors import DeblurError, InputError
from deblur.plugins.records import COMPONENT_KINDS

if TYPE_CHECKING:
    from deblur.plugins.manager import PluginManager
    from deblur.registry import Registry

# OpenMP workers that spin while waiting steal the cores they wait for when the machine is shared
# (measured: one 255x255 deconvolution took 0.07 s on an idle machine and up to 15 s beside another job
# with spinning workers, at most 0.6 s without). Torch is imported lazily by the commands, so this lands
# before it loads; export OMP_WAIT_POLICY to choose otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class UserError(click.ClickException):
    """A :class:`DeblurError` shown as one line, exit code 2."""

    exit_code = 2


@dataclass
class State:
    debug: bool = False
    no_plugins: bool = False
    _registry: Registry | None = field(default=None, repr=False)

    def manager(self) -> PluginManager:
        from deblur.plugins.manager import PluginManager

        return PluginManager(allow=() if self.no_plugins else None)

    def registry(self) -> Registry:
        if self._registry is None:
            from deblur.registry import Registry

            self._registry = Registry(self.manager())
        return self._registry


def _enable_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(State).debug = True


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from deblur.plugins.manager import core_version

        click.echo(f"deblur, version {core_version()}")
        ctx.exit()


class DeblurGroup(click.Group):
    """Turns user errors into one line and exit code 2; ``--debug`` keeps the traceback.

    Every command also takes ``--debug`` after its name (``deblur run ... --debug``).
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.append(
            click.Option(
                ["--debug"], is_flag=True, expose_value=False, callback=_enable_debug, help="Show tracebacks."
            )
        )
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DeblurError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            raise UserError(str(exc)) from None


@click.group(cls=DeblurGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@click.option("--debug", is_flag=True, envvar="DEBLUR_DEBUG", help="Show tracebacks.")
@click.option("--no-plugins", is_flag=True, help="Load only core's built-in components.")
@click.pass_context
def main(ctx: click.Context, debug: bool, no_plugins: bool) -> None:
    """Blind image deblurring: estimate the blur kernel and the sharp image from a blurry photo."""
    ctx.obj = State(debug=debug, no_plugins=no_plugins)
    _warnings_to_stderr()


class _EchoHandler(logging.Handler):
    """Writes a record as ``deblur: message`` to the stderr current when it is emitted."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"deblur: {record.getMessage()}", err=True)


def _warnings_to_stderr() -> None:
    """Show the warnings deblur's modules log (e.g. ``--resume`` with no checkpoint) on stderr."""
    logger = logging.getLogger("deblur")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler(logging.WARNING))


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _method_components(registry: Registry, name: str) -> dict[str, str] | str:
    from deblur.pipeline import resolve_method

    try:
        plan = resolve_method(registry, name)
    except DeblurError as exc:
        return f"unresolvable: {exc}"
    return {node.path: node.entry.name for node in plan.root.walk()}


@main.command("list-methods")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_methods(state: State, as_json: bool) -> None:
    """List the registered methods (what `deblur run` accepts)."""
    registry = state.registry()
    methods = []
    for entry in registry.all(["method"]):
        record = entry.record
        methods.append(
            {
                "name": record.name,
                "summary": record.summary,
                **entry.provenance(),
                "components": _method_components(registry, record.name),
                "needs_weights": record.needs_weights,
                "citation": record.citation,
            }
        )
    if as_json:
        _emit_json(methods)
        return
    rows = []
    for m in methods:
        parts = m["components"]
        used = ", ".join(f"{p}={n}" for p, n in parts.items()) if isinstance(parts, dict) else parts
        rows.append(
            [
                m["name"],
                m["distribution"] or m["plugin"],
                "yes" if m["needs_weights"] else "no",
                m["summary"],
                used,
            ]
        )
    _table(rows, ["METHOD", "PLUGIN", "WEIGHTS", "SUMMARY", "COMPONENTS"])


@main.command("list-components")
@click.option("--kind", type=click.Choice(COMPONENT_KINDS), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_components(state: State, kind: str | None, as_json: bool) -> None:
    """List operators, priors, solvers and kernel representations."""
    entries = state.registry().all([kind] if kind else COMPONENT_KINDS)
    items = [
        {
            "kind": e.kind,
            "name": e.name,
            "summary": e.record.summary,
            **e.provenance(),
            "provides": sorted(e.record.provides),
            "requires": {
                slot: {"kind": r.kind, "capabilities": sorted(r.capabilities), "default": r.default}
                for slot, r in e.record.requires.items()
            },
            "citation": e.record.citation,
        }
        for e in entries
    ]
    if as_json:
        _emit_json(items)
        return
    _table(
        [
            [
                i["kind"],
                i["name"],
                i["distribution"] or i["plugin"],
                ",".join(i["provides"]),
                _requires_text(i["requires"]),
                i["summary"],
            ]
            for i in items
        ],
        ["KIND", "NAME", "PLUGIN", "PROVIDES", "REQUIRES", "SUMMARY"],
    )


def _requires_text(requires: dict[str, dict[str, Any]]) -> str:
    """``prior:prior[image,penalty]=hyper-laplacian``: each slot, the kind that fills it, the
    capabilities it must provide and its default; ``-`` for none."""
    parts = []
    for slot, r in requires.items():
        needs = f"[{','.join(r['capabilities'])}]" if r["capabilities"] else ""
        default = f"={r['default']}" if r["default"] else ""
        parts.append(f"{slot}:{r['kind']}{needs}{default}")
    return " ".join(parts) or "-"


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def plugins(state: State, as_json: bool) -> None:
    """List the plugins found, with version and status (loaded, failed: reason, disabled)."""
    manager = state.manager()
    manager.collect()  # runs every hook, so a plugin whose hook raises shows as failed
    statuses = [s.as_dict() for s in manager.statuses()]
    if as_json:
        _emit_json(statuses)
        return
    rows = [
        [
            s["name"],
            s["distribution"] or "-",
            s["version"] or "-",
            f"failed: {s['error']}" if s["status"] == "failed" else s["status"],
            ",".join(h.removeprefix("deblur_") for h in s["hooks"]),
        ]
        for s in statuses
    ]
    _table(rows, ["PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "HOOKS"])


def parse_settings(settings: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``("solver.iterations=500", "nonblind.prior.weight=2e-3")`` -> params by slot path.

    Values stay text: the pipeline reads each by the type its component declares
    (:mod:`deblur.parameters`), so ``iterations=2.5`` is refused rather than run as 2.
    """
    params: dict[str, dict[str, str]] = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        path, dot, name = key.strip().rpartition(".")
        if not sep or not dot or not name:
            raise InputError(f"--set {item!r}: expected SLOT.PARAM=VALUE, e.g. solver.iterations=500")
        params.setdefault(path, {})[name] = raw.strip()
    return params


def bench_settings(
    settings: tuple[str, ...], methods: tuple[str, ...]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Parameters by slot path for each method: ``SLOT.PARAM=V`` for all, ``METHOD:SLOT.PARAM=V`` for one."""
    shared, own = [], {m: [] for m in methods}
    for item in settings:
        method, colon, _ = item.partition("=")[0].rpartition(":")
        if not colon:
            shared.append(item)
        elif method in own:
            own[method].append(item[len(method) + 1 :])
        else:
            raise InputError(f"--set {item!r}: {method!r} is not one of the methods benchmarked")
    out = {}
    for m in methods:
        params = parse_settings(tuple(shared))
        for path, values in parse_settings(tuple(own[m])).items():
            params.setdefault(path, {}).update(values)
        out[m] = params
    return out


def parse_uses(uses: tuple[str, ...], **shortcuts: str | None) -> dict[str, str]:
    """``("nonblind.prior=tv",)`` plus shortcut options -> component names by slot path."""
    components = {slot: name for slot, name in shortcuts.items() if name}
    for item in uses:
        path, sep, name = item.partition("=")
        if not sep or not path or not name:
            raise InputError(f"--use {item!r}: expected SLOT=COMPONENT, e.g. nonblind.prior=tv")
        components[path.strip()] = name.strip()
    return components


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


@main.command("run")
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
    "core's, used by classic, is min(H, W) // 10 made odd, within [7, 35]. Set it for larger shake.",
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
@click.option("--kernel-prior", help="Shortcut for --use kernel_prior=NAME.")
@click.option("--image-prior", help="Shortcut for --use image_prior=NAME.")
@click.option("--kernel-rep", help="Shortcut for --use kernel_rep=NAME.")
@click.option("--nonblind", help="Shortcut for --use nonblind=NAME.")
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
    components = parse_uses(
        uses, kernel_prior=kernel_prior, image_prior=image_prior, kernel_rep=kernel_rep, nonblind=nonblind
    )
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


def make_kernel(kind: str, size: int, seed: int) -> Any:
    """A kernel from a generator name (motion, gaussian, disk) or a kernel file."""
    import torch

    from deblur.inputs import as_kernel
    from deblur.kernels import disk_kernel, gaussian_kernel, motion_kernel

    if kind not in {"motion", "gaussian", "disk"}:
        return as_kernel(Path(kind))
    if size < 3 or size % 2 == 0:
        raise InputError(f"--size must be an odd number >= 3, got {size}")
    if kind == "motion":
        return motion_kernel(size, generator=torch.Generator().manual_seed(seed))
    if kind == "gaussian":
        return gaussian_kernel(size, size / 6.0)
    return disk_kernel(size, (size - 1) / 2.0)


@main.command("blur")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "output",
    type=click.Path(path_type=Path),
    required=True,
    help="Blurred image to write; its kernel goes beside it as NAME-kernel.png/.npy.",
)
@click.option(
    "--kernel",
    "kernel_kind",
    default="motion",
    show_default=True,
    help="motion, gaussian, disk, or a kernel file (.png, .npy, .safetensors).",
)
@click.option("--size", type=int, default=31, show_default=True, help="Kernel support of generated kernels.")
@click.option(
    "--noise", type=float, default=0.01, show_default=True, help="Noise level (std, images in [0, 1])."
)
@click.option(
    "--noise-type", type=click.Choice(["gaussian", "poisson"]), default="gaussian", show_default=True
)
@click.option(
    "--boundary",
    type=click.Choice(["valid", "same"]),
    default="valid",
    show_default=True,
    help="valid: the output is the interior (smaller by the kernel size - 1), as a real photo.",
)
@click.option("--seed", type=int, default=0, show_default=True)
def blur_command(
    input_path: Path,
    output: Path,
    kernel_kind: str,
    size: int,
    noise: float,
    noise_type: str,
    boundary: str,
    seed: int,
) -> None:
    """Blur INPUT with a generated or given kernel and add noise: a test case with a known answer."""
    import torch

    from deblur.data.synthetic import blur_image
    from deblur.inputs import check_kernel_fits
    from deblur.io import read_image, write_image, write_kernel
    from deblur.outputs import check_writable

    if noise < 0:
        raise InputError(f"--noise must be >= 0, got {noise}")
    check_writable(output.parent)
    image, info = read_image(input_path)
    kernel = make_kernel(kernel_kind, size, seed)
    check_kernel_fits(kernel, image)
    blurred = blur_image(
        image,
        kernel,
        noise_sigma=noise,
        noise=noise_type,
        boundary=boundary,
        generator=torch.Generator().manual_seed(seed + 1),
    ).clamp(0, 1)
    stem = output.with_suffix("")
    kernel_npy, kernel_png = Path(f"{stem}-kernel.npy"), Path(f"{stem}-kernel.png")
    output.parent.mkdir(parents=True, exist_ok=True)
    write_image(output, blurred, bit_depth=info.bit_depth)
    write_kernel(kernel_npy, kernel)
    write_kernel(kernel_png, kernel)
    click.echo(f"{output} ({blurred.shape[-1]}x{blurred.shape[-2]}), kernel {kernel_png}, {kernel_npy}")


def _centre_crop_to(ref: Any, x: Any, ref_path: Path, x_path: Path) -> Any:
    """The reference may be the larger latent of a ``valid`` blur: crop its centre to the estimate."""
    (c, h, w), (rc, rh, rw) = x.shape[1:], ref.shape[1:]
    if c != rc or rh < h or rw < w or (rh - h) % 2 or (rw - w) % 2:
        raise InputError(f"{x_path} is {(c, h, w)} but {ref_path} is {(rc, rh, rw)}")
    top, left = (rh - h) // 2, (rw - w) // 2
    return ref[..., top : top + h, left : left + w]


@main.command("eval")
@click.argument("estimate", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("--kernel", "kernel_path", type=click.Path(path_type=Path), help="Estimated kernel file.")
@click.option("--true-kernel", type=click.Path(path_type=Path), help="True kernel file (needs --kernel).")
@click.option("--crop", type=int, default=15, show_default=True, help="Border ignored by the aligned score.")
@click.option(
    "--max-shift",
    type=float,
    default=5.0,
    show_default=True,
    help="Largest translation searched by the aligned score (px).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_command(
    estimate: Path,
    reference: Path,
    kernel_path: Path | None,
    true_kernel: Path | None,
    crop: int,
    max_shift: float,
    as_json: bool,
) -> None:
    """Score ESTIMATE against REFERENCE: PSNR, SSIM, the Levin shift-aligned scores and kernel MNC.

    A REFERENCE larger than ESTIMATE by an even margin (the latent of a `valid` blur) is centre-cropped.
    """
    from deblur.inputs import as_kernel
    from deblur.io import read_image
    from deblur.metrics import kernel_mnc, levin_compare, psnr, ssim

    if (kernel_path is None) != (true_kernel is None):
        raise InputError("--kernel and --true-kernel go together")
    x, _ = read_image(estimate)
    ref, _ = read_image(reference)
    ref = _centre_crop_to(ref, x, reference, estimate)
    aligned = levin_compare(x, ref, crop=crop, max_shift=max_shift)
    scores: dict[str, Any] = {
        "psnr": float(psnr(x, ref)),
        "ssim": float(ssim(x, ref)),
        "aligned_psnr": aligned.psnr,
        "aligned_ssim": aligned.ssim,
        "aligned_ssd": aligned.ssd,
        "aligned_shift": list(aligned.shift),
    }
    if kernel_path is not None and true_kernel is not None:
        scores["kernel_mnc"] = float(kernel_mnc(as_kernel(kernel_path), as_kernel(true_kernel)))
    if as_json:
        _emit_json(scores)
        return
    for key, value in scores.items():
        shown = ", ".join(f"{v:+.2f}" for v in value) if isinstance(value, list) else f"{value:.4f}"
        click.echo(f"{key:14s} {shown}")


@main.command("bench")
@click.argument("methods", nargs=-1, required=True)
@click.option(
    "--dataset",
    "spec",
    required=True,
    metavar="SPEC",
    help="levin:PATH, folder:PATH (blurry/, sharp/, optional kernels/) or synthetic:N.",
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
    "--resume",
    is_flag=True,
    help="Continue an interrupted run in --out: keep the images its report.json has, run the rest.",
)
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
    resume: bool,
    quiet: bool,
) -> None:
    """Benchmark METHODS side by side (`true-kernel:SOLVER` runs a non-blind solver with the true kernel)."""
    from deblur.bench import default_run, load_dataset, parse_method, run_bench
    from deblur.outputs import check_writable
    from deblur.pipeline import resolve_method, resolve_solver

    if out_dir is not None:
        check_writable(out_dir)
    registry = state.registry()
    params = bench_settings(settings, methods)
    for method in methods:
        kind, name = parse_method(method)
        if kind == "blind":
            plan = resolve_method(registry, name, params=params[method]).check()
        else:
            plan = resolve_solver(registry, name, need="non-blind", params=params[method]).check()
        nodes = {node.path: node for node in plan.root.walk()}
        params[method] = {  # as the components read them, so reports record numbers, not text
            path: {key: nodes[path].params[key] for key in values} for path, values in params[method].items()
        }
    names = None if images is None else [n.strip() for n in images.split(",") if n.strip()]
    items = load_dataset(spec, limit=limit, kernel_size=kernel_size, images=names)
    with progress_bar("bench", quiet) as progress:
        report = run_bench(
            list(methods),
            items,
            run=lambda m, item, _: default_run(m, item, params[m], registry=registry),
            dataset=spec,
            out_dir=out_dir,
            overrides={m: p for m, p in params.items() if p},
            progress=progress,
            resume=resume,
        )
    click.echo(report.to_markdown())


def parse_train_settings(settings: tuple[str, ...]) -> dict[str, Any]:
    """``("width=64", "preset=paper")`` -> trainer settings (values JSON-decoded when they parse)."""
    params: dict[str, Any] = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE, e.g. width=64")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


@main.command("train")
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
        _table(rows, ["TRAINER", "PLUGIN", "SUMMARY"])
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
