"""`deblur bench` and `deblur run` on worker processes and on a Dask scheduler give the serial run's
report and outputs; a failing image and a lost worker are reported while the others finish."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from deblur import parallel
from deblur.bench import INPUT, BenchItem, default_run, load_dataset, run_bench
from deblur.cli import main
from deblur.io import write_image, write_kernel
from deblur.parallel import Workers

needs_dask = pytest.mark.skipif(not parallel.has_dask(), reason="needs deblur-core[distributed]")
BENCH = ["bench", "classic", "--dataset", "synthetic:4", "-q"]


def printed(report: Path) -> list[tuple]:
    """Every per-image score of a report as the markdown prints it (the seconds left out)."""
    rows = json.loads(report.read_text())["images"]
    return [
        (r["image"], r["method"], f"{r['psnr']:.2f}", f"{r['ssim']:.3f}", r["mnc"] and f"{r['mnc']:.3f}")
        for r in rows
    ]


def bench(out: Path, *options: str) -> list[tuple]:
    result = CliRunner().invoke(main, [*BENCH, "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return printed(out / "report.json")


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    return bench(tmp_path_factory.mktemp("serial"), "--threads", "1")


@pytest.fixture(scope="module")
def scheduler() -> str:
    """The address of a running Dask scheduler with two worker processes on the loopback address."""
    pytest.importorskip("distributed")
    import dask
    from distributed import LocalCluster

    with dask.config.set(parallel.LOCAL_CLUSTER):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0")
    yield cluster.scheduler_address
    cluster.close()


@needs_dask
def test_bench_on_two_local_workers_equals_the_serial_report(serial: list, tmp_path: Path) -> None:
    assert bench(tmp_path, "--workers", "2") == serial
    machine = json.loads((tmp_path / "report.json").read_text())["machine"]
    assert machine["workers"] == "on 2 local workers, 1 thread each" and machine["torch_threads"] == 1
    assert sorted(p.name for p in (tmp_path / "montages").iterdir()) == [
        f"synthetic00{i}.png" for i in range(4)
    ]


def test_bench_on_the_local_pool_equals_the_serial_report(
    serial: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "has_dask", lambda: False)
    assert bench(tmp_path, "--workers", "2") == serial


@needs_dask
def test_bench_on_a_scheduler_equals_the_serial_report(serial: list, scheduler: str, tmp_path: Path) -> None:
    assert bench(tmp_path, "--scheduler", scheduler) == serial
    os.environ["DEBLUR_SCHEDULER"] = scheduler
    try:
        assert bench(tmp_path / "by-env") == serial
    finally:
        del os.environ["DEBLUR_SCHEDULER"]


def failing_folder(root: Path) -> Path:
    """A folder dataset of two synthetic images and a 48 px one whose 31 px kernel cannot fit it."""
    for sub in ("blurry", "sharp", "kernels"):
        (root / sub).mkdir(parents=True)
    for item in load_dataset("synthetic:2"):
        write_image(root / "blurry" / f"{item.name}.png", item.blurry)
        write_image(root / "sharp" / f"{item.name}.png", item.sharp)
        write_kernel(root / "kernels" / f"{item.name}.npy", item.kernel)
    tiny = load_dataset("synthetic:1")[0]
    write_image(root / "blurry" / "tiny.png", tiny.blurry[..., :48, :48])
    write_image(root / "sharp" / "tiny.png", tiny.sharp[..., :48, :48])
    write_kernel(root / "kernels" / "tiny.npy", tiny.kernel)
    return root


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_image_is_reported_while_the_others_finish(workers: str, tmp_path: Path) -> None:
    data, out = failing_folder(tmp_path / "data"), tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["bench", "classic", "--dataset", f"folder:{data}", "-q", "--out", str(out), "--workers", workers],
    )
    assert result.exit_code == 1
    assert "deblur: error: tiny (classic): kernel size 31 " in result.output
    report = json.loads((out / "report.json").read_text())
    assert [(f["image"], f["method"]) for f in report["failures"]] == [("tiny", "classic")]
    assert report["summary"]["classic"]["images"] == 2 and report["summary"]["classic"]["failed"] == 1
    assert sorted(p.name for p in (out / "montages").iterdir()) == ["synthetic000.png", "synthetic001.png"]
    assert "Failed (1), left out of the rows above:" in (out / "report.md").read_text()


def dies_on_the_second(method: str, item: BenchItem, overrides: dict):
    """``default_run``, but the worker running ``synthetic001`` dies."""
    if item.name == "synthetic001":
        os._exit(9)
    return default_run(method, item, overrides)


@pytest.mark.parametrize("engine", ["pool", pytest.param("dask", marks=needs_dask)])
def test_a_lost_worker_is_reported_and_a_resumed_run_retries_it(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine == "pool":
        monkeypatch.setattr(parallel, "has_dask", lambda: False)
    items = load_dataset("synthetic:3", kernel_size=9)
    report = run_bench(["classic"], items, run=dies_on_the_second, out_dir=tmp_path, workers=Workers(2))
    (failure,) = report.failures
    assert failure.image == "synthetic001" and failure.method is None
    assert failure.error.startswith("its worker process was lost")
    assert sorted({s.image for s in report.scores}) == ["synthetic000", "synthetic002"]
    assert [s.method for s in report.scores] == [INPUT, "classic"] * 2, "in the dataset's order"
    again = run_bench(["classic"], items, run=default_run, out_dir=tmp_path, resume=True, workers=Workers(2))
    assert not again.failures and [s.image for s in again.scores][::2] == [i.name for i in items]


def photos(root: Path) -> list[str]:
    root.mkdir()
    names = []
    for item in load_dataset("synthetic:2", kernel_size=9):
        names.append(str(root / f"{item.name}.png"))
        write_image(names[-1], item.blurry)
    return names


def test_run_on_workers_writes_what_a_serial_run_writes_and_resumes(tmp_path: Path) -> None:
    inputs = photos(tmp_path / "in")
    run = ["run", "classic", *inputs, "--kernel-size", "9", "-q"]
    serial = CliRunner().invoke(main, [*run, "-o", str(tmp_path / "serial"), "--threads", "1"])
    assert serial.exit_code == 0, serial.output
    spread = CliRunner().invoke(main, [*run, "-o", str(tmp_path / "spread"), "--workers", "2"])
    assert spread.exit_code == 0, spread.output
    for name in ("synthetic000", "synthetic001"):
        a, b = (np.load(tmp_path / d / f"{name}-kernel.npy") for d in ("serial", "spread"))
        assert np.array_equal(a, b)
    again = CliRunner().invoke(main, [*run, "-o", str(tmp_path / "spread"), "--workers", "2", "--resume"])
    assert again.exit_code == 0 and again.output.count("done already") == 2


def test_run_names_a_failing_input_and_writes_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deblur.pipeline

    inputs, real = photos(tmp_path / "in"), deblur.pipeline.run

    def refuse_the_first(image: torch.Tensor, *args, **kwargs):
        if image.shape[-1] == 255 and float(image.mean()) == first:
            raise RuntimeError("diverged")
        return real(image, *args, **kwargs)

    from deblur.io import read_image

    first = float(read_image(inputs[0])[0].mean())
    monkeypatch.setattr(deblur.pipeline, "run", refuse_the_first)
    result = CliRunner().invoke(
        main, ["run", "classic", *inputs, "--kernel-size", "9", "-q", "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert f"deblur: error: {inputs[0]}: RuntimeError: diverged" in result.output
    assert "1 of 2 inputs failed" in result.output
    written = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert "synthetic001-report.json" in written and not any(n.startswith("synthetic000") for n in written)
