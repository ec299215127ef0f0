"""`deblur blur`, `deblur eval` and `deblur run` on real files, including bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from deblur.cli import main
from deblur.data.procedural import dead_leaves
from deblur.io import read_image, read_kernel, write_image


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def sharp_png(tmp_path: Path) -> Path:
    path = tmp_path / "sharp.png"
    write_image(path, dead_leaves(72, 3, channels=3), bit_depth=16)
    return path


def test_blur_writes_image_and_kernel_with_input_depth(sharp_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "blurry.png"
    result = invoke("blur", sharp_png, "-o", out, "--size", "9", "--seed", "4", "--noise", "0")
    assert result.exit_code == 0, result.output
    image, info = read_image(out)
    assert (info.bit_depth, info.channels, tuple(image.shape[-2:])) == (16, 3, (64, 64))
    kernel = read_kernel(tmp_path / "blurry-kernel.npy")
    assert kernel.shape == (1, 1, 9, 9) and abs(float(kernel.sum()) - 1) < 1e-6
    same = invoke(
        "blur", sharp_png, "-o", tmp_path / "again.png", "--size", "9", "--seed", "4", "--noise", "0"
    )
    assert same.exit_code == 0
    assert torch.equal(read_image(tmp_path / "again.png")[0], image)


def test_blur_with_a_kernel_file_and_same_boundary(sharp_png: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "k.npy", np.ones((5, 5)))
    out = tmp_path / "box.png"
    assert (
        invoke("blur", sharp_png, "-o", out, "--kernel", tmp_path / "k.npy", "--boundary", "same").exit_code
        == 0
    )
    assert read_image(out)[0].shape[-2:] == (72, 72)


def test_eval_scores_and_crops_a_valid_latent(sharp_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "blurry.png"
    invoke("blur", sharp_png, "-o", out, "--size", "9", "--noise", "0")
    scores = json.loads(invoke("eval", out, sharp_png, "--crop", "8", "--json").output)
    identical = json.loads(invoke("eval", sharp_png, sharp_png, "--crop", "8", "--json").output)
    assert identical["psnr"] > 80 and identical["aligned_shift"] == [0.0, 0.0]
    assert 10 < scores["psnr"] < 40 and 10 < scores["aligned_psnr"] < identical["aligned_psnr"]
    kernel = tmp_path / "blurry-kernel.npy"
    with_kernel = json.loads(
        invoke(
            "eval", out, sharp_png, "--crop", "8", "--json", "--kernel", kernel, "--true-kernel", kernel
        ).output
    )
    assert with_kernel["kernel_mnc"] == pytest.approx(1.0, abs=1e-5)
    text = invoke("eval", out, sharp_png, "--crop", "8").output.splitlines()
    assert text[0].startswith("aligned: the estimate shifted by the best of +-5 px")
    keys = [line.split()[0] for line in text[1:]]
    assert keys[:2] == ["aligned_psnr", "aligned_ssim"] and keys.index("psnr") > keys.index("aligned_shift")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["blur", "{missing}", "-o", "{out}"], "missing.png"),
        (["blur", "{corrupt}", "-o", "{out}"], "corrupt.png"),
        (["blur", "{small}", "-o", "{out}", "--size", "31"], "larger than"),
        (["blur", "{sharp}", "-o", "{out}", "--size", "8"], "odd"),
        (["eval", "{small}", "{sharp}"], "small.png"),
        (["run", "classic", "{missing}", "-o", "{out}"], "missing.png"),
        (["run", "classic", "{corrupt}", "-o", "{out}"], "corrupt.png"),
        (["run", "classic", "{nan}", "-o", "{out}"], "non-finite"),
        (["run", "classic", "{sharp}", "-o", "{out}", "--kernel-size", "30"], "odd"),
        (["run", "classic", "{sharp}", "-o", "{out}", "--kernel-size", "61"], "too large"),
        (["run", "classic", "{small}", "-o", "{out}", "--kernel-size", "9"], "too large"),
        (["run", "classic", "{sharp}", "{missing}", "-o", "{out}"], "missing.png"),
        (["run", "classic", "{sharp}", "-o", "{out}", "--device", "tpu9"], "device"),
        (["run", "classic", "{sharp}", "-o", "{out}", "--use", "kernel_prior=tv"], "cannot fill slot"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    args: list[str], message: str, sharp_png: Path, tmp_path: Path
) -> None:
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small.png")
    nan = np.full((40, 40), np.nan, np.float32)
    import tifffile

    tifffile.imwrite(tmp_path / "nan.tif", nan)
    paths = {
        "missing": tmp_path / "missing.png",
        "corrupt": tmp_path / "corrupt.png",
        "out": tmp_path / "out",
        "small": tmp_path / "small.png",
        "sharp": sharp_png,
        "nan": tmp_path / "nan.tif",
    }
    result = invoke(*[a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_run_writes_image_kernel_and_report(tmp_path: Path) -> None:
    from deblur.data.synthetic import blur_image
    from deblur.kernels import motion_kernel

    kernel = motion_kernel(9, generator=torch.Generator().manual_seed(1))
    blurry = blur_image(dead_leaves(80, 2, channels=3), kernel, noise_sigma=0.005, generator=0).clamp(0, 1)
    write_image(tmp_path / "in.tif", blurry, bit_depth=16)
    out = tmp_path / "out"
    result = invoke("run", "classic", tmp_path / "in.tif", "-o", out, "--kernel-size", "9", "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "in-deblurred.tif",
        "in-kernel.npy",
        "in-kernel.png",
        "in-report.json",
    ]
    image, info = read_image(out / "in-deblurred.tif")
    assert (info.bit_depth, info.channels, tuple(image.shape[-2:])) == (16, 3, (72, 72))
    estimate = read_kernel(out / "in-kernel.npy")
    assert estimate.shape == (1, 1, 9, 9)
    report = json.loads((out / "in-report.json").read_text())
    assert report["config"]["method"] == "classic" and report["config"]["kernel_size"] == 9
    assert report["outputs"]["kernel.npy"] == "in-kernel.npy" and report["timings"]["total"] > 0
    assert all(len(curve) > 0 for curve in report["history"].values())


def test_bench_takes_settings_for_all_methods_or_one(tmp_path: Path) -> None:
    result = invoke(
        "bench", "true-kernel:wiener", "true-kernel:hqs", "--dataset", "synthetic:1", "--kernel-size", "9",
        "--set", "solver.boundary=valid", "--set", "true-kernel:hqs:solver.weight=1e-3",
        "--set", "true-kernel:wiener:solver.balance=0.01", "--out", tmp_path, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "report.json").read_text())["settings"]["overrides"]
    assert settings["true-kernel:hqs"] == {"solver": {"boundary": "valid", "weight": 1e-3}}
    assert settings["true-kernel:wiener"] == {"solver": {"boundary": "valid", "balance": 0.01}}


def test_bench_keeps_blind_kernels(tmp_path: Path) -> None:
    result = invoke(
        "bench", "classic", "--dataset", "synthetic:1", "--kernel-size", "9", "--out", tmp_path, "-q"
    )
    assert result.exit_code == 0, result.output
    kernel = read_kernel(tmp_path / "kernels" / "classic" / "synthetic000.npy")
    assert kernel.shape == (1, 1, 9, 9) and abs(float(kernel.sum()) - 1) < 1e-5


def test_bench_refuses_settings_for_a_method_not_benchmarked(tmp_path: Path) -> None:
    result = invoke("bench", "classic", "--dataset", "synthetic:1", "--set", "dipmc:solver.steps=3")
    assert result.exit_code == 2
    assert "'dipmc' is not one of the methods benchmarked" in result.output


def test_bench_resume_keeps_finished_images(tmp_path: Path) -> None:
    args = (
        "bench",
        "true-kernel:wiener",
        "--dataset",
        "synthetic:2",
        "--kernel-size",
        "9",
        "--out",
        tmp_path,
        "-q",
    )
    assert invoke(*args, "--limit", "1").exit_code == 0
    first = json.loads((tmp_path / "report.json").read_text())["images"]
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "report.json").read_text())["images"]
    assert [r["image"] for r in rows] == ["synthetic000"] * 2 + ["synthetic001"] * 2 and rows[:2] == first
    alone = invoke("bench", "true-kernel:wiener", "--dataset", "synthetic:1", "--resume")
    assert alone.exit_code == 2 and "needs its output folder (--out)" in alone.output


def test_bench_takes_components_for_all_methods_or_one(tmp_path: Path) -> None:
    result = invoke(
        "bench", "classic", "--dataset", "synthetic:1", "--kernel-size", "9",
        "--use", "classic:nonblind=wiener", "--set", "solver.iterations=1", "--out", tmp_path, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "report.json").read_text())["settings"]
    assert settings["components"] == {"classic": {"nonblind": "wiener"}}
    refused = invoke("bench", "classic", "--dataset", "synthetic:1", "--use", "dipmc:refiner=none")
    assert refused.exit_code == 2 and "--use 'dipmc:refiner=none': 'dipmc' is not one of" in refused.output
