"""Non-blind deconvolution with the TRUE kernel on the Levin et al. (2009) benchmark.

Runs every built-in non-blind solver on the 32 images and prints a markdown table: mean PSNR and SSIM
under Levin's protocol (15 px crop, best shift within +-5 px at quarter-pixel steps), the share of
images with error ratio <= 2 against Levin's sparse deconvolution (csv in the benchmark folder; that
reference reaches 32.73 dB) and seconds per image (solver only, ``--threads`` torch threads).

    python bench/levin_nonblind.py ../shared/benchdata/levin [--threads 2] [--only hqs wiener]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import torch

from deblur.data.levin import load_levin
from deblur.metrics import levin_compare
from deblur.priors import L0Gradient, TotalVariation
from deblur.solvers import HQSDeconvolver, RichardsonLucy, WienerDeconvolver

Solver = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

SOLVERS: dict[str, Solver] = {
    "wiener": WienerDeconvolver(),
    "hqs": HQSDeconvolver(),
    "hqs+tv": HQSDeconvolver(prior=TotalVariation(2e-4)),
    "hqs+l0-gradient": HQSDeconvolver(prior=L0Gradient(3e-6)),
    "richardson-lucy": RichardsonLucy(),
    "richardson-lucy+tv": RichardsonLucy(iterations=400, tv_weight=1e-3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("levin", help="benchmark folder (holds mat/ and levin_gtkernel_ssde.csv)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--only", nargs="+", choices=sorted(SOLVERS), help="run only these solvers")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = load_levin(args.levin)
    machine = platform.processor() or platform.machine()
    setup = f"{machine}, torch {torch.__version__}, {args.threads} threads"
    print(f"Levin et al. 2009, {len(cases)} images, true kernels; {setup}\n")
    print("| solver | settings | PSNR (dB) | SSIM | error ratio <= 2 | s / image |")
    print("|---|---|---|---|---|---|")
    for name in args.only or SOLVERS:
        solver = SOLVERS[name]
        psnr = ssim = seconds = 0.0
        success = 0
        for case in cases:
            start = time.perf_counter()
            with torch.no_grad():
                estimate = solver(case.blurry, case.kernel)
            seconds += time.perf_counter() - start
            score = levin_compare(estimate.clamp(0, 1), case.sharp)
            psnr += score.psnr
            ssim += score.ssim
            success += score.ssd / case.ssd_reference <= 2
        n = len(cases)
        scores = f"{psnr / n:.2f} | {ssim / n:.3f} | {success}/{n} | {seconds / n:.2f}"
        print(f"| {name} | `{solver!r}` | {scores} |", flush=True)


if __name__ == "__main__":
    main()
