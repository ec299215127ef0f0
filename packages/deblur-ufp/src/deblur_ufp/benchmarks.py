"""deblur-ufp's section of docs/benchmarks.md (declared in :mod:`deblur_ufp.plugin`, written by
:mod:`deblur.benchdoc`): the spatially varying set against the uniform baseline, and the kernel
estimation ablation of the paper's Tables 4-5 in spirit."""

from __future__ import annotations

from deblur.benchdoc import Results, report_tables
from deblur.benchsections import merged
from deblur_ufp.plugin import SV_RUNS


def _ablation(results: Results) -> str:
    data = results.data("ufp-ablation")
    lines = [
        "| estimator | training steps | reblur PSNR (dB, Table 4) | field MNC | `ufp-hqs` PSNR (dB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in data["rows"].items():
        lines.append(
            f"| {label} | {row['train_steps']} | {row['reblur_psnr']:.2f} | {row['field_mnc']:.3f} | "
            f"{row['ufp_hqs_psnr']:.2f} |"
        )
    return "\n".join(lines) + (
        f"\n\nReblur PSNR and field MNC on the first {data['cases']} cases; `ufp-hqs` PSNR on the first "
        f"{data['deblur_cases']} (their blurred input: {data['input_psnr']:.2f} dB)."
    )


def section(results: Results) -> str:
    table = merged([results.report(name) for name in SV_RUNS])
    montages = "\n".join(
        f"- `{name}`: {results.montage_links(name)}" for name in SV_RUNS if results.montage_links(name)
    )
    commands = "\n".join(results.command(name) for name in SV_RUNS)
    return f"""Core's spatially varying set (`synthetic-sv:32`: 255 px dead leaves, text and photos, each
blurred by its own field of 31 px kernels on an 8x8 grid: a shaking camera that also rolls, two to four
kernels under smooth masks, or one kernel everywhere; 1% noise; seed 2023, none of the training seeds).
`field MNC` is the mean kernel MNC at the 64 grid cells against the true field (a uniform method's
kernel counts everywhere).

```bash
{commands}
```

{report_tables(table)}

Montages (the blurry input over the true field, each output over its field):

{montages}

The kernel estimator's ablation (the paper's Tables 4 and 5 in spirit): three estimators trained for
the same steps from the same seed, the direct kernel head (softmax taps, the paper's "baseline"), the
flow prior's latent codes without and with the uncertainty branch; the shipped estimator (longer
training) last (`{results.command("ufp-ablation")}`):

{_ablation(results)}

How the weights were made and what each switch does is in [ufp.md](ufp.md)."""
