"""``deblur eval``: score an estimate against a reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deblur.cli._shared import emit_json
from deblur.crops import centre_crop, has_even_margin
from deblur.errors import InputError


@click.command("eval")
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
    """Score ESTIMATE against REFERENCE: the Levin shift-aligned scores first, then plain PSNR and SSIM
    and the kernel MNC.

    A REFERENCE larger than ESTIMATE by an even margin (the latent of a `valid` blur) is centre-cropped.
    """
    from deblur.inputs import as_kernel
    from deblur.io import read_image
    from deblur.metrics import kernel_mnc, levin_compare, psnr, ssim

    if (kernel_path is None) != (true_kernel is None):
        raise InputError("--kernel and --true-kernel go together")
    x, _ = read_image(estimate)
    ref, _ = read_image(reference)
    (c, h, w), (rc, rh, rw) = x.shape[1:], ref.shape[1:]
    if c != rc or not has_even_margin((rh, rw), (h, w)):
        raise InputError(f"{estimate} is {(c, h, w)} but {reference} is {(rc, rh, rw)}")
    ref = centre_crop(ref, (h, w))
    aligned = levin_compare(x, ref, crop=crop, max_shift=max_shift)
    scores: dict[str, Any] = {
        "aligned_psnr": aligned.psnr,
        "aligned_ssim": aligned.ssim,
        "aligned_ssd": aligned.ssd,
        "aligned_shift": list(aligned.shift),
        "psnr": float(psnr(x, ref)),
        "ssim": float(ssim(x, ref)),
    }
    if kernel_path is not None and true_kernel is not None:
        scores["kernel_mnc"] = float(kernel_mnc(as_kernel(kernel_path), as_kernel(true_kernel)))
    if as_json:
        emit_json(scores)
        return
    click.echo(
        f"aligned: the estimate shifted by the best of +-{max_shift:g} px (quarter pixels) and a {crop} px "
        "border ignored, as blind methods are scored (a kernel is known only up to a shift)"
    )
    for key, value in scores.items():
        shown = ", ".join(f"{v:+.2f}" for v in value) if isinstance(value, list) else f"{value:.4f}"
        click.echo(f"{key:14s} {shown}")
