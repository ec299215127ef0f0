"""The benchmark harness: dataset specs, scoring, report rendering and outputs (trivial run functions)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from deblur.bench import (
    BenchItem,
    BenchReport,
    ImageScore,
    load_dataset,
    machine_info,
    montage,
    parse_method,
    run_bench,
    score,
)
from deblur.errors import InputError
from deblur.io import read_image, write_image, write_kernel
from deblur.result import Result


def _item(name: str, seed: int, ssd_reference: float | None = None, kernel: bool = True) -> BenchItem:
    g = torch.Generator().manual_seed(seed)
    sharp = torch.rand(1, 1, 40, 40, generator=g)
    blurry = (sharp + 0.05 * torch.randn(1, 1, 40, 40, generator=g)).clamp(0, 1)
    k = torch.zeros(1, 1, 5, 5)
    k[0, 0, 2, 1:4] = 1 / 3
    return BenchItem(name, blurry, sharp, k if kernel else None, 5, ssd_reference)


def fake_run(method: str, item: BenchItem, overrides) -> Result:
    """'oracle' returns the sharp image and the true kernel, anything else the blurry input."""
    if method == "oracle":
        return Result(image=item.sharp, kernel=item.kernel)
    return Result(image=item.blurry, kernel=torch.full((1, 1, 3, 3), 1 / 9))


def test_folder_dataset(tmp_path: Path) -> None:
    for sub in ("blurry", "sharp", "kernels"):
        (tmp_path / sub).mkdir()
    y = torch.rand(1, 3, 24, 30)
    write_image(tmp_path / "blurry" / "a.png", y)
    write_image(tmp_path / "sharp" / "a.png", torch.rand(1, 3, 24 + 6, 30 + 6))  # a valid-blur latent
    write_kernel(tmp_path / "kernels" / "a.npy", torch.rand(1, 1, 7, 7))
    write_image(tmp_path / "blurry" / "b.tif", torch.rand(1, 1, 20, 20))
    write_image(tmp_path / "sharp" / "b.png", torch.rand(1, 1, 20, 20))
    items = load_dataset(f"folder:{tmp_path}")
    assert [i.name for i in items] == ["a", "b"]
    a, b = items
    assert a.sharp.shape == a.blurry.shape == (1, 3, 24, 30)
    assert torch.allclose(a.sharp, read_image(tmp_path / "sharp" / "a.png")[0][..., 3:27, 3:33])
    assert a.kernel.shape == (1, 1, 7, 7) and a.kernel_size == 7
    assert b.kernel is None and b.kernel_size is None and b.ssd_reference is None
    assert [i.kernel_size for i in load_dataset(f"folder:{tmp_path}", limit=1, kernel_size=11)] == [11]


def test_folder_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="blurry/ and sharp/"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "blurry").mkdir()
    (tmp_path / "sharp").mkdir()
    write_image(tmp_path / "blurry" / "a.png", torch.rand(1, 1, 20, 20))
    with pytest.raises(InputError, match="no sharp image for a"):
        load_dataset(f"folder:{tmp_path}")
    write_image(tmp_path / "sharp" / "a.png", torch.rand(1, 1, 21, 20))
    with pytest.raises(InputError, match="even margin"):
        load_dataset(f"folder:{tmp_path}")


def test_synthetic_dataset_is_deterministic() -> None:
    a = load_dataset("synthetic:2", kernel_size=9)
    b = load_dataset("synthetic:5", kernel_size=9, limit=2)
    assert [i.name for i in a] == ["synthetic000", "synthetic001"]
    for x, y in zip(a, b, strict=True):
        assert x.blurry.shape == x.sharp.shape == (1, 1, 255, 255)
        assert x.kernel.shape == (1, 1, 9, 9) and x.kernel_size == 9
        assert torch.equal(x.blurry, y.blurry) and torch.equal(x.kernel, y.kernel)
    assert not torch.equal(a[0].kernel, a[1].kernel)


def test_text_dataset_is_seeded_text_under_camera_shake_and_noise() -> None:
    a = load_dataset("text:2", kernel_size=9)
    b = load_dataset("text:3", kernel_size=9, limit=2)
    assert [i.name for i in a] == ["text000", "text001"]
    for x, y in zip(a, b, strict=True):
        assert x.blurry.shape == x.sharp.shape == (1, 1, 192, 192)
        assert x.kernel.shape == (1, 1, 9, 9) and torch.equal(x.blurry, y.blurry)
        assert float(x.blurry.min()) >= 0 and float(x.blurry.max()) <= 1
        assert float((x.blurry - x.sharp).abs().mean()) > 0.01  # blurred, not the sharp page


@pytest.mark.parametrize(
    "spec",
    [
        "nonsense",
        "levin:",
        "synthetic:0",
        "synthetic:x",
        "zip:foo",
        "levin:/no/such/folder",
        "folder:/no/such",
    ],
)
def test_bad_dataset_specs(spec: str) -> None:
    with pytest.raises(InputError):
        load_dataset(spec)


def test_dataset_image_selection() -> None:
    items = load_dataset("synthetic:3", kernel_size=9, images=["synthetic002", "synthetic000"])
    assert [i.name for i in items] == ["synthetic000", "synthetic002"], "the dataset's order is kept"
    with pytest.raises(InputError, match="no image 'nope' in 'synthetic:3'"):
        load_dataset("synthetic:3", kernel_size=9, images=["nope"])


def test_bad_dataset_options() -> None:
    with pytest.raises(InputError, match="limit"):
        load_dataset("synthetic:1", limit=0)
    with pytest.raises(InputError, match="odd"):
        load_dataset("synthetic:1", kernel_size=8)


def test_parse_method() -> None:
    assert parse_method("classic") == ("blind", "classic")
    assert parse_method("true-kernel:hqs") == ("true-kernel", "hqs")
    assert parse_method("input") == ("input", "input")
    for bad in ("", "true-kernel:", "other:hqs"):
        with pytest.raises(InputError):
            parse_method(bad)


def test_score_follows_the_levin_protocol() -> None:
    item = _item("x", 0, ssd_reference=2.0)
    shifted = torch.roll(item.sharp, shifts=(1, -2), dims=(-2, -1))
    s = score(item, "m", Result(image=shifted, kernel=item.kernel), 1.5)
    assert s.shift == (1.0, -2.0) and s.psnr == float("inf") and s.error_ratio == 0.0
    assert s.mnc == pytest.approx(1.0) and s.seconds == 1.5 and s.ssim == pytest.approx(1.0)
    with pytest.raises(InputError, match="expected"):
        score(item, "m", Result(image=item.sharp[..., :30]), 0.0)


def test_run_bench_report_and_outputs(tmp_path: Path) -> None:
    items = [_item("one", 1, ssd_reference=1e9), _item("two", 2, ssd_reference=1e-6)]
    calls = []
    report = run_bench(
        ["oracle", "blurry"],
        items,
        run=fake_run,
        dataset="unit",
        out_dir=tmp_path,
        progress=lambda stage, i, n, **m: calls.append((stage, i, n)),
    )
    assert calls[-1] == ("bench", 6, 6)  # the input row is scored too
    summary = report.summary()
    assert report.methods == ["input", "oracle", "blurry"]
    assert [s.psnr for s in report.scores if s.method == "input"] == [
        s.psnr for s in report.scores if s.method == "blurry"
    ], "the input row scores the observation as it is"
    assert summary["oracle"]["images"] == 2 and summary["oracle"]["mnc"] == pytest.approx(1.0)
    assert summary["blurry"]["error_ratio_le2"] == 0.5  # 'one' is within the huge reference, 'two' is not
    assert summary["blurry"]["psnr"] == pytest.approx(sum(s.psnr for s in report.scores[2::3]) / 2)
    md = (tmp_path / "report.md").read_text()
    assert md == report.to_markdown()
    assert md.index("| input | 2 |") < md.index("| oracle | 2 |")
    assert "| blurry | 2 |" in md and "| one |" in md and "| two |" in md and "Machine:" in md
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["methods"] == ["input", "oracle", "blurry"] and len(data["images"]) == 6
    assert data["images"][1]["psnr"] is None  # infinite PSNR of the exact oracle
    assert data["machine"]["cpu_count"] >= 1
    again = BenchReport.from_json((tmp_path / "report.json").read_text())
    assert again.to_markdown() == report.to_markdown() and again.scores[1].psnr == math.inf
    pictures = sorted(p.name for p in (tmp_path / "montages").iterdir())
    assert pictures == ["one.png", "two.png"]
    picture, _ = read_image(tmp_path / "montages" / "one.png")
    assert picture.shape[1] == 3 and picture.shape[-1] > 3 * 40


def recording(ran: list, stop: tuple[str, str] | None = None) -> Callable:
    """``fake_run`` that records ``(method, image)`` and is interrupted at ``stop``."""

    def run(method: str, item: BenchItem, overrides) -> Result:
        if (method, item.name) == stop:
            raise KeyboardInterrupt
        ran.append((method, item.name))
        return fake_run(method, item, overrides)

    return run


def test_run_bench_resumes_an_interrupted_run(tmp_path: Path) -> None:
    items, methods, ran = [_item("one", 1), _item("two", 2), _item("three", 3)], ["oracle", "blurry"], []
    with pytest.raises(KeyboardInterrupt):
        run_bench(methods, items, run=recording(ran, ("blurry", "two")), dataset="unit", out_dir=tmp_path)
    first = json.loads((tmp_path / "report.json").read_text())["images"]
    ran.clear()
    report = run_bench(methods, items, run=recording(ran), dataset="unit", out_dir=tmp_path, resume=True)
    assert ran == [("oracle", "two"), ("blurry", "two"), ("oracle", "three"), ("blurry", "three")]
    assert [(s.image, s.method) for s in report.scores][:2] == [("one", "input"), ("one", "oracle")]
    assert [s.seconds for s in report.scores[:3]] == [row["seconds"] for row in first], "kept as measured"
    assert len(json.loads((tmp_path / "report.json").read_text())["images"]) == 9


def test_resuming_needs_the_same_run(tmp_path: Path) -> None:
    items = [_item("one", 1)]
    with pytest.raises(InputError, match="needs its output folder"):
        run_bench(["oracle"], items, run=fake_run, resume=True)
    run_bench(["oracle"], items, run=fake_run, dataset="unit", out_dir=tmp_path)
    with pytest.raises(InputError, match="holds a run of input, oracle on unit"):
        run_bench(["oracle", "blurry"], items, run=fake_run, dataset="unit", out_dir=tmp_path, resume=True)
    with pytest.raises(InputError, match="resume the same command"):
        run_bench(
            ["oracle"], items, run=fake_run, dataset="unit", out_dir=tmp_path, resume=True, overrides={"a": 1}
        )
    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(InputError, match="is not a benchmark report"):
        run_bench(["oracle"], items, run=fake_run, dataset="unit", out_dir=tmp_path, resume=True)


def test_run_bench_rejects_empty_input() -> None:
    with pytest.raises(InputError):
        run_bench([], [_item("a", 0)], run=fake_run)
    with pytest.raises(InputError):
        run_bench(["m"], [], run=fake_run)
    with pytest.raises(InputError):
        run_bench(["true-kernel:"], [_item("a", 0)], run=fake_run)


def test_markdown_without_optional_scores() -> None:
    report = BenchReport(
        "d", ["m"], [ImageScore("a", "m", 20.0, 0.5, 2.0), ImageScore("b", "m", 22.0, 0.7, 4.0)]
    )
    md = report.to_markdown()
    assert "| m | 2 | 21.00 | - | - | - | - | 0.600 | - | - | - | 3.0 | 3.0 |" in md
    assert "| a | 20.00 / 0.500 / - / - / 2.0 |" in md


def test_montage_layout() -> None:
    y = torch.rand(1, 1, 32, 40)
    k = torch.full((1, 1, 3, 3), 1 / 9)
    picture = montage(y, [("m", torch.rand(1, 3, 32, 40), k)], true_kernel=k)
    assert picture.dtype.name == "uint8" and picture.ndim == 3 and picture.shape[2] == 3
    assert picture.shape[1] == 2 * (40 + 4) + 4
    assert montage(y, [("m", y, None)]).shape[0] < picture.shape[0]


def test_machine_info() -> None:
    info = machine_info()
    assert {"cpu_count", "cpu_model", "torch", "torch_threads"} <= set(info)


def test_fallbacks_are_counted_and_the_estimates_scored_apart() -> None:
    kept = {"reliable": False, "fallback": True}
    trusted = {"reliable": True, "fallback": False}
    scores = [
        ImageScore("a", "input", 20.0, 0.5, 0.0),
        ImageScore("b", "input", 22.0, 0.5, 0.0),
        ImageScore("a", "m", 20.0, 0.5, 1.0, confidence=kept, estimate_psnr=17.0),
        ImageScore("b", "m", 26.0, 0.7, 1.0, confidence=trusted),
    ]
    summary = BenchReport("d", ["input", "m"], scores).summary()["m"]
    assert summary["fallback"] == 1 and summary["worse"] == 0
    assert summary["gain"] == pytest.approx(2.0) and summary["estimate_gain"] == pytest.approx(0.5)
    again = BenchReport.from_json(BenchReport("d", ["input", "m"], scores).to_json())
    assert again.summary()["m"] == summary
