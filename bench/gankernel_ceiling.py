"""How well the shipped kernel generator can represent Levin's kernels: the ceiling of ``gankernel``.

    python bench/gankernel_ceiling.py --levin ../shared/benchdata/levin --out docs/images

Each true Levin kernel, centred in the generator's support, is projected onto the generator's manifold
as the BID process parameterises it: GAN inversion in ``z`` (L1, from zero), then Adam on the feature
map ``w = g_1(z)`` (Eq. 6's variable) for the same L1 distance. The projected kernel then goes through
the same non-blind step as ``gankernel`` (core's ``hqs``). The PSNR of that image is what a perfect
BID process in ``w`` could reach with this generator; the true kernel through ``hqs`` is shown beside
it. Scores follow ``deblur bench`` (Levin's protocol). Printed as markdown and written as JSON to
``--json`` (default ``OUT/gankernel-ceiling.json``; docs/benchmarks.md reads
``bench/results/gankernel-ceiling.json``); ``--weights STEM`` measures a candidate generator (e.g. one
trained with ``deblur train gankernel-generator --out STEM``) before it replaces the shipped one,
written to ``OUT/ceiling-<name>.json``.

``--bid IMAGE,...`` also runs ``gankernel``'s CPU preset on those images started at the projection of
their true kernel instead of the initializer's code, at each ``--lr-kernel``: whether the BID process
keeps a correct start (an oracle start, so a diagnosis, not a method).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from deblur.bench import BenchItem, load_dataset, score
from deblur.context import RunContext
from deblur.kernels import center, fit_support
from deblur.metrics import kernel_mnc
from deblur.pipeline import deconvolve
from deblur.result import Result
from deblur.solvers.hqs import HQSDeconvolver
from deblur.solvers.kernel_then_image import KernelThenImage
from deblur_gankernel.benchmarks import ceiling_table
from deblur_gankernel.generator import KernelGenerator
from deblur_gankernel.inversion import invert, l1_distance
from deblur_gankernel.representation import GanLatentKernel
from deblur_gankernel.solver import GanKernelEstimator
from deblur_gankernel.store import LoadedGenerator, load_generator


def project_w(network: KernelGenerator, k: torch.Tensor, steps: int) -> torch.Tensor:
    """The feature map ``w*`` whose kernel ``G^(w)(w*)`` is closest to ``k`` in L1: ``z`` inversion, then
    ``w`` refinement."""
    z = invert(network, k, steps=steps, lr=0.05)
    w = network.g1(z).detach().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01)
    for _ in range(steps):
        loss = l1_distance(network.synthesis(w), k).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return w.detach()


def bid_from(loaded: LoadedGenerator, w: torch.Tensor, item: BenchItem, lr_kernel: float) -> dict[str, float]:
    """PSNR and kernel MNC of ``gankernel``'s CPU preset started at ``w`` (seed 0, one thread)."""

    def start(size: int) -> GanLatentKernel:
        rep = GanLatentKernel(loaded.network, loaded.average_z, space="w", init="average")
        with torch.no_grad():
            rep.variable.copy_(w)
        return rep

    estimator = GanKernelEstimator(kernel_rep=start, lr_kernel=lr_kernel)
    solver = KernelThenImage(estimator=estimator, nonblind=HQSDeconvolver(), crop=128, threads=1)
    result = solver(item.blurry, RunContext(kernel_size=loaded.network.config.size, seed=0))
    s = score(item, "gankernel", Result(image=result.image.clamp(0, 1), kernel=result.kernel), 0.0)
    return {"psnr": s.psnr, "mnc": s.mnc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levin", required=True, help="the Levin benchmark folder")
    parser.add_argument("--size", type=int, default=31, help="generator size (a shipped one)")
    parser.add_argument(
        "--weights", type=Path, help="a generator's weight stem to measure instead of the shipped one"
    )
    parser.add_argument("--steps", type=int, default=500, help="Adam steps of each inversion stage")
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="folder of the JSON")
    parser.add_argument("--json", type=Path, help="the JSON file to write (default: in --out)")
    parser.add_argument("--bid", default="", metavar="IMAGE,...", help="run the BID from the projection")
    parser.add_argument(
        "--lr-kernel", default="5e-3,5e-4", metavar="LR,...", help="kernel learning rates of --bid"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_generator(args.size, args.weights)
    network = loaded.network  # frozen, in eval mode
    items = load_dataset(f"levin:{args.levin}")
    start = time.perf_counter()
    starts: dict[str, torch.Tensor] = {}
    projected: dict[str, torch.Tensor] = {}
    kernels: dict[str, float] = {}
    for item in items:
        name = item.name.split("_")[1]
        if name not in projected:
            true = item.kernel.float()
            starts[name] = project_w(network, fit_support(true, args.size), args.steps)
            with torch.no_grad():
                projected[name] = center(network.synthesis(starts[name]))
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
    chosen = [name for name in args.bid.split(",") if name]
    bid = {
        item.name: {
            rate: bid_from(loaded, starts[item.name.split("_")[1]], item, float(rate))
            for rate in args.lr_kernel.split(",")
        }
        for item in items
        if item.name in chosen
    }
    report = {
        "size": args.size,
        "weights": str(args.weights) if args.weights else "shipped",
        "steps": args.steps,
        "seconds": time.perf_counter() - start,
        "kernels": kernels,
        "images": images,
        "mean_psnr": mean,
        "bid": bid,
    }
    print(ceiling_table(report))
    name = "gankernel-ceiling" if args.weights is None else f"ceiling-{args.weights.name}"
    path = args.json or args.out / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
