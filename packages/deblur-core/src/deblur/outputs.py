"""Writing a run's files: all of them or none (staged in a temporary folder, then moved in)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblur.errors import InputError
from deblur.fields import field_picture
from deblur.io import ImageInfo, write_image, write_kernel
from deblur.result import Result


def check_writable(folder: Path) -> None:
    """Refuse an output folder that cannot be made or written to, before any work is done.

    Probes by creating the missing folders and a temporary file in ``folder``, then removes all it
    created, so a later failure leaves nothing behind.
    """
    folder = Path(folder)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    created: list[Path] = []
    try:
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:  # made meanwhile by another run (two benchmarks into one parent)
                continue
            created.append(path)
        if not folder.is_dir():
            raise InputError(f"cannot write to output folder {folder}: it is not a folder")
        handle, probe = tempfile.mkstemp(prefix=".deblur-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from None
    finally:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()


def kernel_strip(kernels: torch.Tensor, gap: int = 1) -> torch.Tensor:
    """Kernels (N, 1, h, w) side by side, each scaled to its own peak, ``gap`` px apart: (1, 1, h, W)."""
    scaled = kernels / kernels.amax((-2, -1), keepdim=True).clamp_min(1e-12)
    spaced = torch.nn.functional.pad(scaled, (0, gap))
    return spaced.permute(1, 2, 0, 3).reshape(1, 1, kernels.shape[-2], -1)[
        ..., : spaced.shape[-1] * len(kernels) - gap
    ]


def write_result(
    result: Result,
    out_dir: Path,
    stem: str,
    info: ImageInfo,
    *,
    source: Path | None = None,
    extension: str = ".png",
    report: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write the image (input's bit depth), kernel PNG + .npy, kernel samples (.npy, and a PNG strip of
    them, each scaled to its peak), kernel uncertainty (.npy, and a PNG scaled to its peak), kernel field
    (.npy, and a PNG of its kernels on up to 16x16 positions, :func:`deblur.fields.field_picture`),
    extras, samples, uncertainty and a JSON report.

    Returns the written file names by role and suffix (``"deblurred.png"``, ``"kernel.npy"``, ...).
    Nothing is left behind if any write fails.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".deblur-", dir=out_dir))
    except OSError as exc:
        raise InputError(f"cannot write to output folder {out_dir}: {exc.strerror or exc}") from None
    try:
        files: dict[str, str] = {}

        def name(role: str, suffix: str) -> Path:
            file_name = f"{stem}-{role}{suffix}"
            files[f"{role}{suffix}"] = file_name
            return staging / file_name

        write_image(name("deblurred", extension), result.image, bit_depth=info.bit_depth)
        if result.kernel is not None:
            k = result.kernel.detach().cpu()
            write_kernel(name("kernel", ".npy"), k)
            write_kernel(name("kernel", ".png"), k)
        if result.kernel_samples is not None:
            draws = result.kernel_samples.detach().cpu()
            write_kernel(name("kernel-samples", ".npy"), draws)
            write_kernel(name("kernel-samples", ".png"), kernel_strip(draws))
        if result.kernel_uncertainty is not None:
            spread = result.kernel_uncertainty.detach().cpu()
            write_kernel(name("kernel-uncertainty", ".npy"), spread)
            write_kernel(name("kernel-uncertainty", ".png"), spread[:1])
        if result.kernel_field is not None:
            np.save(name("kernel-field", ".npy"), result.kernel_field.detach().cpu().numpy())
            write_kernel(name("kernel-field", ".png"), field_picture(result.kernel_field, cells=16))
        for extra, image in result.extras.items():
            write_image(name(extra, extension), image.clamp(0, 1), bit_depth=info.bit_depth)
        if result.samples is not None:
            np.save(name("samples", ".npy"), result.samples.detach().cpu().numpy())
        if result.uncertainty is not None:
            u = result.uncertainty.detach().cpu()
            np.save(name("uncertainty", ".npy"), u.numpy())
            write_image(name("uncertainty", ".png"), u / u.max().clamp_min(1e-12), bit_depth=8)
        files["report.json"] = f"{stem}-report.json"
        document = {
            "input": str(source) if source else None,
            "input_info": {"bit_depth": info.bit_depth, "channels": info.channels},
            "outputs": dict(files),
            "timings": result.timings,
            "history": result.history,
            "config": result.config,
            "confidence": [c.as_dict() for c in result.confidence],
            "versions": {"torch": torch.__version__, **(report or {})},
        }
        (staging / files["report.json"]).write_text(json.dumps(document, indent=2, default=str))
        for file_name in files.values():
            os.replace(staging / file_name, out_dir / file_name)
        return files
    except OSError as exc:
        raise InputError(f"cannot write the outputs of {stem} to {out_dir}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
