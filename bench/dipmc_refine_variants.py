"""Variants of deblur-dipmc's kernel refinement, applied offline to the kernels of an unrefined run.

    python bench/dipmc_refine_variants.py --levin ../shared/benchdata/levin [--run DIR] [--out FILE]

``DIR`` (default ``bench/out/levin-dipmc-no-refine``) is the ``--out`` folder of
``deblur bench dipmc --dataset levin:PATH --use refiner=none``: its kernels (``kernels/dipmc/*.npy``)
are refined by :meth:`deblur.solvers.classic.ClassicRefiner.refine` with each variant below, deconvolved
by the ``dipmc`` method's non-blind solver and scored as ``deblur bench`` scores. The preset's variant is
the method's own refiner, so its scores are those of ``deblur bench dipmc``. Writes JSON (default
``bench/out/dipmc-refine-variants.json``): mean PSNR on im01-im02, im03-im04 and all images.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP runtime

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from deblur.bench import load_dataset, score
from deblur.observation import luminance
from deblur.pipeline import resolve_method
from deblur.registry import Registry
from deblur.result import Result
from deblur.solvers.classic import ClassicRefiner

OUT = Path(__file__).parent / "out"
HALVES = (("im01", "im02"), ("im03", "im04"))
#: (label, alternations, pruning cut, weight scale); None: the ``dipmc`` method's own refiner.
VARIANTS = (
    ("none", 0, 0.0, 0.0),
    ("5 alternations, pruned at 5% of the peak (`classic`'s cut)", 5, 0.05, 0.05),
    ("10 alternations, pruned at 5%", 10, 0.05, 0.05),
    ("5 alternations, pruned at 5%, weight scale 0.1", 5, 0.05, 0.1),
    ("5 alternations, pruned at 5%, weight scale 0.02", 5, 0.05, 0.02),
    ("10 alternations, pruned at 2%", 10, 0.02, 0.05),
    ("5 alternations, pruned at 2% (the preset)", None, 0.0, 0.0),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levin", required=True, type=Path)
    parser.add_argument("--run", type=Path, default=OUT / "levin-dipmc-no-refine")
    parser.add_argument("--out", type=Path, default=OUT / "dipmc-refine-variants.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    solver = resolve_method(Registry(), "dipmc").build()
    items = {i.name: i for i in load_dataset(f"levin:{args.levin}")}
    paths = sorted((args.run / "kernels" / "dipmc").glob("*.npy"))
    if not paths:
        raise SystemExit(f"no kernels in {args.run}/kernels/dipmc: run the unrefined benchmark first")
    cases = []  # (item, its luminance, the unrefined kernel), read once for every variant
    for path in paths:
        item = items[path.stem]
        k = torch.from_numpy(np.load(path)).to(item.blurry.dtype)[None, None]
        cases.append((item, luminance(item.blurry), k))
    preset = solver.refiner
    rows = []
    for label, iterations, cut, scale in VARIANTS:
        if iterations is None:
            refiner = preset
        elif iterations > 0:  # the preset's priors, other iterations, cut and weight scale
            refiner = ClassicRefiner(
                image_prior=preset.image_prior,
                kernel_prior=preset.kernel_prior,
                iterations=iterations,
                kernel_threshold=cut,
                min_weight_scale=scale,
            )
        psnr = {}
        for item, gray, k in cases:
            if iterations != 0:
                k = refiner.refine(gray, k)
            x = solver.nonblind(item.blurry, k)
            psnr[item.name] = score(item, "dipmc", Result(image=x, kernel=k), 0.0).psnr
        halves = [[v for n, v in psnr.items() if n[:4] in group] for group in HALVES]
        rows.append(
            {
                "variant": label,
                "images": len(psnr),
                "psnr_im01_im02": statistics.mean(halves[0]) if halves[0] else None,
                "psnr_im03_im04": statistics.mean(halves[1]) if halves[1] else None,
                "psnr": statistics.mean(psnr.values()),
                "per_image": psnr,
            }
        )
        print(label, round(rows[-1]["psnr"], 3), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
