"""Regenerate docs/benchmarks.md: every figure in it comes from one run of this script.

    python bench/benchmarks_doc.py --levin ../shared/benchdata/levin [--methods classic ...]

Sections: the uniform blur operator against scipy (bench/operator_speed.py), non-blind solvers given the
true kernel on the Levin set, blind methods on the Levin set (``deblur bench`` with per-image montages in
docs/images/levin/) and the classic method on scikit-image's real motion-blurred ``clock_motion.png``.
Later method packages add their names to ``BLIND_METHODS``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see deblur/cli.py

import argparse
import subprocess
import sys
import time
from pathlib import Path

from clock_motion import LOW_TEXTURE, clock_montage

from deblur.bench import load_dataset, run_bench

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BLIND_METHODS = ["classic"]
NONBLIND = ["true-kernel:wiener", "true-kernel:hqs", "true-kernel:richardson-lucy"]


def operator_speed() -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "operator_speed.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _summary_only(markdown: str) -> str:
    """The summary table of a bench report (the lines before the per-image table)."""
    lines = markdown.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("Per image"))
    return "\n".join(lines[2:end]).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levin", required=True, type=Path, help="the Levin benchmark folder")
    parser.add_argument("--methods", nargs="+", default=BLIND_METHODS, help="blind methods to benchmark")
    parser.add_argument("--limit", type=int, help="first N Levin images only (for a quick look)")
    args = parser.parse_args()

    images = DOCS / "images"
    (images / "levin").mkdir(parents=True, exist_ok=True)
    levin_spec = f"levin:{args.levin}"
    items = load_dataset(levin_spec, limit=args.limit)
    speed = operator_speed()
    nonblind = run_bench(NONBLIND, items, dataset="levin")
    blind_out = ROOT / "bench" / "out" / "levin"
    blind = run_bench(args.methods, items, dataset="levin", out_dir=blind_out)
    for png in sorted((blind_out / "montages").glob("*.png")):
        (images / "levin" / png.name).write_bytes(png.read_bytes())
    clock = "\n".join(
        f"- {line}" for line in clock_montage(45, ["{}", LOW_TEXTURE], images / "clock_motion.png")
    )
    montage_links = " ".join(
        f"[{p.stem}](images/levin/{p.name})" for p in sorted((images / "levin").glob("*.png"))
    )
    text = f"""# Benchmarks

Regenerate everything on this page with

```bash
python bench/benchmarks_doc.py --levin ../shared/benchdata/levin
```

Measured {time.strftime("%Y-%m-%d")}. Scores follow Levin et al.'s protocol (`deblur.metrics.levin_compare`):
a 15 px border is cropped from the reference, the estimate is aligned within +-5 px in quarter pixels and
PSNR = 10 log10(N / SSD); the error ratio (ER) divides the SSD by that of Levin's sparse deconvolution with
the true kernel. For scale: the blurred inputs score 22.96 dB, Levin's sparse deconvolution with the true
kernel 32.73 dB.

## Uniform blur operator against scipy

`deblur.operators.convolve` against `scipy.signal.fftconvolve` on a 1024x1024 gray image (ratio > 1: deblur
is faster). Timings on a shared machine vary by about +-30% between runs.

{speed}

## Non-blind solvers with the true kernel (Levin, {len(items)} images)

{_summary_only(nonblind.to_markdown())}

## Blind methods (Levin, {len(items)} images, kernel size = the true kernel's)

{blind.to_markdown().split(chr(10), 2)[2].strip()}

Montages (the blurry input over the true kernel, each estimate over its kernel): {montage_links}

## A real motion-blurred photo

scikit-image's `clock_motion.png` (real, roughly horizontal camera motion; no ground truth), with
`deblur run classic --kernel-size 45`, first with the method's settings, then with a stronger kernel prior
and final image prior for this low-texture photo
(`--set kernel_prior.weight=50 --set nonblind.prior.weight=5e-4`):

{clock}

![clock_motion](images/clock_motion.png)
"""
    (DOCS / "benchmarks.md").write_text(text)
    print(f"wrote {DOCS / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
