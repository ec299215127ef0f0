"""``deblur blur``: make a test case with a known answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deblur.errors import InputError


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


@click.command("blur")
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
