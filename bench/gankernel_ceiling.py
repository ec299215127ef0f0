"""How well the shipped kernel generator can represent Levin's kernels: the ceiling of ``gankernel``.

    python bench/gankernel_ceiling.py --levin ../shared/benchdata/levin --out docs/images

Each true Levin kernel, centred in the generator's support, is projected onto the generator's manifold
as the BID process parameterises it: GAN inversion in ``z`` (L1, from zero), then Adam on the feature
map ``w = g_1(z)`` (Eq. 6's variable) for the same L1 distance. The projected kernel then goes through
the same non-blind step as ``gankernel`` (core's ``hqs``). The PSNR of that image is what a perfect
BID process in ``w`` could reach with this generator; the true kernel through ``hqs`` is shown beside
it. Scores follow ``deblur bench`` (Levin's protocol). Printed as markdown, written to
``gankernel-ceiling.json``; ``--weights STEM`` measures a candidate generator (e.g. one trained with
``deblur train gankernel-generator --out STEM``) before it replaces the shipped one, written to
``ceiling-<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from deblur.bench import load_dataset, score
from deblur.kernels import center, fit_support
from deblur.metrics import kernel_mnc
from deblur.pipeline import deconvolve
from deblur.result import Result
from deblur_gankernel.generator import KernelGenerator
from deblur_gankernel.inversion import invert, l1_distance
from deblur_gankernel.store import load_generator


def project_w(network: KernelGenerator, k: torch.Tensor, steps: int) -> torch.Tensor:
    """The kernel ``G^(w)(w*)`` closest to ``k`` in L1: ``z`` inversion, then ``w`` refinement."""
    z = invert(network, k, steps=steps, lr=0.05)
    w = network.g1(z).detach().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01)
    for _ in range(steps):
        loss = l1_distance(network.synthesis(w), k).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return network.synthesis(w).detach()


def table(report: dict) -> str:
    """Markdown table of a ``gankernel-ceiling.json`` report: per Levin kernel, then all images."""
    images, mean = report["images"], report["mean_psnr"]
    lines = [
        "| kernel | MNC of the projection | PSNR, projected kernel + hqs | PSNR, true kernel + hqs |",
        "|---|---:|---:|---:|",
    ]
    for name, mnc in report["kernels"].items():
        rows = [p for image, p in images.items() if image.endswith(name)]
        projected = sum(p["projected"] for p in rows) / len(rows)
        true = sum(p["true"] for p in rows) / len(rows)
        lines.append(f"| {name} | {mnc:.3f} | {projected:.2f} | {true:.2f} |")
    lines.append(f"| all {len(images)} images | | {mean['projected']:.2f} | {mean['true']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levin", required=True, help="the Levin benchmark folder")
    parser.add_argument("--size", type=int, default=31, help="generator size (a shipped one)")
    parser.add_argument(
        "--weights", type=Path, help="a generator's weight stem to measure instead of the shipped one"
    )
    parser.add_argument("--steps", type=int, default=500, help="Adam steps of each inversion stage")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    network = load_generator(args.size, args.weights).network  # frozen, in eval mode
    items = load_dataset(f"levin:{args.levin}")
    start = time.perf_counter()
    projected: dict[str, torch.Tensor] = {}
    kernels: dict[str, float] = {}
    for item in items:
        name = item.name.split("_")[1]
        if name not in projected:
            true = item.kernel.float()
            projected[name] = center(project_w(network, fit_support(true, args.size), args.steps))
            kernels[name] = float(kernel_mnc(projected[name], true))
    images = {}
    for item in items:
        k = projected[item.name.split("_")[1]]
        psnr = {}
        for label, kernel in (("projected", k), ("true", item.kernel.float())):
            x = deconvolve(item.blurry, kernel, solver="hqs")
            psnr[label] = score(item, label, Result(image=x, kernel=kernel), 0.0).psnr
        images[item.name] = psnr
    mean = {label: sum(p[label] for p in images.values()) / len(images) for label in ("projected", "true")}
    report = {
        "size": args.size,
        "weights": str(args.weights) if args.weights else "shipped",
        "steps": args.steps,
        "seconds": time.perf_counter() - start,
        "kernels": kernels,
        "images": images,
        "mean_psnr": mean,
    }
    print(table(report))
    args.out.mkdir(parents=True, exist_ok=True)
    name = "gankernel-ceiling" if args.weights is None else f"ceiling-{args.weights.name}"
    path = args.out / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
