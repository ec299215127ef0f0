"""Write docs/benchmarks.md from the benchmarks that plugins declare, and make the runs it needs.

    python -m deblur.benchdoc --data levin=../shared/benchdata/levin [--rerun NAME ...] [--only-existing]
                              [--workers N]

Every plugin registers the sections of the page it owns (:class:`deblur.plugins.BenchmarkRecord`, hook
``deblur_benchmarks``): the runs each reads (``deblur bench`` runs and scripts that write JSON) and a
function that writes the section from their results. The generator

1. makes each declared run whose result is missing from the results folder (or named by ``--rerun``):
   a ``deblur bench`` run writes its outputs to ``bench/out/NAME`` (kernels, montages; not kept in git)
   and its report is copied to ``bench/results/NAME.json``; a script writes ``bench/results/NAME.json``
   itself. A report already in ``bench/out/NAME`` (a long run made beforehand) is taken as it is.
   ``--workers N`` runs each ``deblur bench`` on ``N`` worker processes (:mod:`deblur.parallel`): the
   same report, sooner. Declared montages are copied to ``docs/images/NAME/``.
2. writes the page from ``bench/results`` alone (:func:`render_page`), so it can be rebuilt without
   running anything, and a test checks that the page in git is what its results give.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deblur.errors import InputError
from deblur.plugins.records import LEVIN_ABLATION, LEVIN_BLIND, BenchmarkRecord, BenchRun, ScriptRun

if TYPE_CHECKING:
    from deblur.bench import BenchReport, ImageScore
    from deblur.registry import Registry

__all__ = [
    "LEVIN_ABLATION",
    "LEVIN_BLIND",
    "MissingResult",
    "Results",
    "build",
    "main",
    "mean",
    "paired_table",
    "render_page",
    "report_tables",
    "sections",
]

Run = BenchRun | ScriptRun
#: Where the page says the data folders are (``../shared/benchdata/levin`` for ``{levin}``).
SHOWN_DATA = "../shared/benchdata/{}"


class MissingResult(LookupError):
    """A section read a run whose result is not in the results folder."""


class _Shown(dict):
    def __getitem__(self, key: str) -> str:
        return SHOWN_DATA.format(key)


def sections(registry: Registry) -> list[BenchmarkRecord]:
    """Every registered section in page order (its ``order``, then registration order)."""
    records = [entry.record for entry in registry.all(["benchmark"])]
    return sorted(records, key=lambda r: r.order)


def _runs(records: Iterable[BenchmarkRecord]) -> dict[str, Run]:
    """Every declared run by name; two different runs under one name are an error."""
    runs: dict[str, Run] = {}
    for record in records:
        for run in record.runs:
            if runs.setdefault(run.name, run) != run:
                raise InputError(f"benchmark run {run.name!r} is declared twice, differently")
    return runs


@dataclass
class Results:
    """What a section's render function reads: the results of the declared runs, by run name."""

    folder: Path
    docs: Path
    runs: Mapping[str, Run]

    def _path(self, name: str) -> Path:
        if name not in self.runs:
            raise KeyError(f"no benchmark run {name!r} is declared")
        path = self.folder / f"{name}.json"
        if not path.is_file():
            raise MissingResult(name)
        return path

    def report(self, name: str) -> BenchReport:
        """The report of the ``deblur bench`` run ``name``."""
        from deblur.bench import BenchReport

        return BenchReport.from_json(self._path(name).read_text())

    def data(self, name: str) -> Any:
        """The JSON written by the script run ``name``."""
        return json.loads(self._path(name).read_text())

    def command(self, name: str) -> str:
        """Run ``name``'s command line as a reader types it (data under ``../shared/benchdata``)."""
        run = self.runs[name]
        out = f"bench/results/{name}.json" if isinstance(run, ScriptRun) else None
        return shlex.join(run.command(_Shown(), out))

    def tagged(self, table: str) -> list[BenchRun]:
        """The bench runs of every plugin tagged ``table``, in page order."""
        return [r for r in self.runs.values() if isinstance(r, BenchRun) and r.table == table]

    def montage_links(self, name: str) -> str:
        """Markdown links to the montages of run ``name`` in ``docs/images/NAME/``."""
        pictures = sorted((self.docs / "images" / name).glob("*.png"))
        return " ".join(f"[{p.stem}](images/{name}/{p.name})" for p in pictures)


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def report_tables(report: BenchReport, per_image: bool = True) -> str:
    """A report's markdown without its title (and without its per-image table unless asked)."""
    body = report.to_markdown().split("\n", 2)[2].strip()
    if per_image:
        return body
    lines = body.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("Per image"))
    return "\n".join(lines[:end]).strip()


def paired_table(
    a: Sequence[ImageScore], b: Sequence[ImageScore], labels: tuple[str, str]
) -> tuple[str, list[tuple[ImageScore, ImageScore]]]:
    """Per image PSNR / MNC of two runs side by side, the gain of ``a`` over ``b`` (dB) and the means;
    also the pairs (images both have, in ``b``'s order)."""
    first = {s.image: s for s in a}
    pairs = [(first[s.image], s) for s in b if s.image in first]
    lines = [
        f"| image | {labels[0]}: PSNR / MNC | {labels[1]}: PSNR / MNC | gain (dB) |",
        "|---|---:|---:|---:|",
    ]
    for x, y in pairs:
        gain = x.psnr - y.psnr
        lines.append(f"| {x.image} | {x.psnr:.2f} / {x.mnc:.3f} | {y.psnr:.2f} / {y.mnc:.3f} | {gain:+.2f} |")
    if pairs:
        mean_a, mean_b = mean(x.psnr for x, _ in pairs), mean(y.psnr for _, y in pairs)
        lines.append(f"| mean | {mean_a:.2f} | {mean_b:.2f} | {mean_a - mean_b:+.2f} |")
    return "\n".join(lines), pairs


HEADER = """# Benchmarks

This page is written by `python -m deblur.benchdoc --data levin=../shared/benchdata/levin` from the
results in `bench/results/`; do not edit it by hand. Each section below is declared by the package that
owns it (the `deblur_benchmarks` hook: the runs it reads and how it is written, see
[writing-plugins.md](writing-plugins.md)); the generator makes every declared run whose result is
missing and shows each run's command. Every `deblur bench` table starts with the `input` row, the
blurred observation scored as it is, so a method's gain over it is visible at a glance.
"""


def render_page(registry: Registry, results: Path, docs: Path) -> str:
    """The whole page from the results folder; a section whose results are missing says which run."""
    records = sections(registry)
    found = Results(results, docs, _runs(records))
    parts = [HEADER]
    for record in records:
        try:
            body = record.load_render()(found).strip()
        except MissingResult as missing:
            body = f"Not measured yet: `{found.command(str(missing))}` has no result."
        parts.append(f"## {record.title}\n\n{body}\n")
    return "\n".join(parts)


def _execute(command: list[str], root: Path, log: Callable[[str], None]) -> None:
    """Run ``command`` in ``root`` (``deblur`` and ``python`` as this interpreter's); a failure is an
    error."""
    log("running " + shlex.join(command))
    head = {"deblur": [sys.executable, "-m", "deblur.cli"], "python": [sys.executable]}.get(command[0])
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    done = subprocess.run([*head, *command[1:]] if head else command, env=env, cwd=root)
    if done.returncode != 0:
        raise InputError(f"{shlex.join(command)} failed with exit code {done.returncode}")


def _make(
    run: Run, data: Mapping[str, str], root: Path, log: Callable[[str], None], workers: int = 1
) -> None:
    """Make run ``run``'s result (see the module docstring)."""
    results, out, docs = root / "bench" / "results", root / "bench" / "out", root / "docs"
    target = results / f"{run.name}.json"
    results.mkdir(parents=True, exist_ok=True)
    if isinstance(run, ScriptRun):
        _execute(run.command(data, str(target)), root, log)
        return
    folder = out / run.name
    if not (folder / "report.json").is_file():
        if folder.exists():
            shutil.rmtree(folder)
        _execute(
            [*run.command(data, str(folder)), *(["--workers", str(workers)] if workers > 1 else [])],
            root,
            log,
        )
    shutil.copyfile(folder / "report.json", target)
    if run.montages:
        pictures = docs / "images" / run.name
        if pictures.exists():
            shutil.rmtree(pictures)
        shutil.copytree(folder / "montages", pictures)


def build(
    registry: Registry,
    data: Mapping[str, str],
    *,
    root: Path,
    rerun: Iterable[str] = (),
    only_existing: bool = False,
    log: Callable[[str], None] = print,
    workers: int = 1,
) -> Path:
    """Make the missing (and the ``rerun``) results of every declared run (``deblur bench`` runs on
    ``workers`` processes), then write the page under ``root`` (``bench/results``, ``bench/out``,
    ``docs/benchmarks.md``); returns the page's path."""
    results, out, docs = root / "bench" / "results", root / "bench" / "out", root / "docs"
    runs = _runs(sections(registry))
    unknown = sorted(set(rerun) - set(runs))
    if unknown:
        raise InputError(
            f"no benchmark run {', '.join(map(repr, unknown))}; declared: {', '.join(sorted(runs))}"
        )
    for name in rerun:
        (results / f"{name}.json").unlink(missing_ok=True)
        if isinstance(runs[name], BenchRun):
            shutil.rmtree(out / name, ignore_errors=True)
    for run in runs.values():
        if only_existing or (results / f"{run.name}.json").is_file():
            continue
        try:
            _make(run, data, root, log, workers)
        except KeyError as exc:
            raise InputError(f"run {run.name!r} needs --data {exc.args[0]}=PATH") from None
    page = docs / "benchmarks.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_page(registry, results, docs))
    log(f"wrote {page}")
    return page


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deblur.benchdoc", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", action="append", default=[], metavar="KEY=PATH", help="a data folder, e.g. levin=PATH"
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: here)")
    parser.add_argument("--rerun", nargs="+", default=[], metavar="NAME", help="make these runs again")
    parser.add_argument("--only-existing", action="store_true", help="render what exists; run nothing")
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="run each deblur bench on N worker processes"
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be a positive integer, got {args.workers}")
    data = {}
    for item in args.data:
        key, sep, path = item.partition("=")
        if not sep or not key or not path:
            parser.error(f"--data {item!r}: expected KEY=PATH")
        data[key] = path
    from deblur.registry import Registry

    try:
        build(
            Registry(),
            data,
            root=args.root,
            rerun=args.rerun,
            only_existing=args.only_existing,
            workers=args.workers,
        )
    except InputError as exc:
        parser.exit(2, f"error: {exc}\n")


if __name__ == "__main__":
    main()
