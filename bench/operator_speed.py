"""Speed of ``deblur.operators.convolve`` against ``scipy.signal.fftconvolve``.

1024x1024 gray float32 image, kernels of 15, 31 and 75 px, boundaries "valid" (latent enlarged by the
kernel; scipy mode "valid") and "same" (our reflect padding; scipy mode "same", a zero boundary, so scipy
does slightly less work). Each repetition times scipy and deblur back to back (so both see the same
machine load); the table gives medians over the repetitions after a warm-up.

``OMP_WAIT_POLICY`` defaults to PASSIVE here: on a shared CPU, OpenMP workers that spin between parallel
regions steal the cores they wait for and make torch 3-4x slower with 2 threads on a busy 2-core machine.
Set it in your own environment the same way when the CPU is shared.

    python bench/operator_speed.py [--threads 2] [--repeats 9] [--out FILE]

Prints the rows as JSON, and writes them to ``FILE`` (the ``operator-speed`` section of
docs/benchmarks.md reads ``bench/results/operator-speed.json``).

``--crossover`` instead times the direct and FFT paths on small kernels and images (best of the
repetitions), the measurement behind ``deblur.operators.uniform.FFT_MIN_SIZE``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP runtime

import argparse
import json
import platform
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np
import scipy
import scipy.signal
import torch

from deblur.operators import convolve
from deblur.operators.uniform import FFT_MIN_SIZE


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def crossover(repeats: int) -> None:
    """Direct vs FFT ("same", reflect) for 2-11 px kernels on 64-1024 px gray images, best of ``repeats``."""
    sizes = (2, 3, 5, 7, 9, 11)
    print("| image | " + " | ".join(f"{s} px direct / fft (ms)" for s in sizes) + " |")
    print("|---:|" + "---:|" * len(sizes))
    for n in (64, 256, 512, 1024):
        x = torch.rand(1, 1, n, n)
        cells = []
        for s in sizes:
            k = torch.full((1, 1, s, s), 1.0 / s**2)
            best = {}
            for method in ("direct", "fft"):
                run = partial(convolve, x, k, boundary="same", method=method)
                run()
                best[method] = min(_seconds(run) for _ in range(repeats))
            cells.append(f"{1e3 * best['direct']:.2f} / {1e3 * best['fft']:.2f}")
        print(f"| {n} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--kernels", type=int, nargs="+", default=[15, 31, 75])
    parser.add_argument("--crossover", action="store_true", help="time direct vs FFT on small kernels")
    parser.add_argument("--out", type=Path, help="write the rows as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.crossover:
        crossover(args.repeats)
        return
    rng = np.random.default_rng(0)
    n = args.size
    setup = (
        f"torch {torch.__version__} ({args.threads} threads), scipy {scipy.__version__}, "
        f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}; {n}x{n} gray float32, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; median of {args.repeats}; "
        f"method auto = FFT from {FFT_MIN_SIZE} px"
    )
    rows = []
    for size in args.kernels:
        k = rng.random((size, size), dtype=np.float32)
        k /= k.sum()
        kt = torch.from_numpy(k)[None, None]
        for boundary in ("valid", "same"):
            hw = n + size - 1 if boundary == "valid" else n
            x = rng.random((hw, hw), dtype=np.float32)
            xt = torch.from_numpy(x)[None, None]
            ref = partial(scipy.signal.fftconvolve, x, k, mode=boundary)
            ours = partial(convolve, xt, kt, boundary=boundary)
            ref(), ours()
            pairs = [(_seconds(ref), _seconds(ours)) for _ in range(args.repeats)]
            rows.append(
                {
                    "kernel": size,
                    "boundary": boundary,
                    "method": "fft" if size >= FFT_MIN_SIZE else "direct",
                    "deblur_ms": 1e3 * statistics.median(p[1] for p in pairs),
                    "scipy_ms": 1e3 * statistics.median(p[0] for p in pairs),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps({"size": n, "setup": setup, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
