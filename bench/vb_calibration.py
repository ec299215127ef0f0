"""How well deblur-vb's posteriors are calibrated, on held-out synthetic tuples.

For the shipped kernel-free and kernel-dependent models, draws ``--pairs`` tuples the trainers never
saw (core's BlurredCrops: dead leaves, rendered text and photos, 31 px camera-shake kernels, noise up
to 7/255, seed 2_000_003) and reports, per model:

- the fraction of true sharp pixels within the posterior mean +- 2 standard deviations (a calibrated
  Gaussian gives 95%), and the median ratio |error| / std;
- the same for the kernel's taps under the Dirichlet (all taps, and the taps where the true kernel is
  non-zero);
- for the kernel-dependent model, the image again with ``--draws`` kernel draws (its standard deviation
  then holds the kernel's uncertainty too);
- the mean posterior standard deviation against the mean absolute error.

    python bench/vb_calibration.py --json bench/results/vb-calibration.json [--pairs 64] [--crop 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from deblur_vb.store import load_model

from deblur.data import BlurredCrops

SEED = 2_000_003


def _figures(truth: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> dict[str, float]:
    error = (truth - mean).abs()
    return {
        "within_2std": round(float((error <= 2 * std).double().mean()), 4),
        "median_error_over_std": round(float((error / std).median()), 2),
        "mean_std": float(f"{float(std.mean()):.3g}"),
        "mean_abs_error": float(f"{float(error.mean()):.3g}"),
    }


@torch.no_grad()
def calibrate(structure: str, pairs: int, crop: int, draws: int) -> dict:
    model, card = load_model(structure, 31)
    data = BlurredCrops(31, crop, noise=(0.0, 7 / 255))
    y, k, sharp = data.triples(pairs, torch.Generator().manual_seed(SEED))
    torch.manual_seed(SEED)
    out = {"weights": card["command"], "pairs": pairs, "crop": crop}
    post = model.posterior(y)
    out["image"] = _figures(sharp, post.image_mean, post.image_std)
    out["kernel"] = _figures(k, post.kernel_mean, post.kernel_std)
    support = k > 0
    out["kernel_support"] = _figures(k[support], post.kernel_mean[support], post.kernel_std[support])
    if structure == "kd":
        sampled = model.posterior(y, draws=draws)
        out[f"image_{draws}_kernel_draws"] = _figures(sharp, sampled.image_mean, sampled.image_std)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--draws", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = {s: calibrate(s, args.pairs, args.crop, args.draws) for s in ("kf", "kd")}
    results["machine"] = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread"
    results["seconds"] = round(time.perf_counter() - start, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
