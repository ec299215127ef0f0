"""Benchmark harness behind ``deblur bench``: datasets, scoring, reports and montages.

Datasets (``load_dataset(spec)``):

- ``levin:PATH``: the Levin et al. (2009) benchmark folder (``mat/`` and the csv, see
  :mod:`deblur.data.levin`). Blind methods get the TRUE kernel's size (as the papers do); the error
  ratio uses the csv's true-kernel SSDs.
- ``folder:PATH``: ``PATH/blurry/<stem>.<ext>`` (png, jpg, jpeg, tif, tiff), the matching
  ``PATH/sharp/<stem>.<ext>`` and, optionally, ``PATH/kernels/<stem>.<npy|png|safetensors>``. A sharp image
  is either aligned with the blurry one (same size) or the full latent of a valid blur (larger by
  ``h - 1, w - 1``; its centre crop is used). With a kernel file, blind methods get its size.
- ``realistic:N``: the first ``N`` cases of :mod:`deblur.data.realistic` (600-1000 px photos, text
  pages and night scenes with clipped lights; camera shake of 15-75 px; noise, 8-bit quantisation,
  ``valid`` and ``same`` formation); blind methods get the true kernel's size; each score carries the
  case's category, and reports summarise by category.
- ``synthetic:N``: ``N`` images made on the fly with seed 0: scikit-image's photos (gray, centre crops)
  when scikit-image is installed, else dead leaves and text; each blurred "valid" by its own
  camera-shake kernel of size 31 (or ``kernel_size``) plus 1% Gaussian noise; 255x255 observations.
- ``text:N``: ``N`` pages of rendered text (:func:`deblur.data.procedural.text_image`, seed 0), each
  blurred "valid" by its own camera-shake trajectory kernel of size 31 (or ``kernel_size``, path length
  0.3-1 of it) plus Gaussian noise of a standard deviation drawn from [0, 7/255] (the protocol of
  Hradis et al.'s Text set); 192x192 observations.
- ``synthetic-sv:N``: the first ``N`` cases of the seeded spatially varying set
  (:func:`deblur.data.spatially_varying.sv_cases`): 255x255 observations, each blurred by its own field
  of 31 px (or ``kernel_size``) kernels on an 8x8 grid; the true field is the item's ``kernel_field``,
  blind methods get its kernel size, and scores carry the field's kind (camera, mixed, uniform) as
  their category.

Methods are registered method names (blind, run through :func:`deblur.run`) or ``true-kernel:SOLVER``
(the non-blind solver ``SOLVER`` given the dataset's true kernel, through :func:`deblur.deconvolve`;
on a spatially varying item the true field's operator, for the solvers that take any linear operator).
Every report's first row is ``input``, the blurred observation scored as it is: a method's gain over
it is what deblurring bought.
Blind methods are scored as ``deblur run`` hands them out: where the result's confidence
(:mod:`deblur.confidence`) says unreliable, the run falls back to the input, the report counts it under
"fell back" and ``estimate_psnr`` keeps the score of the estimate that was not handed out ("estimate
gain" is the mean gain had every estimate been kept).

Scores per image follow Levin's protocol (:func:`deblur.metrics.levin_compare`: 15 px border crop, best
shift within +-5 px in quarter pixels) on the estimate clipped to [0, 1]: PSNR, SSIM, the error ratio
where the dataset has true-kernel SSDs, the kernel MNC (:func:`deblur.metrics.kernel_mnc`) where the
true kernel is known, the field MNC where the true field is (the mean kernel MNC at the centres of its
grid cells, against the estimate's field there or its one kernel everywhere), and wall-clock seconds.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblur.context import Progress
from deblur.crops import centre_crop, has_even_margin
from deblur.errors import InputError
from deblur.parallel import Failure, Job, Workers, each_done
from deblur.registry import Registry
from deblur.result import Result

__all__ = [
    "INPUT",
    "BenchFailure",
    "BenchItem",
    "BenchReport",
    "ImageScore",
    "ItemJob",
    "ItemOutcome",
    "MethodRunner",
    "RunFunction",
    "check_runnable",
    "default_run",
    "load_dataset",
    "machine_info",
    "montage",
    "parse_method",
    "run_bench",
    "score",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
KERNEL_SUFFIXES = (".npy", ".png", ".safetensors")
SYNTHETIC_SIZE = 255
SYNTHETIC_KERNEL = 31
SYNTHETIC_NOISE = 0.01
SYNTHETIC_SEED = 0
TEXT_SIZE = 192
TEXT_NOISE = 7 / 255
#: The pseudo-method heading every report: the blurred observation, scored as it is.
INPUT = "input"


@dataclass
class BenchItem:
    """One benchmark image.

    Attributes:
        name: unique name within the dataset.
        blurry: observation (1, C, H, W) in [0, 1].
        sharp: reference (1, C, H, W) aligned with ``blurry``.
        kernel: true kernel (1, 1, h, w) (true convolution), if known.
        kernel_size: support given to blind methods (odd), if the dataset knows it.
        ssd_reference: SSD of deconvolution with the true kernel (error-ratio denominator), if known.
        category: the kind of case (``realistic``: plain, saturated, text, large; ``synthetic-sv``:
            camera, mixed, uniform), if the set has kinds.
        kernel_field: true spatially varying blur (1, h * w, Gh, Gw), a field on a grid over ``blurry``
            (the layout of ``Result.kernel_field``), if known; ``kernel`` is then ``None``.
    """

    name: str
    blurry: torch.Tensor
    sharp: torch.Tensor
    kernel: torch.Tensor | None = None
    kernel_size: int | None = None
    ssd_reference: float | None = None
    category: str | None = None
    kernel_field: torch.Tensor | None = None


# ------------------------------------------------------------------------------------------- datasets


def load_dataset(
    spec: str,
    *,
    limit: int | None = None,
    kernel_size: int | None = None,
    images: Sequence[str] | None = None,
) -> list[BenchItem]:
    """Load ``levin:PATH``, ``folder:PATH``, ``realistic:N``, ``synthetic:N``, ``text:N`` or
    ``synthetic-sv:N`` (see the module docstring).

    ``images`` keeps the named images (in the dataset's order; an unknown name is an error), ``limit``
    then keeps the first ``limit``; ``kernel_size`` overrides the size given to blind methods (and sets
    the kernel size of ``synthetic``, ``text`` and ``synthetic-sv``).
    """
    kind, sep, arg = spec.partition(":")
    if not sep or not arg:
        raise InputError(
            f"dataset spec {spec!r} must be levin:PATH, folder:PATH, realistic:N, synthetic:N, "
            "text:N or synthetic-sv:N"
        )
    if limit is not None and limit < 1:
        raise InputError(f"limit must be a positive integer, got {limit}")
    if kernel_size is not None and (kernel_size < 3 or kernel_size % 2 == 0):
        raise InputError(f"kernel size must be an odd integer >= 3, got {kernel_size}")
    if kind == "levin":
        items = _levin(arg)
    elif kind == "folder":
        items = _folder(Path(arg))
    elif kind in ("synthetic", "text", "synthetic-sv", "realistic"):
        try:
            n = int(arg)
        except ValueError:
            n = 0
        if n < 1:
            raise InputError(f"{kind}:N needs a positive integer N, got {arg!r}")
        if kind == "synthetic":
            items = _synthetic(min(n, limit or n), kernel_size or SYNTHETIC_KERNEL)
        elif kind == "text":
            items = _text(n if images else min(n, limit or n), kernel_size or SYNTHETIC_KERNEL)
        elif kind == "synthetic-sv":
            items = _synthetic_sv(n if images else min(n, limit or n), kernel_size or SYNTHETIC_KERNEL)
        else:
            items = _realistic(n if images else min(n, limit or n))
    else:
        raise InputError(
            f"unknown dataset kind {kind!r} in {spec!r}; expected levin, folder, realistic, synthetic, "
            "text or synthetic-sv"
        )
    if images is not None:
        known = {item.name for item in items}
        missing = [name for name in images if name not in known]
        if missing:
            raise InputError(f"no image {', '.join(map(repr, missing))} in {spec!r}")
        items = [item for item in items if item.name in set(images)]
    items = items[:limit] if limit is not None else items
    if kernel_size is not None:
        for item in items:
            item.kernel_size = kernel_size
    return items


def _levin(path: str) -> list[BenchItem]:
    from deblur.data.levin import load_levin

    return [
        BenchItem(
            name=c.name,
            blurry=c.blurry,
            sharp=c.sharp,
            kernel=c.kernel,
            kernel_size=int(c.kernel.shape[-1]),
            ssd_reference=c.ssd_reference,
        )
        for c in load_levin(path)
    ]


def _by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in suffixes:
            if p.stem in files:
                raise InputError(f"two files for {p.stem!r} in {folder}: {files[p.stem].name} and {p.name}")
            files[p.stem] = p
    return files


def _folder(root: Path) -> list[BenchItem]:
    from deblur.io import read_image, read_kernel

    if not (root / "blurry").is_dir() or not (root / "sharp").is_dir():
        raise InputError(f"folder dataset {root} needs blurry/ and sharp/ subfolders")
    blurry = _by_stem(root / "blurry", IMAGE_SUFFIXES)
    if not blurry:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root / 'blurry'}")
    sharp = _by_stem(root / "sharp", IMAGE_SUFFIXES)
    kernels = _by_stem(root / "kernels", KERNEL_SUFFIXES) if (root / "kernels").is_dir() else {}
    missing = sorted(set(blurry) - set(sharp))
    if missing:
        raise InputError(f"no sharp image for {', '.join(missing)} in {root / 'sharp'}")
    items = []
    for stem, path in blurry.items():
        y = read_image(path)[0]
        x = read_image(sharp[stem])[0]
        k = read_kernel(kernels[stem])[:1] if stem in kernels else None
        items.append(
            BenchItem(
                name=stem,
                blurry=y,
                sharp=_aligned(x, y, stem),
                kernel=k,
                kernel_size=None if k is None else _odd(max(k.shape[-2:])),
            )
        )
    return items


def _odd(n: int) -> int:
    return int(n) if n % 2 else int(n) + 1


def _aligned(x: torch.Tensor, y: torch.Tensor, name: str) -> torch.Tensor:
    """The reference on the observation grid: ``x`` itself, or the centre crop of a valid-blur latent."""
    (H, W), (h, w) = y.shape[-2:], x.shape[-2:]
    if x.shape[1] != y.shape[1]:
        x = x.mean(1, keepdim=True) if y.shape[1] == 1 else x.expand(-1, y.shape[1], -1, -1)
    if not has_even_margin((h, w), (H, W)):
        raise InputError(f"sharp image of {name} is {h}x{w}; need {H}x{W} or larger by an even margin")
    return centre_crop(x, (H, W)).contiguous()


def _photos(n: int, side: int) -> list[torch.Tensor]:
    """Up to ``n`` of scikit-image's gray photos with both sides >= ``side``, in a fixed order; [] without
    scikit-image."""
    try:
        from deblur.data.photos import PHOTOS, skimage_photos

        out = []
        for name in PHOTOS:
            p = skimage_photos([name])[name]
            if min(p.shape[-2:]) >= side:
                out.append(p)
            if len(out) == n:
                break
        return out
    except InputError:
        return []


def _synthetic(n: int, ksize: int) -> list[BenchItem]:
    from deblur.data.procedural import dead_leaves, text_image
    from deblur.data.synthetic import blur_image
    from deblur.kernels import motion_kernel

    g = torch.Generator().manual_seed(SYNTHETIC_SEED)
    latent = SYNTHETIC_SIZE + ksize - 1
    photos = _photos(n, latent)
    items = []
    for i in range(n):
        if photos:
            x = centre_crop(photos[i % len(photos)], (latent, latent))
        else:
            x = (dead_leaves if i % 2 == 0 else text_image)(latent, g)
        k = motion_kernel(ksize, generator=g)
        y = blur_image(x, k, noise_sigma=SYNTHETIC_NOISE, boundary="valid", generator=g)
        sharp = centre_crop(x, (SYNTHETIC_SIZE, SYNTHETIC_SIZE)).contiguous()
        items.append(BenchItem(f"synthetic{i:03d}", y, sharp, k, ksize))
    return items


def _text(n: int, ksize: int) -> list[BenchItem]:
    from deblur.data.procedural import text_image
    from deblur.data.synthetic import blur_image
    from deblur.kernels import motion_kernel

    g = torch.Generator().manual_seed(SYNTHETIC_SEED)
    latent = TEXT_SIZE + ksize - 1
    items = []
    for i in range(n):
        x = text_image(latent, g)
        k = motion_kernel(ksize, generator=g, length_range=(0.3, 1.0))
        sigma = TEXT_NOISE * float(torch.rand(1, generator=g))
        y = blur_image(x, k, noise_sigma=sigma, boundary="valid", generator=g).clamp(0, 1)
        sharp = centre_crop(x, (TEXT_SIZE, TEXT_SIZE)).contiguous()
        items.append(BenchItem(f"text{i:03d}", y, sharp, k, ksize))
    return items


def _synthetic_sv(n: int, ksize: int) -> list[BenchItem]:
    from deblur.data.spatially_varying import sv_cases

    return [
        BenchItem(c.name, c.blurry, c.sharp, None, ksize, category=c.kind, kernel_field=c.field)
        for c in sv_cases(n, ksize)
    ]


def _realistic(n: int) -> list[BenchItem]:
    from deblur.data.realistic import realistic_cases

    return [
        BenchItem(c.name, c.blurry, c.sharp, c.kernel, c.kernel.shape[-1], category=c.category)
        for c in realistic_cases(n)
    ]


# -------------------------------------------------------------------------------------------- running

RunFunction = Callable[[str, BenchItem, Mapping[str, Any]], Result]
"""``run(method, item, overrides) -> Result``: deblur ``item.blurry`` with ``method``."""


def parse_method(method: str) -> tuple[str, str]:
    """``"classic"`` -> ``("blind", "classic")``; ``"true-kernel:hqs"`` -> ``("true-kernel", "hqs")``;
    ``"input"`` -> ``("input", "input")``."""
    kind, sep, name = method.partition(":")
    if method == INPUT:
        return INPUT, INPUT
    if not sep:
        if not method:
            raise InputError("empty method name")
        return "blind", method
    if kind != "true-kernel" or not name:
        raise InputError(f"method {method!r}: use a method name or true-kernel:SOLVER")
    return "true-kernel", name


def default_run(
    method: str,
    item: BenchItem,
    overrides: Mapping[str, Any],
    *,
    components: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Result:
    """Run a method through :func:`deblur.run`, or ``true-kernel:SOLVER`` through :func:`deblur.deconvolve`.

    ``overrides`` are parameters by slot path (``{"solver": {"iterations": 3}}``, as ``deblur.run``
    takes them) and ``components`` component names by slot path (``{"refiner": "none"}``); for a
    true-kernel run they address the non-blind solver ("solver") and its slots. On an item with a true
    ``kernel_field`` a true-kernel run blurs by the field's operator (:func:`deblur.operators.grid_blur`,
    filled into the solver's ``forward`` slot), which only solvers taking any linear operator accept.
    """
    from deblur.pipeline import deconvolve, run

    kind, name = parse_method(method)
    if kind == "true-kernel":
        _require_truth(method, item)
        if item.kernel_field is not None:
            return _true_field_run(name, item, overrides, components, registry)
        x = deconvolve(
            item.blurry, item.kernel, solver=name, registry=registry, components=components, params=overrides
        )
        return Result(image=x, kernel=item.kernel)
    return run(
        item.blurry,
        method=name,
        kernel_size=item.kernel_size,
        components=components,
        params=overrides,
        registry=registry,
    )


def check_runnable(methods: Sequence[str], items: Sequence[BenchItem], registry: Registry) -> None:
    """Refuse, before any work, a ``true-kernel:SOLVER`` that some item cannot give it: an item without
    its true kernel, or a kernel field that ``SOLVER`` cannot take."""
    for method in methods:
        kind, solver = parse_method(method)
        if kind != "true-kernel":
            continue
        registry.get("solver", solver)  # an unknown solver is named as such
        for item in items:
            _require_truth(method, item)
        field = next((item for item in items if item.kernel_field is not None), None)
        if field is not None:
            _check_field_solver(solver, _field_operator(field)[1], field, registry)


def _require_truth(method: str, item: BenchItem) -> None:
    """Refuse a true-kernel ``method`` on an item that has neither its true kernel nor its true field."""
    if item.kernel is None and item.kernel_field is None:
        raise InputError(f"{method} needs the true kernel, which {item.name} does not have")


def _field_operator(item: BenchItem) -> tuple[Any, str]:
    """The operator of ``item``'s true kernel field, and the registered name of its kind."""
    from deblur.operators import KernelFieldBlur, grid_blur

    op = grid_blur(item.kernel_field, tuple(item.blurry.shape[-2:]))
    return op, "kernel-field" if isinstance(op, KernelFieldBlur) else "kernel-basis"


def _check_field_solver(solver: str, operator: str, item: BenchItem, registry: Registry) -> None:
    """Refuse a non-blind ``solver`` whose ``forward`` slot cannot take ``operator``, ``item``'s field."""
    provides = registry.get("operator", operator).record.provides
    able = [
        e.name
        for e in registry.all(["solver"])
        if "non-blind" in e.record.provides
        and "forward" in e.record.requires
        and not e.record.requires["forward"].missing(provides)
    ]
    registry.get("solver", solver)  # an unknown solver is named as such
    if solver not in able:
        raise InputError(
            f"true-kernel:{solver} needs a uniform kernel, but {item.name} is blurred by a kernel field; "
            f"solvers that take one: {', '.join(able) or 'none registered'}"
        )


def _true_field_run(
    solver: str,
    item: BenchItem,
    overrides: Mapping[str, Any],
    components: Mapping[str, str] | None,
    registry: Registry | None,
) -> Result:
    """``true-kernel:SOLVER`` on a spatially varying item: ``SOLVER`` with the true field's operator."""
    from deblur.operators import KernelFieldBlur
    from deblur.pipeline import deconvolve, default_registry

    registry = registry or default_registry()
    op, operator = _field_operator(item)
    _check_field_solver(solver, operator, item, registry)
    operand = op.field if isinstance(op, KernelFieldBlur) else (op.kernels, op.weights)
    x = deconvolve(
        item.blurry,
        operand,
        solver=solver,
        operator=operator,
        registry=registry,
        components=components,
        params=overrides,
    )
    return Result(image=x, kernel_field=item.kernel_field)


@dataclass
class ImageScore:
    """Scores of one method on one image (``None`` where the dataset lacks what a score needs)."""

    image: str
    method: str
    psnr: float
    ssim: float
    seconds: float
    error_ratio: float | None = None
    mnc: float | None = None
    shift: tuple[float, float] = (0.0, 0.0)
    category: str | None = None
    confidence: dict[str, Any] | None = None
    estimate_psnr: float | None = None
    field_mnc: float | None = None


def _estimated_cells(item: BenchItem, result: Result) -> torch.Tensor | None:
    """The estimate's kernels ``(Gh * Gw, 1, h, w)`` at the cell centres of the true field's grid: its
    ``kernel_field`` read there, else its one ``kernel`` everywhere; ``None`` without either (or without
    a true field)."""
    from deblur.fields import cell_kernels

    if item.kernel_field is None:
        return None
    shape, grid = tuple(item.blurry.shape[-2:]), tuple(item.kernel_field.shape[-2:])
    if result.kernel_field is not None:
        return cell_kernels(result.kernel_field, shape, grid)
    if result.kernel is not None:
        return result.kernel[:1].detach().to("cpu", torch.float32).expand(grid[0] * grid[1], -1, -1, -1)
    return None


def score(item: BenchItem, method: str, result: Result, seconds: float) -> ImageScore:
    """Levin-protocol scores of ``result`` against ``item`` (the estimate is clipped to [0, 1])."""
    from deblur.fields import cell_kernels
    from deblur.metrics import kernel_mnc, levin_compare

    est = result.image.detach().to("cpu", torch.float32).clamp(0, 1)
    if est.shape != item.sharp.shape:
        raise InputError(
            f"{method} returned {tuple(est.shape)} for {item.name}, expected {tuple(item.sharp.shape)}"
        )
    s = levin_compare(est, item.sharp)
    ratio = s.ssd / item.ssd_reference if item.ssd_reference else None
    mnc = None
    if item.kernel is not None and result.kernel is not None:
        mnc = float(kernel_mnc(result.kernel[:1].detach().to("cpu", torch.float32), item.kernel))
    field_mnc = None
    estimated = _estimated_cells(item, result)
    if item.kernel_field is not None and estimated is not None:
        grid = tuple(item.kernel_field.shape[-2:])
        true = cell_kernels(item.kernel_field, tuple(item.blurry.shape[-2:]), grid)
        field_mnc = float(kernel_mnc(estimated, true).mean())
    confidence = result.confidence[0].as_dict() if result.confidence else None
    estimate = result.extras.get("estimate")
    estimate_psnr = None
    if estimate is not None:  # the run fell back to the input: how the estimate itself scored
        estimate_psnr = levin_compare(estimate.detach().to("cpu", torch.float32).clamp(0, 1), item.sharp).psnr
    return ImageScore(
        item.name,
        method,
        s.psnr,
        s.ssim,
        seconds,
        ratio,
        mnc,
        s.shift,
        item.category,
        confidence,
        estimate_psnr,
        field_mnc,
    )


def machine_info() -> dict[str, Any]:
    """CPU count and model, torch version and threads, Python and OS."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# -------------------------------------------------------------------------------------------- reports


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def _share(values: Sequence[float | None], bound: float) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(v <= bound for v in vals) / len(vals) if vals else None


@dataclass
class BenchReport:
    """Every score of a benchmark run, with the dataset, methods, settings and machine."""

    dataset: str
    methods: list[str]
    scores: list[ImageScore]
    machine: dict[str, Any] = field(default_factory=machine_info)
    settings: dict[str, Any] = field(default_factory=dict)
    failures: list[BenchFailure] = field(default_factory=list)

    def gains(self, method: str, *, estimates: bool = False) -> dict[str, float]:
        """Per image: ``method``'s PSNR minus the ``input`` row's (images without an input row left out).

        With ``estimates``, the gains of the estimates themselves: where a run fell back to the input,
        the gain the estimate it did not hand out would have had."""
        inputs = {s.image: s.psnr for s in self.scores if s.method == INPUT}
        return {
            s.image: (s.psnr if s.estimate_psnr is None or not estimates else s.estimate_psnr)
            - inputs[s.image]
            for s in self.scores
            if s.method == method and s.image in inputs
        }

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        """Per method: image count, mean PSNR/SSIM/MNC, the mean PSNR gain over the input and how many
        images came out worse than their input, how many fell back to the input and the estimates' mean
        gain, share of error ratio <= 2 and <= 3, seconds; the mean field MNC too where some score has one."""
        out = {}
        fields = self._has_field_mnc()
        for m in self.methods:
            rows = [s for s in self.scores if s.method == m]
            secs = [s.seconds for s in rows]
            gains = list(self.gains(m).values()) if m != INPUT else []
            out[m] = {
                "images": len(rows),
                "psnr": _mean([s.psnr for s in rows]),
                "gain": _mean(gains),
                "worse": sum(g < 0 for g in gains) if gains else None,
                "fallback": sum(bool(s.confidence["fallback"]) for s in rows)
                if rows and all(s.confidence for s in rows)
                else None,  # runs made before results carried a confidence
                "estimate_gain": _mean(list(self.gains(m, estimates=True).values())) if m != INPUT else None,
                "failed": sum(f.method in (m, None) for f in self.failures),
                "ssim": _mean([s.ssim for s in rows]),
                "error_ratio_le2": _share([s.error_ratio for s in rows], 2.0),
                "error_ratio_le3": _share([s.error_ratio for s in rows], 3.0),
                "mnc": _mean([s.mnc for s in rows]),
                **({"field_mnc": _mean([s.field_mnc for s in rows])} if fields else {}),
                "seconds_median": statistics.median(secs) if secs else None,
                "seconds_mean": _mean(secs),
            }
        return out

    def _has_field_mnc(self) -> bool:
        return any(s.field_mnc is not None for s in self.scores)

    def to_json(self) -> str:
        """Everything as JSON: dataset, methods, settings, machine, summary and every per-image score.

        Non-finite numbers (the PSNR of an exact restoration) become ``null``.
        """
        data = {
            "dataset": self.dataset,
            "methods": self.methods,
            "settings": self.settings,
            "machine": self.machine,
            "summary": self.summary(),
            "images": [asdict(s) for s in self.scores],
            "failures": [asdict(f) for f in self.failures],
        }
        return json.dumps(_finite(data), indent=2, allow_nan=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> BenchReport:
        """Read back :meth:`to_json` (``null`` PSNRs of exact restorations become ``inf``)."""
        data = json.loads(text)
        scores = []
        for row in data["images"]:
            row = {
                **row,
                "psnr": math.inf if row["psnr"] is None else row["psnr"],
                "shift": tuple(row["shift"]),
            }
            scores.append(ImageScore(**row))
        failures = [BenchFailure(**row) for row in data.get("failures", [])]
        return cls(
            data["dataset"], list(data["methods"]), scores, data["machine"], data["settings"], failures
        )

    def _failed(self) -> list[str]:
        """Markdown lines: each image a method failed on (or whose worker was lost), with its error."""
        if not self.failures:
            return []
        lines = ["", f"Failed ({len(self.failures)}), left out of the rows above:", ""]
        for f in self.failures:
            lines.append(f"- {f.image}" + (f", {f.method}" if f.method else "") + f": {f.error}")
        return lines

    def _categories(self) -> list[str]:
        """Markdown lines: per category, each method's mean gain over the input and images made worse."""
        category = {s.image: s.category for s in self.scores if s.category is not None}
        kinds = sorted(set(category.values()), key=list(category.values()).index)
        if not kinds:
            return []
        lines = [
            "",
            "Per category: mean PSNR gain over the input (dB) / images worse than their input.",
            "",
            "| method | "
            + " | ".join(f"{kind} ({list(category.values()).count(kind)})" for kind in kinds)
            + " |",
            "|---|" + "---:|" * len(kinds),
        ]
        for m in self.methods:
            if m == INPUT:
                continue
            gains = self.gains(m)
            cells = []
            for kind in kinds:
                values = [g for image, g in gains.items() if category.get(image) == kind]
                mean = _mean(values)  # None where every gain is infinite (exact restorations)
                shown = "-" if mean is None else f"{mean:+.2f}"
                cells.append(f"{shown} / {sum(v < 0 for v in values)}" if values else "-")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        return lines

    def to_markdown(self) -> str:
        """A summary table per method, a per-image table and the machine (with a field MNC column where
        some score has one)."""

        def num(v: float | None, fmt: str) -> str:
            return "-" if v is None else format(v, fmt)

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.0f}%"

        fields = self._has_field_mnc()
        lines = [f"# Benchmark: {self.dataset}", ""]
        lines += [
            "| method | images | PSNR (dB) | gain (dB) | worse than input | fell back | estimate gain (dB) "
            "| SSIM | ER <= 2 | ER <= 3 | kernel MNC |"
            + (" field MNC |" if fields else "")
            + " s/image median | s/image mean |",
            "|---|" + "---:|" * (13 if fields else 12),
        ]
        for m, s in self.summary().items():
            lines.append(
                f"| {m} | {s['images']} | {num(s['psnr'], '.2f')} | {num(s['gain'], '+.2f')} | "
                f"{num(s['worse'], 'd')} | {num(s['fallback'], 'd')} | {num(s['estimate_gain'], '+.2f')} | "
                f"{num(s['ssim'], '.3f')} | "
                f"{pct(s['error_ratio_le2'])} | {pct(s['error_ratio_le3'])} | {num(s['mnc'], '.3f')} | "
                + (f"{num(s['field_mnc'], '.3f')} | " if fields else "")
                + f"{num(s['seconds_median'], '.1f')} | {num(s['seconds_mean'], '.1f')} |"
            )
        lines += self._failed()
        lines += self._categories()
        shown = "kernel MNC / field MNC" if fields else "kernel MNC"
        lines += ["", f"Per image: PSNR (dB) / SSIM / error ratio / {shown} / seconds.", ""]
        lines.append("| image | " + " | ".join(self.methods) + " |")
        lines.append("|---|" + "---|" * len(self.methods))
        table: dict[str, dict[str, ImageScore]] = {}
        for s in self.scores:
            table.setdefault(s.image, {})[s.method] = s
        for image, row in table.items():
            cells = []
            for m in self.methods:
                s = row.get(m)
                cells.append(
                    "-"
                    if s is None
                    else f"{s.psnr:.2f} / {s.ssim:.3f} / {num(s.error_ratio, '.2f')} / {num(s.mnc, '.3f')} / "
                    + (f"{num(s.field_mnc, '.3f')} / " if fields else "")
                    + f"{s.seconds:.1f}"
                )
            lines.append(f"| {image} | " + " | ".join(cells) + " |")
        mach = self.machine
        threads = mach.get("workers") or f"with {mach.get('torch_threads')} threads"
        lines += [
            "",
            f"Machine: {mach.get('cpu_count')} CPUs ({mach.get('cpu_model')}), "
            f"torch {mach.get('torch')} {threads}, Python {mach.get('python')}"
            + (f", GPU {mach['cuda']}" if mach.get("cuda") else "")
            + ".",
        ]
        if self.settings:
            lines.append(f"Settings: {json.dumps(self.settings, default=str)}.")
        return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------- montage


def _rgb(x: torch.Tensor) -> np.ndarray:
    a = x.detach().to("cpu", torch.float32).clamp(0, 1)[0]
    a = a.expand(3, -1, -1) if a.shape[0] == 1 else a
    return np.rint(a.permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def montage(
    blurry: torch.Tensor,
    panels: Sequence[tuple[str, torch.Tensor, torch.Tensor | None]],
    true_kernel: torch.Tensor | None = None,
    *,
    fields: bool = False,
) -> np.ndarray:
    """An RGB uint8 picture: the blurry input then each ``(label, image, kernel)`` panel, labelled, with
    each estimated kernel under its image and the true kernel (when known) under the input.

    With ``fields`` the kernels are pictures of kernel fields (:func:`deblur.fields.field_picture`),
    shown as wide as the images.
    """
    from PIL import Image, ImageDraw

    from deblur.kernels import kernel_to_image

    H, W = blurry.shape[-2:]
    label_h, pad = 14, 4
    tiles = [("blurry", blurry, None), *panels]
    side = W if fields else max(8, (W - pad) // 2)
    shown = [true_kernel, *(k for _, _, k in panels)]
    pictures = [None if k is None else Image.fromarray(kernel_to_image(k[:1])) for k in shown]
    inset_h = max((max(1, round(side * p.height / p.width)) for p in pictures if p is not None), default=0)
    row_h = label_h + H + (label_h + inset_h if inset_h else 0)
    canvas = Image.new("RGB", (len(tiles) * (W + pad) + pad, row_h + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, ((label, img, _), pic) in enumerate(zip(tiles, pictures, strict=True)):
        x0 = pad + i * (W + pad)
        draw.text((x0, 1), label[: max(4, W // 6)], fill=(0, 0, 0))
        canvas.paste(Image.fromarray(_rgb(img)), (x0, label_h))
        if pic is None:
            continue
        size = (side, max(1, round(side * pic.height / pic.width)))
        y0 = label_h + H
        truth = "true field" if fields else "true kernel"
        draw.text((x0, y0 + 1), truth if i == 0 else "estimate", fill=(0, 0, 0))
        y0 += label_h
        canvas.paste(pic.resize(size, Image.NEAREST).convert("RGB"), (x0, y0))
        draw.rectangle((x0 - 1, y0 - 1, x0 + size[0], y0 + size[1]), outline=(128, 128, 128))
    return np.array(canvas)


def _field_inset(item: BenchItem, result: Result) -> torch.Tensor | None:
    """The picture of a result's kernels at the cell centres of ``item``'s true field, laid out as that
    field (:func:`deblur.fields.field_picture`), or ``None`` when the result has no kernel."""
    from deblur.fields import field_picture

    cells = _estimated_cells(item, result)
    if cells is None or item.kernel_field is None:
        return None
    return field_picture(cells.flatten(1).T.reshape(1, -1, *item.kernel_field.shape[-2:]))


def _write_png(path: Path, picture: np.ndarray) -> None:
    from deblur.io import write_image

    write_image(path, torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 255)


def _write_text(path: Path, text: str) -> None:
    from deblur.io import atomic_write

    with atomic_write(path) as tmp:
        tmp.write_text(text)


def _finished(path: Path, report: BenchReport, names: Sequence[str]) -> list[ImageScore]:
    """The scores in the report at ``path`` of the images in ``names`` that every method finished."""
    if not path.is_file():
        return []
    try:
        previous = BenchReport.from_json(path.read_text())
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a benchmark report ({exc}); delete it to start over") from exc
    same_settings = json.loads(json.dumps(report.settings, default=str)) == previous.settings
    if (previous.dataset, previous.methods) != (report.dataset, report.methods) or not same_settings:
        raise InputError(
            f"{path} holds a run of {', '.join(previous.methods)} on {previous.dataset} with "
            f"{previous.settings}; resume the same command, or use another --out"
        )
    ran: dict[str, set[str]] = {name: set() for name in names}
    for s in previous.scores:
        if s.image in ran:
            ran[s.image].add(s.method)
    complete = {name for name, methods in ran.items() if methods == set(report.methods)}
    return [s for s in previous.scores if s.image in complete]


@dataclass
class BenchFailure:
    """A method that raised on an image (``method`` ``None``: the image's worker process was lost)."""

    image: str
    method: str | None
    error: str
    traceback: str = ""


@dataclass
class ItemOutcome:
    """What one image gives: its scores and failures, the kernels and kernel fields to write by method,
    and its montage (with ``pictures``, when every method ran)."""

    scores: list[ImageScore] = field(default_factory=list)
    failures: list[BenchFailure] = field(default_factory=list)
    kernels: dict[str, torch.Tensor] = field(default_factory=dict)
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    montage: np.ndarray | None = None


@dataclass
class ItemJob:
    """Every method on one item, scored: what a worker does for one image (it pickles when ``run``
    does). A method that raises is a :class:`BenchFailure` of the image; the other methods run on."""

    methods: list[str]
    run: RunFunction
    overrides: dict[str, Any]
    pictures: bool = False

    def __call__(self, item: BenchItem) -> ItemOutcome:
        from deblur.fields import field_picture

        out, panels = ItemOutcome(), []
        sv = item.kernel_field is not None
        for m in self.methods:
            start = time.perf_counter()
            try:
                result = Result(image=item.blurry) if m == INPUT else self.run(m, item, dict(self.overrides))
                out.scores.append(score(item, m, result, time.perf_counter() - start))
            except Exception as exc:
                failure = Failure.of(exc)
                out.failures.append(BenchFailure(item.name, m, failure.error, failure.traceback))
                continue
            if m == INPUT:  # the montage's first panel is the input already
                continue
            blind = parse_method(m)[0] == "blind"
            inset = (_field_inset(item, result) if sv else result.kernel) if blind else None
            panels.append((m, result.image.clamp(0, 1), inset))
            if blind and result.kernel is not None:
                out.kernels[m] = result.kernel.detach().cpu()
            if blind and result.kernel_field is not None:
                out.fields[m] = result.kernel_field.detach().cpu().numpy()
        if self.pictures and not out.failures:
            truth = field_picture(item.kernel_field) if sv else item.kernel
            out.montage = montage(item.blurry, panels, truth, fields=sv)
        return out


@dataclass
class MethodRunner(Job):
    """:func:`default_run` with each method's parameters and components (by method name), as ``deblur
    bench`` gives them: a :data:`RunFunction` that pickles (``registry`` stays behind; a worker uses
    :func:`deblur.pipeline.default_registry`, with the installed plugins when ``plugins``)."""

    params: dict[str, dict[str, Any]]
    components: dict[str, dict[str, str]]
    plugins: bool = True
    registry: Registry | None = None
    local = ("registry",)

    def __call__(self, method: str, item: BenchItem, overrides: Mapping[str, Any]) -> Result:
        from deblur.pipeline import default_registry

        return default_run(
            method,
            item,
            self.params.get(method, {}),
            components=self.components.get(method, {}),
            registry=self.registry or default_registry(self.plugins),
        )


def run_bench(
    methods: Sequence[str],
    items: Sequence[BenchItem],
    *,
    run: RunFunction = default_run,
    dataset: str = "",
    out_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    components: Mapping[str, Mapping[str, str]] | None = None,
    progress: Progress | None = None,
    resume: bool = False,
    workers: Workers | None = None,
) -> BenchReport:
    """Score the input and run every method on every item, score them and (with ``out_dir``) write the
    outputs.

    ``out_dir`` receives ``report.md``, ``report.json``, ``montages/<image>.png`` (on an item with a true
    kernel field, the fields as grids of kernels) and each blind method's estimated kernel as
    ``kernels/<method>/<image>.npy`` (a kernel field as ``<image>-field.npy``); the reports are
    rewritten after every image, so an interrupted run keeps what it finished. With ``resume`` the
    images already scored in ``out_dir/report.json`` by every method are kept (with their times) and
    only the rest are run; that report must come from the same dataset, methods, overrides and
    components (by method; recorded only where some are given).

    ``workers`` spreads the images over processes (:mod:`deblur.parallel`; ``run`` must then pickle):
    the report lists the images in the dataset's order whichever finishes first, so it equals a serial
    run's but for the seconds. A method that raises on an image, or an image whose worker dies, is in
    ``report.failures``; the others run on, and a resumed run retries it.
    """
    from deblur.io import write_kernel

    if not methods:
        raise InputError("no methods to benchmark")
    if not items:
        raise InputError("the dataset has no images")
    for m in methods:
        parse_method(m)
    methods = [INPUT, *(m for m in methods if m != INPUT)]
    workers = workers or Workers()
    out = None if out_dir is None else Path(out_dir)
    report = BenchReport(
        dataset=dataset,
        methods=list(methods),
        scores=[],
        settings={
            "overrides": dict(overrides or {}),
            **({"components": dict(components)} if components else {}),
        },
    )
    if not workers.serial:
        report.machine.update(workers=workers.describe(), torch_threads=workers.threads_each())
    if resume:
        if out is None:
            raise InputError("resuming a benchmark needs its output folder (--out)")
        report.scores = _finished(out / "report.json", report, [item.name for item in items])
    if out is not None:
        (out / "montages").mkdir(parents=True, exist_ok=True)
        for m in methods:
            if parse_method(m)[0] == "blind":
                (out / "kernels" / m).mkdir(parents=True, exist_ok=True)
    done, order = {s.image for s in report.scores}, {item.name: i for i, item in enumerate(items)}
    items = [item for item in items if item.name not in done]
    kept, outcomes = report.scores, {}
    job = ItemJob(list(methods), run, dict(overrides or {}), pictures=out is not None)
    for index, outcome in each_done(job, items, workers):
        item = items[index]
        if isinstance(outcome, Failure):
            outcome = ItemOutcome(failures=[BenchFailure(item.name, None, outcome.error, outcome.traceback)])
        outcomes[index] = outcome
        new = [s for i in sorted(outcomes) for s in outcomes[i].scores]
        report.scores = sorted(kept + new, key=lambda s: order[s.image])  # stable: methods in order
        report.failures = [f for i in sorted(outcomes) for f in outcomes[i].failures]
        if out is not None:
            for m, kernel in outcome.kernels.items():
                write_kernel(out / "kernels" / m / f"{item.name}.npy", kernel)
            for m, estimate in outcome.fields.items():
                np.save(out / "kernels" / m / f"{item.name}-field.npy", estimate)
            if outcome.montage is not None:
                _write_png(out / "montages" / f"{item.name}.png", outcome.montage)
            _write_text(out / "report.md", report.to_markdown())
            _write_text(out / "report.json", report.to_json())
        if progress is not None:
            last = outcome.scores[-1] if outcome.scores else None
            metrics = (
                {} if last is None else {"psnr": last.psnr, "seconds": sum(s.seconds for s in outcome.scores)}
            )
            progress("bench", len(outcomes) * len(methods), len(items) * len(methods), **metrics)
    return report
