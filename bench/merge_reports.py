"""Merge `deblur bench --out` folders of one method set run on parts of a dataset into one folder.

    python bench/merge_reports.py bench/out/levin-dipmc bench/out/levin-dipmc-a bench/out/levin-dipmc-b

For runs split with ``--images`` (in parallel, or resumed after an interruption): scores, montages and
kernels are gathered, images ordered by name; the machine is the first part's.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from deblur.bench import BenchReport


def merge(out: Path, parts: list[Path]) -> BenchReport:
    reports = [BenchReport.from_json((p / "report.json").read_text()) for p in parts]
    methods = reports[0].methods
    if any(r.methods != methods or r.dataset != reports[0].dataset for r in reports):
        raise SystemExit("the parts benchmark different methods or datasets")
    scores = sorted((s for r in reports for s in r.scores), key=lambda s: (s.image, methods.index(s.method)))
    merged = BenchReport(reports[0].dataset, methods, scores, reports[0].machine, reports[0].settings)
    out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        for sub in ("montages", "kernels"):
            if (part / sub).is_dir():
                shutil.copytree(part / sub, out / sub, dirs_exist_ok=True)
    (out / "report.json").write_text(merged.to_json())
    (out / "report.md").write_text(merged.to_markdown())
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("parts", type=Path, nargs="+")
    args = parser.parse_args()
    print(merge(args.out, args.parts).to_markdown().split("\n\n")[1])


if __name__ == "__main__":
    main()
