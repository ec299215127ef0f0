"""The benchmark page generator: sections declared by plugins, runs made once, the page from results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from deblur import hookimpl
from deblur.benchdoc import Results, build, render_page
from deblur.errors import InputError
from deblur.plugins import BenchmarkRecord, BenchRun, PluginManager, ScriptRun
from deblur.registry import Registry

WRITE_JSON = "import json, sys; json.dump({'answer': 42}, open(sys.argv[1], 'w'))"
SCRIPT = ScriptRun("answer", (sys.executable, "-c", WRITE_JSON, "{out}"))
NONBLIND = BenchRun(
    "synthetic-wiener", ("true-kernel:wiener",), dataset="synthetic:{n}", args=("--kernel-size", "9")
)


def answer(results: Results) -> str:
    return f"The answer is {results.data('answer')['answer']} (`{results.command('answer')}`)."


def wiener(results: Results) -> str:
    summary = results.report("synthetic-wiener").summary()
    return f"input {summary['input']['psnr']:.2f} dB, wiener {summary['true-kernel:wiener']['psnr']:.2f} dB"


class Plugin:
    """Declares two sections: a script's JSON and a ``deblur bench`` run of a non-blind solver."""

    @hookimpl
    def deblur_benchmarks(self):
        yield BenchmarkRecord(name="wiener", title="Wiener", render=wiener, runs=(NONBLIND,), order=2)
        yield BenchmarkRecord(name="answer", title="Answer", render=answer, runs=(SCRIPT,), order=1)


def registry(*plugins: object) -> Registry:
    """These plugins alone: core's own sections would run core's benchmarks."""
    manager = PluginManager(builtins=False, autoload=False)
    for i, plugin in enumerate(plugins):
        manager.register(plugin, f"plugin-{i}")
    return Registry(manager)


def test_build_makes_each_missing_run_once_and_renders_from_the_results(tmp_path: Path) -> None:
    logged: list[str] = []
    page = build(registry(Plugin()), {"n": "1"}, root=tmp_path, log=logged.append)
    text = page.read_text()
    assert text.index("## Answer") < text.index("## Wiener"), "sections in their order"
    assert "The answer is 42" in text and "wiener" in text
    report = json.loads((tmp_path / "bench" / "results" / "synthetic-wiener.json").read_text())
    assert report["methods"] == ["input", "true-kernel:wiener"]
    psnr = report["summary"]["true-kernel:wiener"]["psnr"]
    assert f"wiener {psnr:.2f} dB" in text, "the figure is the report's"
    assert (tmp_path / "bench" / "out" / "synthetic-wiener" / "montages").is_dir()
    assert sum(line.startswith("running") for line in logged) == 2
    logged.clear()
    assert build(registry(Plugin()), {}, root=tmp_path, log=logged.append).read_text() == text
    assert not any(line.startswith("running") for line in logged), "results are kept, nothing reruns"
    assert render_page(registry(Plugin()), tmp_path / "bench" / "results", tmp_path / "docs") == text


def test_rerun_and_missing_results(tmp_path: Path) -> None:
    build(registry(Plugin()), {"n": "1"}, root=tmp_path, only_existing=True, log=lambda _: None)
    text = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert (
        "Not measured yet: `deblur bench true-kernel:wiener --dataset synthetic:../shared/benchdata/n" in text
    )
    with pytest.raises(InputError, match="no benchmark run 'nope'"):
        build(registry(Plugin()), {}, root=tmp_path, rerun=["nope"])
    with pytest.raises(InputError, match="needs --data n=PATH"):
        build(registry(Plugin()), {}, root=tmp_path, log=lambda _: None)


def test_a_failing_run_and_a_name_declared_twice_are_errors(tmp_path: Path) -> None:
    class Failing:
        @hookimpl
        def deblur_benchmarks(self):
            run = ScriptRun("broken", (sys.executable, "-c", "raise SystemExit(3)"))
            yield BenchmarkRecord(name="broken", title="Broken", render=answer, runs=(run,))

    with pytest.raises(InputError, match="failed with exit code 3"):
        build(registry(Failing()), {}, root=tmp_path, log=lambda _: None)

    class Clashing:
        @hookimpl
        def deblur_benchmarks(self):
            other = ScriptRun("answer", (sys.executable, "-c", "pass"))
            yield BenchmarkRecord(name="other", title="Other", render=answer, runs=(other,))

    with pytest.raises(InputError, match="'answer' is declared twice, differently"):
        build(registry(Plugin(), Clashing()), {}, root=tmp_path)


def test_results_name_only_declared_runs(tmp_path: Path) -> None:
    results = Results(tmp_path, tmp_path, {"answer": SCRIPT})
    with pytest.raises(KeyError, match="no benchmark run 'other' is declared"):
        results.data("other")
    assert "{out}" not in results.command("answer") and "bench/results/answer.json" in results.command(
        "answer"
    )
