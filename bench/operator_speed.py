"""Speed of ``deblur.operators.convolve`` against ``scipy.signal.fftconvolve``.

1024x1024 gray float32 image, kernels of 15, 31 and 75 px, boundaries "valid" (latent enlarged by the
kernel; scipy mode "valid") and "same" (our reflect padding; scipy mode "same", a zero boundary, so scipy
does slightly less work). Each repetition times scipy and deblur back to back (so both see the same
machine load); the table gives medians over the repetitions after a warm-up.

    PYTHONPATH=packages/deblur-core/src python bench/operator_speed.py [--threads 2] [--repeats 9]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from functools import partial

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--kernels", type=int, nargs="+", default=[15, 31, 75])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n = args.size
    print(
        f"torch {torch.__version__} ({args.threads} threads), scipy {scipy.__version__}, "
        f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}; {n}x{n} gray float32, "
        f"median of {args.repeats}; method auto = FFT from {FFT_MIN_SIZE} px\n"
    )
    print("| kernel | boundary | deblur method | deblur (ms) | scipy fftconvolve (ms) | scipy / deblur |")
    print("|---:|---|---|---:|---:|---:|")
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
            t_ref = statistics.median(p[0] for p in pairs)
            t_ours = statistics.median(p[1] for p in pairs)
            method = "fft" if size >= FFT_MIN_SIZE else "direct"
            print(
                f"| {size} | {boundary} | {method} | {1e3 * t_ours:.1f} | {1e3 * t_ref:.1f} "
                f"| {t_ref / t_ours:.2f} |"
            )


if __name__ == "__main__":
    main()
