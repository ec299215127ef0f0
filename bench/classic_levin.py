"""Benchmark the classic blind method (and the true-kernel baseline) on the Levin et al. 2009 set.

    PYTHONPATH=packages/deblur-core/src python bench/classic_levin.py [--limit N] [--size true|hint|auto]
        [--params '{"kernel_prior": {"weight": 4.0}}'] [--out bench/out/levin]

Runs ``classic`` through :func:`deblur.run` with the slot-path parameters of ``--params`` on top of the
recipe, and ``true-kernel:hqs`` (hyper-Laplacian HQS, weight 1e-4, valid boundary, the TRUE kernel),
then writes report.md, report.json and one montage per image with :func:`deblur.bench.run_bench`.
``--size true`` gives the method the true kernel's size (as the papers do), ``hint`` Levin's sizeL
hints, ``auto`` nothing (the method's automatic rule).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from deblur.bench import BenchItem, load_dataset, run_bench
from deblur.data.levin import load_levin
from deblur.pipeline import run
from deblur.priors import HyperLaplacian
from deblur.result import Result
from deblur.solvers.hqs import HQSDeconvolver

LEVIN = Path(__file__).resolve().parents[2] / "shared" / "benchdata" / "levin"
RECIPE = {"kernel_prior": {"weight": 4.0}, "nonblind.prior": {"weight": 1e-4}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--size", choices=("true", "hint", "auto"), default="true")
    parser.add_argument("--params", default="{}", help="slot-path parameters as JSON, over the recipe")
    parser.add_argument("--methods", default="classic,true-kernel:hqs")
    parser.add_argument("--out", default="bench/out/levin")
    parser.add_argument("--dataset", default=f"levin:{LEVIN}")
    args = parser.parse_args()
    params = {**RECIPE, **json.loads(args.params)}
    items = load_dataset(args.dataset, limit=args.limit)
    hints = {c.name: c.kernel_size_hint for c in load_levin(args.dataset.partition(":")[2])}
    for item in items:
        item.kernel_size = {"true": item.kernel_size, "hint": hints.get(item.name), "auto": None}[args.size]
    baseline = HQSDeconvolver(HyperLaplacian(1e-4))

    def run_one(method: str, item: BenchItem, overrides) -> Result:
        if method == "true-kernel:hqs":
            return Result(image=baseline(item.blurry, item.kernel), kernel=item.kernel)
        return run(item.blurry, method=method, kernel_size=item.kernel_size, params=overrides)

    def progress(stage: str, step: int, total: int, **m: float) -> None:
        print(f"{stage} {step}/{total} psnr {m['psnr']:.2f} {m['seconds']:.1f}s", file=sys.stderr, flush=True)

    torch.set_num_threads(1)  # the baseline; classic sets its own thread count (1 by default)
    report = run_bench(
        args.methods.split(","),
        items,
        run=run_one,
        dataset=f"{args.dataset} (kernel size: {args.size})",
        out_dir=args.out,
        overrides=params,
        progress=progress,
    )
    print(report.to_markdown())


if __name__ == "__main__":
    main()
