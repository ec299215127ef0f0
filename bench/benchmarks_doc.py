"""Regenerate docs/benchmarks.md from the `deblur bench` reports and bench/ scripts it runs when missing.

    python bench/benchmarks_doc.py --levin ../shared/benchdata/levin [--rerun NAME ...] [--only-existing]

Each table is one ``deblur bench`` run listed in ``RUNS``, kept in ``bench/out/NAME/report.json``. A run
whose report is missing (or named by ``--rerun``) is made first with the command shown in the page, so
the long ones can also be run beforehand, separately or in parallel (e.g. two ``--images`` halves merged
with :meth:`deblur.bench.BenchReport.from_json`); the DIP-MC step times and refinement variants are the
JSON of ``bench/dipmc_step_time.py`` and ``bench/dipmc_refine_variants.py`` in ``bench/out/``.
Sections: the uniform blur operator against scipy, non-blind solvers with the true kernel, blind methods
on Levin (montages in docs/images/levin/METHOD/), the DIP-MC ablation, step times and kernel refinement,
and the classic method on scikit-image's real ``clock_motion.png``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see deblur/cli.py

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from clock_motion import LOW_TEXTURE, clock_montage
from gankernel_ceiling import table as ceiling_table

from deblur.bench import BenchReport

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
OUT = ROOT / "bench" / "out"

#: Levin images with the four largest kernels (27, 23, 23, 21 px), one per scene and kernel pairing.
LARGE_KERNELS = [
    "im01_ker04",
    "im02_ker04",
    "im03_ker04",
    "im04_ker04",
    "im01_ker08",
    "im02_ker07",
    "im03_ker08",
    "im04_ker06",
]


@dataclass(frozen=True)
class Run:
    """One ``deblur bench`` invocation on the Levin set."""

    methods: tuple[str, ...]
    args: tuple[str, ...] = ()
    images: tuple[str, ...] = ()

    def command(self, levin: str, out: Path | None = None) -> list[str]:
        words = ["deblur", "bench", *self.methods, "--dataset", f"levin:{levin}", *self.args, "--quiet"]
        if self.images:
            words += ["--images", ",".join(self.images)]
        return words + (["--out", str(out)] if out is not None else [])


RUNS = {
    "levin-nonblind": Run(("true-kernel:wiener", "true-kernel:hqs", "true-kernel:richardson-lucy")),
    "levin-classic": Run(("classic",)),
    "levin-dipmc": Run(("dipmc",)),
    "levin-dipmc-no-refine": Run(("dipmc",), ("--use", "refiner=none")),
    "levin-dipmc-no-mc": Run(("dipmc",), ("--set", "estimator.randomize=none"), tuple(LARGE_KERNELS)),
    "levin-gankernel": Run(("gankernel",), ("--kernel-size", "31")),
    "levin-gankernel-z": Run(
        ("gankernel",), ("--kernel-size", "31", "--set", "kernel_rep.space=z"), tuple(LARGE_KERNELS)
    ),
    "levin-gankernel-generator": Run(
        ("gankernel",), ("--kernel-size", "31", "--set", "kernel_rep.space=generator"), tuple(LARGE_KERNELS)
    ),
    "levin-gankernel-init": Run(("gankernel",), ("--kernel-size", "31", "--set", "estimator.steps=1")),
}
BLIND = ["levin-classic", "levin-dipmc", "levin-gankernel"]
#: Table 3 of the GAN-kernel paper: which variables of the kernel generator the BID process optimises.
GANKERNEL_SPACES = {
    "w (Eq. 6)": "levin-gankernel",
    "z (Eq. 5)": "levin-gankernel-z",
    "z and the generator": "levin-gankernel-generator",
}


def report(name: str, levin: Path, rerun: set[str], only_existing: bool) -> BenchReport | None:
    """The report of run ``name``, running it first when missing or asked to."""
    out = OUT / name
    path = out / "report.json"
    if name in rerun or not path.is_file():
        if only_existing:
            return None
        if out.exists():
            shutil.rmtree(out)
        cmd = RUNS[name].command(str(levin), out)
        print("running", shlex.join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    return BenchReport.from_json(path.read_text())


def shown(name: str) -> str:
    """The command of run ``name`` as the page shows it."""
    return shlex.join(RUNS[name].command("../shared/benchdata/levin"))


def operator_speed() -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "operator_speed.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def script_rows(script: str, levin: Path, only_existing: bool) -> list[dict] | None:
    """The JSON rows of ``bench/SCRIPT.py`` (``bench/out/NAME.json``, NAME its dashed name), running it
    first when missing."""
    path = OUT / f"{script.replace('_', '-')}.json"
    if not path.is_file():
        if only_existing:
            return None
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / f"{script}.py"), "--levin", str(levin)], check=True
        )
    return json.loads(path.read_text())


def dipmc_step_time(rows: list[dict] | None) -> tuple[str, float]:
    """Table of ``bench/dipmc_step_time.py`` and the paper preset's hours per image."""
    if rows is None:
        return "(not run)", float("nan")
    lines = [
        "| preset | image (kernel) | torch threads | s/step | steps | s/image |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['image']} ({r['kernel_size']} px) | {r['threads']} | "
            f"{r['seconds_per_step']:.3f} | {r['steps']} | {r['seconds_per_image']:.0f} |"
        )
    paper = [r["seconds_per_image"] / 3600 for r in rows if r["method"] == "dipmc-paper"]
    return "\n".join(lines), paper[0] if paper else float("nan")


def refine_variants(rows: list[dict] | None) -> str:
    """Table of ``bench/dipmc_refine_variants.py``: mean PSNR per half of the Levin set and overall."""
    if rows is None:
        return "(not run)"
    lines = [
        f"| refinement | im01, im02 | im03, im04 | all {rows[0]['images']} |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['psnr_im01_im02']:.2f} | {r['psnr_im03_im04']:.2f} | {r['psnr']:.2f} |"
        )
    return "\n".join(lines)


def tables(markdown: str, per_image: bool = True) -> str:
    """A bench report's markdown without its title (and without the per-image table unless asked)."""
    body = markdown.split("\n", 2)[2].strip()
    if per_image:
        return body
    lines = body.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("Per image"))
    return "\n".join(lines[:end]).strip()


def merged(reports: list[BenchReport]) -> BenchReport:
    """One report over several runs on the same dataset (methods in order)."""
    return BenchReport(
        reports[0].dataset,
        [m for r in reports for m in r.methods],
        [s for r in reports for s in r.scores],
        reports[0].machine,
    )


def copy_montages(name: str, method: str) -> str:
    """Copy run ``name``'s montages to docs/images/levin/METHOD/; a markdown line of links."""
    target = DOCS / "images" / "levin" / method
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for png in sorted((OUT / name / "montages").glob("*.png")):
        shutil.copyfile(png, target / png.name)
    links = " ".join(f"[{p.stem}](images/levin/{method}/{p.name})" for p in sorted(target.glob("*.png")))
    return f"- `{method}`: {links}"


def paired(a: BenchReport, b: BenchReport, labels: tuple[str, str], images: list[str] | None = None) -> str:
    """Per image PSNR / MNC of two runs side by side with the gain of ``a`` over ``b`` (dB), and the means."""
    first = {s.image: s for s in a.scores if images is None or s.image in images}
    pairs = [(first[s.image], s) for s in b.scores if s.image in first]
    lines = [
        f"| image | {labels[0]}: PSNR / MNC | {labels[1]}: PSNR / MNC | gain (dB) |",
        "|---|---:|---:|---:|",
    ]
    for x, y in pairs:
        gain = x.psnr - y.psnr
        lines.append(f"| {x.image} | {x.psnr:.2f} / {x.mnc:.3f} | {y.psnr:.2f} / {y.mnc:.3f} | {gain:+.2f} |")
    if pairs:
        mean_a = sum(x.psnr for x, _ in pairs) / len(pairs)
        mean_b = sum(y.psnr for _, y in pairs) / len(pairs)
        lines.append(f"| mean | {mean_a:.2f} | {mean_b:.2f} | {mean_a - mean_b:+.2f} |")
    return "\n".join(lines)


def spaces(runs: dict[str, BenchReport]) -> str:
    """PSNR / MNC per image of the kernel-space variants on the large-kernel images (Table 3 in spirit)."""
    header = "| image | " + " | ".join(runs) + " |"
    lines = [header, "|---|" + "---:|" * len(runs)]
    by_run = {label: {s.image: s for s in r.scores} for label, r in runs.items()}
    for image in LARGE_KERNELS:
        cells = [by_run[label].get(image) for label in runs]
        if any(c is None for c in cells):
            continue
        lines.append(f"| {image} | " + " | ".join(f"{c.psnr:.2f} / {c.mnc:.3f}" for c in cells) + " |")
    rows = len(lines) - 2
    if rows:
        means = [sum(by_run[label][i].psnr for i in LARGE_KERNELS if i in by_run[label]) for label in runs]
        lines.append("| mean PSNR | " + " | ".join(f"{m / rows:.2f}" for m in means) + " |")
    return "\n".join(lines)


def gankernel_init() -> str:
    """The initializer table written by bench/gankernel_figures.py (docs/images/gankernel-init.json)."""
    path = DOCS / "images" / "gankernel-init.json"
    if not path.is_file():
        return "(run `python bench/gankernel_figures.py --out docs/images` first)"
    data = json.loads(path.read_text())
    lines = [
        "| kernel size | G(E(y)): initializer | G(z_avg): average kernel | G(z), z ~ N(0, I): random "
        "| inversion of the true kernel |",
        "|---|---:|---:|---:|---:|",
    ]
    for size, r in data["sizes"].items():
        lines.append(
            f"| {size} | {r['encoder']:.3f} | {r['average']:.3f} | {r['random']:.3f} | {r['inversion']:.3f} |"
        )
    return "\n".join(lines)


def gankernel_ceiling() -> str:
    """The ceiling table written by bench/gankernel_ceiling.py (docs/images/gankernel-ceiling.json)."""
    path = DOCS / "images" / "gankernel-ceiling.json"
    if not path.is_file():
        return "(run `python bench/gankernel_ceiling.py --levin PATH --out docs/images` first)"
    return ceiling_table(json.loads(path.read_text()))


def initializer_alone(init: BenchReport | None, full: BenchReport | None) -> str:
    """One sentence: the initializer's kernel (one BID step) against the full BID process on Levin."""
    if init is None or full is None:
        return "(the initializer-alone run `levin-gankernel-init` is missing)"
    a, b = init.summary()["gankernel"], full.summary()["gankernel"]
    return (
        f"the initializer alone (one BID step, `{shown('levin-gankernel-init')}`) scores {a['psnr']:.2f} dB "
        f"with kernel MNC {a['mnc']:.3f} on the {a['images']} images (its synthetic crops: the table above), "
        f"and the BID process lifts it to {b['psnr']:.2f} dB and MNC {b['mnc']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levin", required=True, type=Path, help="the Levin benchmark folder")
    parser.add_argument("--rerun", nargs="+", default=[], choices=sorted(RUNS), help="redo these runs")
    parser.add_argument("--only-existing", action="store_true", help="use existing reports; run nothing")
    args = parser.parse_args()
    rerun = set(args.rerun)

    def get(name: str) -> BenchReport | None:
        return report(name, args.levin, rerun, args.only_existing)

    def get_existing(name: str) -> BenchReport | None:
        return report(name, args.levin, rerun, only_existing=True)

    speed = operator_speed()
    nonblind = get("levin-nonblind")
    blind_runs = [(name, r) for name in BLIND if (r := get(name)) is not None]
    blind = merged([r for _, r in blind_runs])
    montages = "\n".join(copy_montages(name, r.methods[0]) for name, r in blind_runs)
    full, no_mc = dict(blind_runs).get("levin-dipmc"), get("levin-dipmc-no-mc")
    no_refine = get("levin-dipmc-no-refine")
    step_time, paper_hours = dipmc_step_time(script_rows("dipmc_step_time", args.levin, args.only_existing))
    variants = refine_variants(script_rows("dipmc_refine_variants", args.levin, args.only_existing))
    refinement = paired(full, no_refine, ("refined", "not refined")) if full and no_refine else "(not run)"
    dipmc_ablation = (
        paired(full, no_mc, ("with MC", "without (deterministic DIP)"), LARGE_KERNELS)
        if full and no_mc
        else "(not run)"
    )
    gan_runs = {label: r for label, name in GANKERNEL_SPACES.items() if (r := get_existing(name)) is not None}
    gan_spaces = spaces(gan_runs) if len(gan_runs) > 1 else "(not run)"
    initializer_on_levin = initializer_alone(
        get_existing("levin-gankernel-init"), dict(blind_runs).get("levin-gankernel")
    )
    space_commands = ", ".join(f"`{shown(n)}`" for n in list(GANKERNEL_SPACES.values())[1:])
    grids = " ".join(
        f"![{p.stem}](images/{p.name})" for p in sorted((DOCS / "images").glob("gankernel-kernels-*.png"))
    )
    clock = "\n".join(
        f"- {line}" for line in clock_montage(45, ["{}", LOW_TEXTURE], DOCS / "images" / "clock_motion.png")
    )
    commands = "\n".join(shown(name) for name, _ in blind_runs)
    n_images = len({s.image for s in blind.scores})
    text = f"""# Benchmarks

Regenerate everything on this page with

```bash
python bench/benchmarks_doc.py --levin ../shared/benchdata/levin
```

It runs each `deblur bench` command shown below whose report is missing from `bench/out/` (the long
ones can be run beforehand, in parallel, with the same commands and `--out bench/out/NAME`).
Assembled {time.strftime("%Y-%m-%d")}. Scores follow Levin et al.'s protocol (`deblur.metrics.levin_compare`):
a 15 px border is cropped from the reference, the estimate is aligned within +-5 px in quarter pixels and
PSNR = 10 log10(N / SSD); the error ratio (ER) divides the SSD by that of Levin's sparse deconvolution with
the true kernel. For scale: the blurred inputs score 22.96 dB, Levin's sparse deconvolution with the true
kernel 32.73 dB.

## Uniform blur operator against scipy

`deblur.operators.convolve` against `scipy.signal.fftconvolve` on a 1024x1024 gray image (ratio > 1: deblur
is faster). Timings on a shared machine vary by about +-30% between runs.

{speed}

## Non-blind solvers with the true kernel (Levin)

`{shown("levin-nonblind")}`

{tables(nonblind.to_markdown(), per_image=False) if nonblind else "(not run)"}

## Blind methods (Levin, {n_images} images)

Kernel size: the true kernel's, except `gankernel`, which runs at 31 px, its generator's size (the
issue's protocol).

```bash
{commands}
```

Each method runs in its own process, with one torch thread. The seconds are wall time per image on
the 2-core machine named below, which ran two benchmarks at a time (the `dipmc` row: its two halves side
by side, nothing else running; a third job on the machine makes an image up to twice as slow). Long runs
may be split with `--images` and merged by
`python bench/merge_reports.py OUT PART...`: the `dipmc` row was run in two parts, the `gankernel` row
in four. An interrupted run continues with the same command plus `--resume` (the images already in
its `--out` report are kept).

{tables(blind.to_markdown())}

Montages (the blurry input over the true kernel, the estimate over its kernel):

{montages}

## DIP-MC: what the Monte-Carlo randomization buys (Sec. 3.5, Table 5)

The 8 Levin images with the largest kernels, `dipmc` as benchmarked above against the same preset with
the generator's input noise and dropout switched off (`--set estimator.randomize=none`: the deterministic
DIP of Eq. 7, i.e. SelfDeblur's MAP_{{x,k}} with DIP-MC's networks and schedule):
`{shown("levin-dipmc-no-mc")}`

{dipmc_ablation}

One seed per image, both with the preset's kernel refinement. The randomization gains 0.85 dB on
average: most where the deterministic DIP goes wrong (im02_ker04, +4.6 dB), and it costs up to 0.7 dB on
two others. Without the refinement the same pairs gave +0.30 dB (30.25 against 29.95). The paper's
gains on large kernels were measured with its full-size networks and 5000 steps, which this table does
not reproduce.

## DIP-MC: the paper preset

`python bench/dipmc_step_time.py --levin ../shared/benchdata/levin` times Algorithm 1's steps of both
presets on one large-kernel image (two runs with different step counts, nothing else on the machine;
s/image adds the set-up, the Monte-Carlo draws and the non-blind step of a full run):

{step_time}

`dipmc-paper` (whole image, `G_x` 6 levels x 128 channels, the U-Net `G_k`, 5000 steps) would take about
{paper_hours:.1f} h an image on this CPU, so its PSNR has not been measured on any Levin image: no GPU was
lent in any session of this work. With one, `deblur run dipmc-paper IMAGE --device cuda` runs it per
image (`deblur bench` runs on the CPU).

## DIP-MC: refining the kernel on the whole image

The `fast` preset fits its kernel on a 128 px window, and there it drops the faint parts of the path: on
im02_ker06, for example, `classic` scored 33.95 dB with a kernel of MNC 0.83 and unrefined `dipmc`
31.24 dB with one of MNC 0.91. So the preset refines the kernel before the non-blind step
(the `refiner` slot holds core's `classic-refine`: five alternations of the `classic` finest level (L0
latent, gradient least-squares kernel, pruning), started from the DIP-MC kernel, on the whole luminance
image, about 1 s.
This stage is not in the paper: `--use refiner=none` is the paper's two-stage protocol, and
`dipmc-paper` has it off. The run without it reproduces the preset's row from before the switch existed
on all 32 images, to the last digit:
`{shown("levin-dipmc-no-refine")}`

{refinement}

How the refinement was chosen: `python bench/dipmc_refine_variants.py --levin ../shared/benchdata/levin`
refines the kernels of the unrefined run above offline with core's functions (mean PSNR in dB; the
preset's row is the `dipmc` row above to the last digit):

{variants}

The 5% cut of the `classic` method broke the faint links of a path (im01_ker07: MNC up from 0.894 to
0.912, PSNR down from 31.54 to 29.21 dB). The 2% cut was chosen on these same images; it wins on both
halves of the set, the only hold-out check made. Ten alternations score a little more than five, but
the preset keeps `classic`'s five per level rather than tune further on the test images. No refinement
mends a kernel that is wrong in shape (the failures below).

## DIP-MC: changes measured on the failing images and not kept

Before the refinement, the `dipmc` row missed 32.0 dB because of a few large-kernel images whose estimate
is a displaced, partly missing copy of the true kernel (im02_ker04, im02_ker08, im04_ker07, im04_ker08:
25.5, 23.4, 25.5, 23.7 dB unrefined). Each change below was run through `deblur.run` with the preset's
seed, without the refinement (PSNR in dB, the unrefined preset's value in brackets); none held up, and the
code was removed again:

| change | im02_ker04 | im02_ker08 | im04_ker07 | im04_ker08 | cost |
|---|---:|---:|---:|---:|---|
| second seed (`seed=1`), for scale | 24.9 (25.5) | 28.9 (23.4) | 30.0 (25.5) | 19.3 (23.7) | - |
| coarse-to-fine: 1000 steps at half size, kernel fitted into the FCN | 26.8 | 29.3 | 23.1 | 23.3 | 1.35x |
| support margin: estimate on `size + size/4` (29 px for 23), centre, crop | - | - | 26.9 | 26.4 | 1.1x |
| recentre the kernel every 250 steps (FCN output rolled, image the other way) | 25.1 | 21.0 | - | - | 1.0x |
| larger window (`crop=160`) | - | - | 24.6 | 28.3 | 1.45x |
| input noise 0.05, the paper's large-kernel value (`solver.noise=0.05`) | 26.0 | 28.9 | 25.6 | 22.8 | 1.0x |
| consensus start: medoid of 3 half-size runs (600 steps), 2500 steps | 27.2 | 29.4 | 21.0 | 26.8 | 1.4x |

The preset at 3500 steps instead of 2500 (the schedule scaled), on the 8 large-kernel images of the
ablation above: 30.55 against 30.25 dB, at a median of 205 s an image (over the 180 s budget).
The support margin, run on the full set, scored 30.27 against 31.02 dB on its first six images
(im01_ker01-03, im02_ker01-03) and was stopped. A second seed moves these images by up to 5.5 dB
either way, so one run of a change cannot be told from luck: what is missing is a way to make the
kernel estimate reliable, not a better single draw. Selecting between two starts by a Gaussian
marginal likelihood of the kernel (gradient domain, profiled over the image and noise variances)
ranked 9 of 13 pairs of `dipmc` kernels correctly offline (the final objective of Eq. 27 about half)
and would add about 0.1 dB at 1.3x the time. The larger input noise, on these four images and
im01_ker04, im01_ker08, im03_ker04 and im04_ker04: 27.42 against 27.30 dB (+0.1 to +5.6 dB on four
images, -0.7 to -2.4 dB on the other four). In the consensus start the medoid was never the worst of
the three coarse kernels on the failing images, but on im04_ker07 two of them were wrong alike (MNC 0.56
and 0.57 against the downsampled true kernel, the third 0.72) and the vote went to one of those; it also
gave 30.08 (27.59) dB on im02_ker02. On all 32 images it scored 31.44 against 31.33 dB: +6.0 and +3.1
dB on two failing images, but new failures on im02_ker06 (-5.4) and im04_ker06 (-4.9), at a median of
201 s (1.4x the preset's time measured the same day; over the 180 s budget). Cut to the budget (3 x
400 coarse steps, then 2000), it scored 32.57 against 33.08 dB on 12 images (im01_ker01-06,
im03_ker01-06) and was stopped.
The kernel's clean-up is not where the dB go: the raw kernels of 13 images (im02_ker01-08,
im01_ker01-03, im03_ker06, im04_ker02; `--set
solver.kernel_threshold=0 --set solver.center_kernel=false`; with the preset's clean-up applied
offline they reproduce its PSNR exactly), cut at 0 / 2 / 5 (the preset) / 10% of the peak and centred,
score 30.48 / 30.56 / 30.46 / 30.07 dB, and 30.48 / 30.58 / 30.51 / 30.14 dB uncentred.

## GAN kernel prior and initializer (deblur-gankernel)

Kernels synthesised by core's camera-trajectory generator (top rows) and drawn from the shipped
generators (bottom rows), as the paper's Fig. 4 (`python bench/gankernel_figures.py --out docs/images`):

{grids}

The initializer alone (encoder then generator, no optimisation) on 50 held-out synthetic blurred crops
per size: mean kernel MNC against the true kernel, with Table 4's two image-independent starts and, as
the ceiling, the GAN inversion of the true kernel itself:

{gankernel_init()}

Which kernel variables the BID process optimises (Table 3 in spirit; PSNR / MNC, `--kernel-size 31`,
the large-kernel images): {space_commands}

{gan_spaces}

How close the shipped 31 px generator can come to Levin's kernels at all: each true kernel projected
onto its manifold in `w` (GAN inversion in `z`, then Adam on `w = g_1(z)`, L1: roughly what a
perfect BID process in Eq. 6's variable could return), deblurred by the same `hqs` step
(`python bench/gankernel_ceiling.py --levin ../shared/benchdata/levin --out docs/images --bid
im01_ker03,im02_ker04,im03_ker05,im04_ker07`). The second table starts the BID process itself (the CPU
preset, seed 0) at those projections instead of the initializer's code, at the paper's kernel learning
rate (5e-4) and the preset's (5e-3):

{gankernel_ceiling()}

A generator trained at width 32 (`--set width=32 --set disc_width=32`, measured with `--weights STEM`)
raises this bound to 31.26 dB, but `gankernel` with it and its retrained initializer scored 25.03 dB on
the 32 images against the shipped pair's 25.74 dB; see [gankernel.md](gankernel.md).

Where the BID process loses the rest: {initializer_on_levin}. From a correct start, the paper's rate keeps the
kernel (MNC 0.94-0.98), while the preset's rate drifts away from it on two of the four images; from the
initializer's start, though, the paper's rate moves the kernel too little in 1500 steps. On eight images
(`deblur bench gankernel --dataset levin:../shared/benchdata/levin --kernel-size 31 --set
solver.lr_kernel=RATE --images
im01_ker02,im01_ker03,im01_ker08,im02_ker05,im03_ker02,im03_ker05,im04_ker05,im04_ker06`) the kernel
rates 5e-4, 2e-3, 5e-3 (the preset) and 1e-2 score 26.47, 27.77, 29.63 and 29.49 dB. So the
gap to the ceiling is the initializer's start on Levin's images, and even a perfect start would stop at
the ceiling, below 32 dB with this generator.

## A real motion-blurred photo

scikit-image's `clock_motion.png` (real, roughly horizontal camera motion; no ground truth), with
`deblur run classic --kernel-size 45`, first with the method's settings, then with a stronger kernel prior
and final image prior for this low-texture photo
(`--set kernel_prior.weight=50 --set nonblind.prior.weight=5e-4`):

{clock}

![clock_motion](images/clock_motion.png)
"""
    (DOCS / "benchmarks.md").write_text(text)
    print(f"wrote {DOCS / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
