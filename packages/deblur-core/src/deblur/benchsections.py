"""Core's sections of docs/benchmarks.md (declared in :mod:`deblur._builtins`, written by
:mod:`deblur.benchdoc`): the blur operator's speed, non-blind solvers with the true kernel, the table of
every blind method on Levin (each method package tags its run ``levin-blind``) and a real photo."""

from __future__ import annotations

from deblur.bench import INPUT, BenchReport
from deblur.benchdoc import LEVIN_BLIND, Results, mean, report_tables
from deblur.plugins.records import COMPOSITIONS, REALISTIC_BLIND, BenchRun


def operator_speed(results: Results) -> str:
    data = results.data("operator-speed")
    lines = [
        "`deblur.operators.convolve` against `scipy.signal.fftconvolve` on a "
        f"{data['size']}x{data['size']} gray image (ratio > 1: deblur is faster; "
        f"`{results.command('operator-speed')}`). Timings on a shared machine vary by about +-30% between "
        "runs.",
        "",
        data["setup"],
        "",
        "| kernel | boundary | deblur method | deblur (ms) | scipy fftconvolve (ms) | scipy / deblur |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for r in data["rows"]:
        lines.append(
            f"| {r['kernel']} | {r['boundary']} | {r['method']} | {r['deblur_ms']:.1f} | {r['scipy_ms']:.1f} "
            f"| {r['scipy_ms'] / r['deblur_ms']:.2f} |"
        )
    return "\n".join(lines)


def levin_nonblind(results: Results) -> str:
    report = results.report("levin-nonblind")
    return f"""Scores follow Levin et al.'s protocol (`deblur.metrics.levin_compare`), here and in every Levin
table below: a 15 px border is cropped from the reference, the estimate is aligned within +-5 px in
quarter pixels and PSNR = 10 log10(N / SSD); the error ratio (ER) divides the SSD by that of Levin's
sparse deconvolution with the true kernel.

`{results.command("levin-nonblind")}`

{report_tables(report, per_image=False)}"""


def merged(reports: list[BenchReport]) -> BenchReport:
    """One report over runs on the same dataset: the first ``input`` row, then every run's methods."""
    inputs = [r for r in reports if INPUT in r.methods][:1]
    methods = [INPUT] * bool(inputs) + [m for r in reports for m in r.methods if m != INPUT]
    scores = [s for r in inputs for s in r.scores if s.method == INPUT]
    scores += [s for r in reports for s in r.scores if s.method != INPUT]
    return BenchReport(reports[0].dataset, methods, scores, reports[0].machine)


def levin_blind(results: Results) -> str:
    runs = results.tagged(LEVIN_BLIND)
    reports = [results.report(run.name) for run in runs]
    table = merged(reports)
    images = len({s.image for s in table.scores})
    commands = "\n".join(results.command(run.name) for run in runs)
    montages = "\n".join(
        f"- `{', '.join(report.methods[1:] if report.methods[0] == INPUT else report.methods)}` "
        f"({run.name}): {results.montage_links(run.name)}"
        for run, report in zip(runs, reports, strict=True)
        if run.montages
    )
    return f"""Every blind method on the {images} images; each method package declares its run here. Kernel
size: the true kernel's unless the command sets `--kernel-size`.

```bash
{commands}
```

Every image runs with one torch thread, two images at a time on the 2-core machine named below (the
rows made before `--workers` existed ran as two processes side by side; now `python -m deblur.benchdoc
... --workers 2` runs each command with `--workers 2`, which gives the same report). The seconds are
wall time per image. An interrupted run continues with the same command plus `--resume`.

{report_tables(table)}

Montages (the blurry input over the true kernel, each estimate over its kernel):

{montages}"""


def separation(report: BenchReport) -> str:
    """How well the confidence signal tells the estimates that lose from those that gain, per method
    and over all: the shares of each that it flags (estimates scored before any fallback)."""
    lines = [
        "| method | estimates worse than input: flagged | estimates that gain: flagged |",
        "|---|---:|---:|",
    ]
    totals = [0, 0, 0, 0]
    flagged = {(s.method, s.image) for s in report.scores if s.confidence and not s.confidence["reliable"]}
    for m in report.methods:
        if m == INPUT:
            continue
        gains = report.gains(m, estimates=True)
        lost = [image for image, g in gains.items() if g < 0]
        won = [image for image, g in gains.items() if g >= 0]
        counts = [
            sum((m, i) in flagged for i in lost),
            len(lost),
            sum((m, i) in flagged for i in won),
            len(won),
        ]
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
        lines.append(f"| {m} | {_share(*counts[:2])} | {_share(*counts[2:])} |")
    lines.append(f"| all | {_share(*totals[:2])} | {_share(*totals[2:])} |")
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else "0/0"


def realistic_blind(results: Results) -> str:
    runs = results.tagged(REALISTIC_BLIND)
    reports = [results.report(run.name) for run in runs]
    table = merged(reports)
    commands = "\n".join(results.command(run.name) for run in runs)
    first = next(run for run in runs if run.montages)
    ceiling = "realistic-true-kernel"
    truth = results.report(ceiling).summary()["true-kernel:hqs"]
    category = {s.image: s.category for s in table.scores}
    pictures = {p.split("](")[0][1:]: p for p in results.montage_links(first.name).split()}
    montages = "\n".join(
        f"- {kind}: " + " ".join(link for image, link in pictures.items() if category.get(image) == kind)
        for kind in dict.fromkeys(category.values())
    )
    return f"""Photos nobody here tuned on: the first 40 cases of core's seeded realistic set
(`deblur.data.realistic`: 600-1000 px gray and colour photos and text pages, camera shake of 15-75 px,
clipped light sources, 0.5-2% noise, 8-bit, `valid` and `same` formation; classic's robustness
settings were chosen on cases 40-51, the confidence's halves check on 40-55). Kernel size: the true
kernel's. Methods that take minutes an image on a CPU run on the first eight cases (two of each
category); their rows and the per-category table cover only the images they ran.

```bash
{commands}
```

Every run is scored as `deblur run` hands it out: where the confidence signal (`deblur.confidence`)
says an estimate is unreliable, the input is kept ("fell back"); "estimate gain" is the mean gain had
every estimate been handed out.

The ceiling: given the true kernel, the non-blind step every method here ends with (core's `hqs` with
the photo settings, `{results.command(ceiling)}`) gains {truth["gain"]:+.2f} dB on
average over the {truth["images"]} photos, and {truth["worse"]} come out worse than their input.

{report_tables(table)}

The confidence signal against the estimates' true gains (all methods, before any fallback):

{separation(table)}

Montages of classic (input over the true kernel, estimate over its kernel), by category: the first eight
cases, shrunk to 900 px for the repository (the run writes all 40 at full size to its `--out` folder):

{montages}"""


def real_photo(results: Results) -> str:
    data = results.data("clock-motion")
    runs = "\n".join(
        f"- {r['label']}: support {r['width']} px wide x {r['height']} px high above "
        f"{r['floor']:g} of the peak, principal axis {r['angle']:.1f} deg from horizontal, holding "
        f"{r['mass']:.0%} of the mass; {r['seconds']:.1f} s"
        for r in data["runs"]
    )
    return f"""scikit-image's `clock_motion.png` (real, roughly horizontal camera motion; no ground truth),
with `deblur run classic --kernel-size {data["kernel_size"]}`, first with the method's settings, then with a
stronger kernel prior and final image prior for this low-texture photo
(`{results.command("clock-motion")}`):

{runs}

![clock_motion]({data["montage"]})"""


def _alone(results: Results, run: BenchRun, method: str) -> BenchRun:
    """The declared run of ``method`` by itself (no ``--use`` or ``--set``) on ``run``'s dataset."""
    for other in results.runs.values():
        alone = isinstance(other, BenchRun) and not other.args and other.dataset == run.dataset
        if alone and method in other.methods:
            return other
    raise KeyError(f"composition run {run.name!r}: no run of {method!r} alone on {run.dataset} is declared")


def _setup(report: BenchReport) -> tuple[object, object]:
    """What a run's floating-point results depend on beyond the code: the CPU model and torch's threads."""
    return report.machine.get("cpu_model"), report.machine.get("torch_threads")


def _estimate(s) -> float:
    return s.psnr if s.estimate_psnr is None else s.estimate_psnr


def compositions(results: Results) -> str:
    runs = sorted(
        results.tagged(COMPOSITIONS),
        key=lambda r: (not r.dataset.startswith("levin"), bool(r.images), r.name),
    )
    lines = [
        "| composition | dataset | images | PSNR (dB) | estimate PSNR (dB) | fell back | "
        "kernel (field) MNC | s/image median | the method alone: PSNR (dB) | gain over it (dB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    best: dict[str, tuple[float, str]] = {}
    moved = False
    for run in runs:
        report = results.report(run.name)
        (method,) = (m for m in report.methods if m != INPUT)
        mine = [s for s in report.scores if s.method == method]
        names = {s.image for s in mine}
        base_report = results.report(_alone(results, run, method).name)
        alone = [s for s in base_report.scores if s.method == method and s.image in names]
        elsewhere = _setup(base_report) != _setup(report)
        moved |= elsewhere
        if len(alone) != len(mine):
            raise KeyError(f"composition run {run.name!r}: the method alone lacks some of its images")
        label = f"`{method} {' '.join(run.args)}`"
        dataset = run.dataset.split(":")[0] if "{" in run.dataset else run.dataset
        psnr, base = mean(s.psnr for s in mine), mean(s.psnr for s in alone)
        kernels = (s.mnc if s.field_mnc is None else s.field_mnc for s in mine)  # field MNC where scored
        mncs = [v for v in kernels if v is not None]
        mnc = f"{mean(mncs):.3f}" if mncs else "-"
        fell = sum(bool(s.confidence and s.confidence.get("fallback")) for s in mine)
        seconds = sorted(s.seconds for s in mine)[len(mine) // 2]
        lines.append(
            f"| {label} | {dataset} | {len(mine)} | {psnr:.2f} | {mean(map(_estimate, mine)):.2f} | {fell} | "
            f"{mnc} | {seconds:.1f} | {base:.2f}{' (a)' if elsewhere else ''} | {psnr - base:+.2f} |"
        )
        if dataset == "levin" and len(mine) == 32 and psnr > best.get("levin", (-1.0, ""))[0]:
            best["levin"] = (psnr, label)
    singles = merged([results.report(r.name) for r in results.tagged(LEVIN_BLIND)]).summary()
    top = max((m for m in singles if m != INPUT), key=lambda m: singles[m]["psnr"])
    verdict = (
        f"The best composition run on all 32 Levin images is {best['levin'][1]} at "
        f"{best['levin'][0]:.2f} dB; "
        f"the best single method there is `{top}` at {singles[top]['psnr']:.2f} dB."
        if "levin" in best
        else ""
    )
    if moved:
        verdict += (
            "\n\n(a) The method alone ran on another CPU model or torch thread count than the composition "
            "(the machine lines of the tables above): the same code can give somewhat different estimates."
        )
    commands = "\n".join(results.command(run.name) for run in runs)
    return f"""A method with one slot refilled (`--use SLOT=COMPONENT`, often by another package's component),
each row beside the same method alone on the same images (its own run in the tables above). Rows on
Levin's four largest kernels (`--images`) are the compositions that cost minutes an image on a CPU.
Which slots each method has and what fits them: `deblur list-compositions`; what each row means for a
user: [compositions.md](compositions.md).

```bash
{commands}
```

{chr(10).join(lines)}

{verdict}"""
