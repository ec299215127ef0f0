"""deblur-dipmc's sections of docs/benchmarks.md (declared in :mod:`deblur_dipmc.plugin`, written by
:mod:`deblur.benchdoc`): what the Monte-Carlo randomization buys (Sec. 3.5), the paper preset's cost,
and the kernel refinement stage (not in the paper)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deblur.benchdoc import Results, mean, paired_table

if TYPE_CHECKING:
    from deblur.bench import BenchReport, ImageScore


def _dipmc(report: BenchReport) -> list[ImageScore]:
    return [s for s in report.scores if s.method == "dipmc"]


def _gains(pairs: list) -> str:
    """``+0.85 dB on average over 8 images, +4.60 on im02_ker04 at best, -0.70 on im03_ker04 at worst``."""
    gains = sorted(((x.psnr - y.psnr, x.image) for x, y in pairs), reverse=True)
    wins = sum(g > 0 for g, _ in gains)
    (best, best_image), (worst, worst_image) = gains[0], gains[-1]
    return (
        f"{mean(g for g, _ in gains):+.2f} dB on average over {len(gains)} images (better on {wins}), "
        f"{best:+.2f} dB on {best_image} at best and {worst:+.2f} dB on {worst_image} at worst"
    )


def monte_carlo(results: Results) -> str:
    full, no_mc = results.report("levin-dipmc"), results.report("levin-dipmc-no-mc")
    table, pairs = paired_table(_dipmc(full), _dipmc(no_mc), ("with MC", "without (deterministic DIP)"))
    return f"""`dipmc` as benchmarked above against the same preset with the generator's input noise and
dropout switched off (`--set estimator.randomize=none`: the deterministic DIP of Eq. 7, i.e. SelfDeblur's
MAP_{{x,k}} with DIP-MC's networks and schedule), on Levin's four largest kernels, each on its own scene:
`{results.command("levin-dipmc-no-mc")}`

{table}

One seed per image, both with the preset's kernel refinement. The randomization gains {_gains(pairs)}.
The paper's gains on large kernels were measured with its full-size networks and 5000 steps, which this
table does not reproduce."""


def paper_preset(results: Results) -> str:
    rows = results.data("dipmc-step-time")
    lines = [
        "| preset | image (kernel) | torch threads | s/step | steps | s/image |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['image']} ({r['kernel_size']} px) | {r['threads']} | "
            f"{r['seconds_per_step']:.3f} | {r['steps']} | {r['seconds_per_image']:.0f} |"
        )
    hours = next(r["seconds_per_image"] for r in rows if r["method"] == "dipmc-paper") / 3600
    table = "\n".join(lines)
    return f"""`{results.command("dipmc-step-time")}` times Algorithm 1's steps of both presets on one
large-kernel image (two runs with different step counts; s/image adds the set-up, the Monte-Carlo
draws and the non-blind step of a full run):

{table}

`dipmc-paper` (whole image, `G_x` 6 levels x 128 channels, the U-Net `G_k`, 5000 steps) would take about
{hours:.1f} h an image on this CPU, so its PSNR has not been measured on Levin here. With a GPU,
`deblur run dipmc-paper IMAGE --device cuda` runs it per image (`deblur bench` runs on the CPU)."""


def refinement(results: Results) -> str:
    full, bare = results.report("levin-dipmc"), results.report("levin-dipmc-no-refine")
    table, pairs = paired_table(_dipmc(full), _dipmc(bare), ("refined", "not refined"))
    variants = results.data("dipmc-refine-variants")
    lines = [
        f"| refinement | im01, im02 | im03, im04 | all {variants[0]['images']} |",
        "|---|---:|---:|---:|",
    ]
    for r in variants:
        lines.append(
            f"| {r['variant']} | {r['psnr_im01_im02']:.2f} | {r['psnr_im03_im04']:.2f} | {r['psnr']:.2f} |"
        )
    rows = "\n".join(lines)
    return f"""The `fast` preset fits its kernel on a 128 px window, where the faint parts of a long path are
easily lost, so it refines the kernel before the non-blind step: the `refiner` slot holds core's
`classic-refine` (five alternations of the `classic` method's finest level: L0 latent, gradient
least-squares kernel, pruning at 2% of the peak), started from the DIP-MC kernel, on the whole luminance
image. This stage is not in the paper: `--use refiner=none` is the paper's two-stage protocol, and
`dipmc-paper` runs without it (`{results.command("levin-dipmc-no-refine")}`):

{table}

The refinement gains {_gains(pairs)}.

`{results.command("dipmc-refine-variants")}` refines the kernels of the unrefined run above offline with
core's functions (mean PSNR in dB; the preset's row equals the `dipmc` rows above):

{rows}

The preset keeps `classic`'s five alternations per level, and the 2% cut was chosen on an earlier run
of the whole set (the record is in [dipmc.md](dipmc.md)). No refinement mends a kernel that is wrong in
shape."""
