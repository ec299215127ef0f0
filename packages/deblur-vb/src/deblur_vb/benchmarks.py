"""deblur-vb's section of docs/benchmarks.md (declared in :mod:`deblur_vb.plugin`, written by
:mod:`deblur.benchdoc`): the paper's home ground (rendered text, Tables 1-2 in spirit) with the MSE
baselines, the one-pass methods and the CPU default on Levin, and the posterior's calibration."""

from __future__ import annotations

from deblur.benchdoc import Results, report_tables

#: Rows of the text table: (label, run, method), in the order of the paper's Table 1 and 2.
TEXT_ROWS = (
    ("`classic` (optimisation, like Xu et al. / Pan et al. in Table 2)", "text-vb", "classic"),
    ("MSE_KF (the same networks trained on the MSE, `--set objective=mse`)", "text-vb-mse-kf", "vb"),
    ("VBDeblurNet_KF (`vb`)", "text-vb", "vb"),
    ("MSE_KD", "text-vb-mse-kd", "vb-kd"),
    ("VBDeblurNet_KD (`vb-kd`)", "text-vb", "vb-kd"),
    ("`vb-refine` (Kernel-Net + classic-refine + HQS, not in the paper)", "text-vb", "vb-refine"),
)


def _cell(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def text_table(results: Results) -> str:
    lines = [
        "| method | PSNR (dB) | gain (dB) | SSIM | kernel MNC | estimate PSNR (dB) | s/image median |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, run, method in TEXT_ROWS:
        s = results.report(run).summary()[method]
        estimate = s["gain"] if s["estimate_gain"] is None else s["estimate_gain"]
        base = s["psnr"] - s["gain"]
        lines.append(
            f"| {label} | {s['psnr']:.2f} | {s['gain']:+.2f} | {s['ssim']:.3f} | {_cell(s['mnc'], '.3f')} | "
            f"{base + estimate:.2f} | {s['seconds_median']:.2f} |"
        )
    return "\n".join(lines)


def calibration_table(results: Results) -> str:
    data = results.data("vb-calibration")
    lines = [
        "| model | quantity | within +-2 std | median abs error / std | mean std | mean abs error |",
        "|---|---|---:|---:|---:|---:|",
    ]
    labels = {
        "image": "image pixels",
        "kernel": "kernel taps (all)",
        "kernel_support": "kernel taps where the true kernel is non-zero",
    }
    for model in ("kf", "kd"):
        for key, figures in data[model].items():
            if not isinstance(figures, dict):
                continue
            label = labels.get(key, key.replace("_", " ").replace("image ", "image pixels, "))
            f = figures
            lines.append(
                f"| `{model}` | {label} | {f['within_2std']:.1%} | {f['median_error_over_std']:.2f} | "
                f"{f['mean_std']:.3g} | {f['mean_abs_error']:.3g} |"
            )
    return "\n".join(lines)


def section(results: Results) -> str:
    levin = results.report("levin-vb").summary()
    default, one, kd = levin["vb-refine"], levin["vb"], levin["vb-kd"]
    bare = results.report("levin-vb-kernel-net").summary()["vb-refine"]
    calibration = results.data("vb-calibration")
    return f"""The paper's home ground, reproduced in spirit: 32 pages of rendered text, each blurred by its
own 31 px camera-shake trajectory with noise of up to 7/255 (`text:32`, never seen in training). The MSE
baselines are the same networks trained for the same steps on the mean squared error alone
(`deblur train vb-kf --set objective=mse`, weights in `bench/weights/`); the KD one is conditioned on the
true kernel in training, as the paper's is.

{text_table(results)}

Commands: {", ".join(f"`{results.command(n)}`" for n in ("text-vb", "text-vb-mse-kf", "text-vb-mse-kd"))}.

Levin (`{results.command("levin-vb")}`): the one-pass `vb` scores {one["psnr"]:.2f} dB with kernel MNC
{_cell(one["mnc"], ".3f")}, `vb-kd` {kd["psnr"]:.2f} dB (MNC {_cell(kd["mnc"], ".3f")}); the CPU default
`vb-refine` {default["psnr"]:.2f} dB (MNC {_cell(default["mnc"], ".3f")}) at a median of
{default["seconds_median"]:.1f} s per image. Kernel-Net's kernel deconvolved by the same HQS without the
polish (`{results.command("levin-vb-kernel-net")}`) scores {bare["psnr"]:.2f} dB (MNC
{_cell(bare["mnc"], ".3f")}): the polish adds {default["psnr"] - bare["psnr"]:+.2f} dB.

{report_tables(results.report("levin-vb"), per_image=False)}

Calibration of the posterior on {calibration["kf"]["pairs"]} held-out synthetic crops of
{calibration["kf"]["crop"]} px (`{results.command("vb-calibration")}`; {calibration["machine"]}): the
share of true values inside the posterior mean +- 2 standard deviations (95% if calibrated).

{calibration_table(results)}

What these numbers mean is in [vb.md](vb.md)."""
