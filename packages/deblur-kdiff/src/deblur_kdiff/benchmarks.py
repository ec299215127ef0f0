"""deblur-kdiff's section of docs/benchmarks.md (declared in :mod:`deblur_kdiff.plugin`, written by
:mod:`deblur.benchdoc`): what the diffusion stage gives without core's refinement, the paper's
protocol, the stages of Algorithm 1 on held-out synthetic images (Table 4 in spirit) and the learned
non-blind solver with the true kernel."""

from __future__ import annotations

from deblur.benchdoc import Results, paired_table, report_tables
from deblur_kdiff.plugin import TABLE4


def _scores(results: Results, name: str, method: str) -> list:
    return [s for s in results.report(name).scores if s.method == method]


def _row(label: str, summary: dict) -> str:
    mnc = "-" if summary["mnc"] is None else f"{summary['mnc']:.3f}"
    return (
        f"| {label} | {summary['psnr']:.2f} | {summary['gain']:+.2f} | {summary['worse']} | {mnc} | "
        f"{summary['seconds_median']:.1f} |"
    )


def _table4(results: Results) -> str:
    lines = [
        "| stage (no refinement) | PSNR (dB) | gain (dB) | worse than input | kernel MNC | s/image median |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, label in zip(TABLE4, ("unguided", "guided", "guided + Stage II"), strict=True):
        lines.append(_row(label, results.report(name).summary()["kdiff"]))
    full = results.report("synthetic-kdiff").summary()
    lines.append(_row("`kdiff` (+ classic-refine, the CPU method)", full["kdiff"]))
    lines.append(_row("`classic` (for comparison)", results.report("synthetic-classic").summary()["classic"]))
    for solver in ("dwdn", "hqs"):
        lines.append(_row(f"true kernel + `{solver}`", full[f"true-kernel:{solver}"]))
    return "\n".join(lines)


def _nonblind(results: Results) -> str:
    core = results.report("levin-nonblind").summary()
    dwdn = results.report("levin-dwdn").summary()
    lines = [
        "| solver, true kernel | PSNR (dB) | SSIM | ER <= 2 | s/image median |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, s in [*((m, core[m]) for m in ("true-kernel:wiener", "true-kernel:hqs")), *dwdn.items()]:
        if method.startswith("true-kernel:"):
            lines.append(
                f"| `{method.split(':')[1]}` | {s['psnr']:.2f} | {s['ssim']:.3f} | "
                f"{s['error_ratio_le2']:.0%} | {s['seconds_median']:.2f} |"
            )
    return "\n".join(lines)


def section(results: Results) -> str:
    full, bare = results.report("levin-kdiff"), results.report("levin-kdiff-no-refine")
    a, b = full.summary()["kdiff"], bare.summary()["kdiff"]
    table, _ = paired_table(
        _scores(results, "levin-kdiff", "kdiff"),
        _scores(results, "levin-kdiff-no-refine", "kdiff"),
        ("with classic-refine", "diffusion alone"),
    )
    paper = results.report("levin-kdiff-paper")
    return f"""`kdiff` (the CPU method) scores {a["psnr"]:.2f} dB and kernel MNC {a["mnc"]:.3f} on Levin (the
blind table above). Its diffusion stage alone, the same sampler without core's `classic-refine` stage
(`{results.command("levin-kdiff-no-refine")}`), scores {b["psnr"]:.2f} dB and MNC {b["mnc"]:.3f}: with
the shipped CPU-trained denoiser the refinement does most of the work.

{table}

The paper's protocol (`kdiff-paper`: all 1000 reverse steps guided by the learned `dwdn`, Stage II, one
draw, the whole image, `dwdn` deconvolution, no stage outside the paper) on Levin's four largest kernels,
each on its own scene (`{results.command("levin-kdiff-paper")}`):

{report_tables(paper)}

The stages of Algorithm 1 on core's 32 synthetic images (255 px, 31 px camera shake, 1% noise; Table 4 of
the paper in spirit), every row without the refinement stage but the `kdiff` one:

{_table4(results)}

Commands: {", ".join(f"`{results.command(n)}`" for n in (*TABLE4, "synthetic-kdiff", "synthetic-classic"))}.

The learned non-blind solver `dwdn` given Levin's true kernels beside core's Wiener and HQS rows
(`{results.command("levin-dwdn")}`):

{_nonblind(results)}

How the weights were trained and what was tried is in [kdiff.md](kdiff.md)."""
