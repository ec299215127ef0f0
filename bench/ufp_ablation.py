"""UFPNet's kernel-estimation ablation (Tables 4-5 in spirit) on the spatially varying benchmark.

Trains three estimator variants for the same number of steps with `deblur train ufp-estimator` (the
direct kernel head, the flow head without the uncertainty branch, the flow head with it) and scores
each, and the shipped estimator, on the first N cases of `synthetic-sv`:

- Table 4: the PSNR between the blurry observation and the sharp latent reblurred by the estimated
  field, and the field MNC against the true field;
- Table 5 in spirit: the PSNR of `ufp-hqs` (the field deconvolved by core's HQS) on the first `--deblur`
  cases, since our deblurring network is trained on one estimator only.

    python bench/ufp_ablation.py --json bench/results/ufp-ablation.json [--steps 300] [--cases 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

VARIANTS = {
    "direct kernel head": {"head": "direct", "uncertainty": False},
    "flow prior": {"head": "flow", "uncertainty": False},
    "flow prior + uncertainty": {"head": "flow", "uncertainty": True},
}


def train(stem: Path, steps: int, settings: dict) -> float:
    start = time.perf_counter()
    words = ["deblur", "train", "ufp-estimator", "--steps", str(steps), "--out", str(stem), "-q"]
    for key, value in settings.items():
        words += ["--set", f"{key}={json.dumps(value)}"]
    subprocess.run(words, check=True)
    return time.perf_counter() - start


def score(stem: Path | None, cases: list, deblur: int) -> dict:
    from deblur_ufp.networks import load_estimator

    from deblur.fields import field_mnc
    from deblur.metrics import levin_compare, psnr
    from deblur.operators import grid_blur
    from deblur.pipeline import run

    estimator, flow, card = load_estimator(31, stem)
    reblur, mnc, restored = [], [], []
    with torch.no_grad():
        for i, case in enumerate(cases):
            field = estimator(case.blurry, flow).field
            again = grid_blur(field, tuple(case.blurry.shape[-2:]))(case.latent)
            reblur.append(float(psnr(again.clamp(0, 1), case.blurry.clamp(0, 1))))
            mnc.append(float(field_mnc(field, case.field, tuple(case.blurry.shape[-2:]))))
            if i < deblur:
                params = {"solver": {"estimator": None if stem is None else str(stem)}}
                x = run(case.blurry, method="ufp-hqs", params=params, kernel_size=31).image
                restored.append(levin_compare(x.clamp(0, 1), case.sharp).psnr)
    n = len(cases)
    return {
        "reblur_psnr": sum(reblur) / n,
        "field_mnc": sum(mnc) / n,
        "ufp_hqs_psnr": sum(restored) / max(1, len(restored)),
        "train_steps": card.get("extra", {}).get("steps"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cases", type=int, default=32)
    parser.add_argument("--deblur", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from deblur.data.spatially_varying import sv_cases
    from deblur.metrics import levin_compare

    cases = sv_cases(args.cases)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, settings in VARIANTS.items():
            stem = Path(tmp) / label.replace(" ", "-").replace("+", "and")
            seconds = train(stem, args.steps, settings)
            rows[label] = {**score(stem, cases, args.deblur), "train_seconds": seconds, "settings": settings}
            print(label, rows[label], file=sys.stderr)
    from deblur_ufp.store import STORE

    while not STORE.stem("estimator", 31).with_suffix(".json").is_file():  # a training run may still write it
        time.sleep(30)
    rows["shipped estimator (flow prior + uncertainty)"] = score(None, cases, args.deblur)
    input_psnr = sum(levin_compare(c.blurry.clamp(0, 1), c.sharp).psnr for c in cases[: args.deblur])
    out = {
        "steps": args.steps,
        "cases": args.cases,
        "deblur_cases": args.deblur,
        "input_psnr": input_psnr / args.deblur,
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
