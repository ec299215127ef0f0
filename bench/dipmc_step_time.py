"""Seconds per step of Algorithm 1 for the ``dipmc`` and ``dipmc-paper`` presets on one Levin image.

    python bench/dipmc_step_time.py --levin ../shared/benchdata/levin [--image im01_ker04] [--out FILE]

Each preset runs twice through :func:`deblur.pipeline.run` with ``solver.steps`` set to two counts; the
difference of the wall times over the difference of the counts is the cost of one step (set-up, the
Monte-Carlo draws and the non-blind step cancel out). A preset's time per image is that cost times its
steps plus the rest. Writes JSON (default ``bench/out/dipmc-step-time.json``; docs/benchmarks.md reads
``bench/results/dipmc-step-time.json``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP runtime

import argparse
import json
import time
from pathlib import Path

import torch

from deblur.bench import load_dataset
from deblur.pipeline import resolve_method, run
from deblur.registry import Registry

#: (method, the two step counts timed): the paper preset's steps cost about 50 times more.
PRESETS = (("dipmc", (50, 250)), ("dipmc-paper", (2, 7)))


def seconds(blurry: torch.Tensor, method: str, size: int, steps: int) -> float:
    start = time.perf_counter()
    run(blurry, method=method, kernel_size=size, seed=0, params={"estimator": {"steps": steps}})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levin", required=True, type=Path)
    parser.add_argument("--image", default="im01_ker04")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "dipmc-step-time.json")
    args = parser.parse_args()
    item = next(i for i in load_dataset(f"levin:{args.levin}") if i.name == args.image)
    registry = Registry()
    rows = []
    for method, (few, many) in PRESETS:
        solver = resolve_method(registry, method).build()
        seconds(item.blurry, method, item.kernel_size, 1)  # warm-up: imports, allocator
        short, long = (seconds(item.blurry, method, item.kernel_size, n) for n in (few, many))
        per_step = (long - short) / (many - few)
        rows.append(
            {
                "method": method,
                "image": item.name,
                "kernel_size": item.kernel_size,
                "threads": solver.threads or torch.get_num_threads(),
                "steps": solver.estimator.steps,
                "seconds_per_step": per_step,
                "seconds_per_image": short + (solver.estimator.steps - few) * per_step,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
