"""Figures of deblur-gankernel's shipped weights: the paper's Fig. 4 and Table 4 in spirit.

    python bench/gankernel_figures.py --out docs/images [--json FILE]

(a) ``gankernel-kernels-{size}.png``: synthesised camera-shake kernels (top row) next to kernels drawn
from the shipped generator (bottom row), as Fig. 4 of Zhang et al. (ECCV 2024).
(b) Kernel initialisation on held-out synthetic blurred crops (the training distribution, a seed that
no training run used): mean MNC (:func:`deblur.metrics.kernel_mnc`) between the true kernel and the
initializer alone, :math:`G(E(y))`, the "average" start :math:`G(z_{avg})` (GAN inversion of the
uniform kernel) and a random start :math:`G(z)`, :math:`z \\sim N(0, I)` (Table 4's three
initialisations, measured on the kernels before any optimisation), plus the GAN inversion of the true
kernel (how close the manifold gets at best). Printed and written as JSON to ``--json`` (default
``OUT/gankernel-init.json``; docs/benchmarks.md reads ``bench/results/gankernel-init.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from PIL import Image

from deblur.data import BlurredCrops
from deblur.kernels import kernel_to_image, motion_kernel
from deblur.metrics import kernel_mnc
from deblur_gankernel.inversion import invert
from deblur_gankernel.store import STORE, load_encoder, load_generator

SEED = 20240917
"""Seed of the held-out kernels and images (training used seeds 0 and 1_000_003)."""


def kernel_grid(size: int, columns: int, out: Path) -> Path:
    """Fig. 4: ``columns`` synthesised kernels over ``columns`` generated ones."""
    g = torch.Generator().manual_seed(SEED)
    network = load_generator(size).network
    with torch.no_grad():
        generated = network(torch.randn(columns, network.config.latent, generator=g))
    length = tuple(network_length(size))
    real = motion_kernel(size, n=columns, generator=g, length_range=length)
    top, bottom = kernel_to_image(real, scale=4), kernel_to_image(generated, scale=4)
    gap = np.full((6, top.shape[1]), 128, dtype=np.uint8)
    path = out / f"gankernel-kernels-{size}.png"
    Image.fromarray(np.concatenate([top, gap, bottom])).save(path)
    return path


def network_length(size: int) -> list[float]:
    """The kernel path-length range the shipped generator was trained on (from its card)."""
    return list(load_generator(size).card.get("extra", {}).get("length", [0.3, 1.0]))


def initialisations(size: int, n: int) -> dict[str, float]:
    """Mean MNC of Table 4's starts (and of the best on-manifold kernel) on ``n`` held-out crops."""
    loaded = load_generator(size)
    encoder, _ = load_encoder(size, generator=loaded)
    data = BlurredCrops(size, encoder.config.crop, length=tuple(network_length(size)))
    g = torch.Generator().manual_seed(SEED + size)
    y, k = data.batch(n, g)
    network = loaded.network
    start = time.perf_counter()
    with torch.no_grad():
        estimates = {
            "encoder": network(encoder(y)),
            "average": network(loaded.average_z).expand(n, -1, -1, -1),
            "random": network(torch.randn(n, network.config.latent, generator=g)),
        }
    encode_seconds = (time.perf_counter() - start) / n
    estimates["inversion"] = network(invert(network, k, steps=300)).detach()
    scores = {name: float(kernel_mnc(est, k).mean()) for name, est in estimates.items()}
    return {**scores, "images": n, "crop": encoder.config.crop, "seconds_per_image": encode_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--sizes", type=int, nargs="*", help="kernel sizes (default: all shipped)")
    parser.add_argument("--images", type=int, default=50, help="held-out blurred crops per size")
    parser.add_argument("--columns", type=int, default=8, help="kernels per row of the grid")
    parser.add_argument("--json", type=Path, help="the initializer table's JSON (default: in --out)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = args.sizes or STORE.sizes("initializer")
    rows = {}
    for size in sizes:
        print(f"wrote {kernel_grid(size, args.columns, args.out)}")
        rows[size] = initialisations(size, args.images)
    print(json.dumps(rows, indent=1))
    report = {
        "metric": "mean kernel_mnc to the true kernel",
        "seed": SEED,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "sizes": {str(size): r for size, r in rows.items()},
    }
    path = args.json or args.out / "gankernel-init.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
