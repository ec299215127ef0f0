"""The spatially varying benchmark: synthetic-sv, field MNC, true-field runs, montages and field pictures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from deblur.bench import BenchItem, BenchReport, check_runnable, default_run, load_dataset, run_bench, score
from deblur.data.spatially_varying import KINDS
from deblur.errors import InputError
from deblur.fields import GAP_VALUE, field_picture
from deblur.io import ImageInfo, read_image
from deblur.operators import basis_to_field, grid_weights
from deblur.outputs import write_result
from deblur.pipeline import default_registry
from deblur.result import Result


@pytest.fixture(scope="module")
def items() -> list[BenchItem]:
    return load_dataset("synthetic-sv:2", kernel_size=9)


def _delta(size: int = 9) -> torch.Tensor:
    k = torch.zeros(1, 1, size, size)
    k[0, 0, size // 2, size // 2] = 1.0
    return k


def fake_run(method: str, item: BenchItem, overrides) -> Result:
    """'oracle': the sharp image and the true field; 'delta': the input and a delta kernel."""
    if method == "oracle":
        return Result(image=item.sharp, kernel_field=item.kernel_field)
    return Result(image=item.blurry, kernel=_delta())


def test_synthetic_sv_dataset(items: list[BenchItem]) -> None:
    assert [i.name for i in items] == [i.name for i in load_dataset("synthetic-sv:5", kernel_size=9, limit=2)]
    for item in items:
        assert item.kernel is None and item.kernel_size == 9 and item.category in KINDS
        assert item.name.endswith(item.category)
        assert item.kernel_field.shape == (1, 81, 8, 8) and item.blurry.shape == (1, 1, 255, 255)
    picked = load_dataset("synthetic-sv:3", kernel_size=9, images=[items[1].name])
    assert [i.name for i in picked] == [items[1].name]
    assert torch.equal(picked[0].kernel_field, items[1].kernel_field)
    with pytest.raises(InputError, match="synthetic-sv"):
        load_dataset("synthetic-sv:0")
    with pytest.raises(InputError, match="synthetic-sv"):
        load_dataset("nope:1")


def test_field_mnc(items: list[BenchItem]) -> None:
    item = items[0]
    exact = score(item, "m", Result(image=item.sharp, kernel_field=item.kernel_field), 0.0)
    assert exact.field_mnc == pytest.approx(1.0, abs=1e-5) and exact.mnc is None
    per_pixel = basis_to_field(
        item.kernel_field[0].flatten(1).T.reshape(-1, 1, 9, 9), grid_weights((8, 8), (255, 255))
    )
    assert score(item, "m", Result(image=item.sharp, kernel_field=per_pixel), 0.0).field_mnc == pytest.approx(
        1.0, abs=1e-5
    ), "a per-pixel estimate is read at the grid's cell centres"
    delta = score(item, "m", Result(image=item.blurry, kernel=_delta()), 0.0)
    assert delta.field_mnc is not None and delta.field_mnc < 0.9
    assert score(item, "input", Result(image=item.blurry), 0.0).field_mnc is None


def test_report_shows_and_keeps_field_mnc(items: list[BenchItem], tmp_path: Path) -> None:
    report = run_bench(["oracle", "delta"], items, run=fake_run, dataset="synthetic-sv:2", out_dir=tmp_path)
    summary = report.summary()
    assert summary["oracle"]["field_mnc"] == pytest.approx(1.0, abs=1e-5)
    assert summary["delta"]["field_mnc"] < 0.9 and summary["input"]["field_mnc"] is None
    md = report.to_markdown()
    table = md.split("\n\n")[1].splitlines()  # the summary table
    header = table[0].split(" | ")
    assert header[-4:-2] == ["kernel MNC", "field MNC"]
    rows = {line.split(" | ")[0]: line.split(" | ") for line in table[2:]}
    column = header.index("field MNC")
    assert rows["| oracle"][column] == "1.000" and float(rows["| delta"][column]) < 0.9
    assert rows["| input"][column] == "-"
    assert "Per image: PSNR (dB) / SSIM / error ratio / kernel MNC / field MNC / seconds." in md
    assert f"{items[0].category} (" in md, "summarised by the field's kind"
    text = (tmp_path / "report.json").read_text()
    again = BenchReport.from_json(text)
    assert [s.field_mnc for s in again.scores] == [s.field_mnc for s in report.scores]
    assert again.to_markdown() == md
    old = json.loads(text)
    for row in old["images"]:
        del row["field_mnc"]
    assert "field MNC" not in BenchReport.from_json(json.dumps(old)).to_markdown(), "old reports load"
    assert np.load(tmp_path / "kernels" / "oracle" / f"{items[0].name}-field.npy").shape == (1, 81, 8, 8)
    picture, _ = read_image(tmp_path / "montages" / f"{items[0].name}.png")
    assert picture.shape[-1] == 3 * (255 + 4) + 4 and picture.shape[-2] > 2 * 255, "fields as wide as images"


def test_true_kernel_cg_on_a_field(items: list[BenchItem]) -> None:
    item = items[0]
    result = default_run("true-kernel:cg", item, {"solver": {"iterations": 5}})
    assert result.kernel_field is item.kernel_field and result.image.shape == item.blurry.shape
    assert score(item, "cg", result, 0.0).psnr > score(item, "input", Result(image=item.blurry), 0.0).psnr
    with pytest.raises(InputError, match=r"true-kernel:hqs needs a uniform kernel.*richardson-lucy, cg"):
        default_run("true-kernel:hqs", item, {})


def test_a_true_kernel_run_that_cannot_work_is_refused_before_any(items: list[BenchItem]) -> None:
    registry = default_registry()
    check_runnable(["classic", "true-kernel:cg"], items, registry)
    with pytest.raises(InputError, match=r"true-kernel:hqs needs a uniform kernel"):
        check_runnable(["true-kernel:hqs"], items, registry)
    blind_only = [BenchItem("bare", items[0].blurry, items[0].sharp)]
    with pytest.raises(InputError, match="true-kernel:cg needs the true kernel, which bare does not have"):
        check_runnable(["true-kernel:cg"], blind_only, registry)


def test_field_picture_tiles_each_kernel_at_its_peak() -> None:
    field = torch.rand(1, 9, 2, 3, generator=torch.Generator().manual_seed(0))
    picture = field_picture(field)
    assert picture.shape == (1, 1, 2 * 4 - 1, 3 * 4 - 1)
    tile = picture[0, 0, 4:7, 8:11]
    k = field[0, :, 1, 2].reshape(3, 3)
    assert torch.allclose(tile, k / k.max()) and bool((picture[0, 0, 3] == GAP_VALUE).all())
    assert field_picture(torch.rand(1, 9, 40, 30), cells=16).shape == (1, 1, 16 * 4 - 1, 16 * 4 - 1)


def test_write_result_writes_a_kernel_field_picture(tmp_path: Path) -> None:
    field = torch.rand(1, 25, 4, 3)
    files = write_result(
        Result(image=torch.rand(1, 1, 20, 16), kernel_field=field), tmp_path, "a", ImageInfo()
    )
    assert (
        files["kernel-field.png"] == "a-kernel-field.png"
        and files["kernel-field.npy"] == "a-kernel-field.npy"
    )
    picture, _ = read_image(tmp_path / "a-kernel-field.png")
    assert picture.shape[-2:] == (4 * 6 - 1, 3 * 6 - 1)
    assert torch.allclose(picture, field_picture(field), atol=1e-4)
    per_pixel = write_result(
        Result(image=torch.rand(1, 1, 20, 16), kernel_field=torch.rand(1, 9, 20, 16)),
        tmp_path,
        "b",
        ImageInfo(),
    )
    assert read_image(tmp_path / per_pixel["kernel-field.png"])[0].shape[-2:] == (16 * 4 - 1, 16 * 4 - 1)


def test_write_result_writes_kernel_draws_and_kernel_uncertainty_as_kernels(tmp_path: Path) -> None:
    from deblur.io import read_kernel

    draws = torch.rand(3, 1, 5, 5)
    draws = draws / draws.sum((-2, -1), keepdim=True)
    spread = 0.01 * torch.rand(1, 1, 5, 5)
    result = Result(image=torch.rand(1, 1, 20, 16), kernel_samples=draws, kernel_uncertainty=spread)
    files = write_result(result, tmp_path, "a", ImageInfo())
    assert torch.allclose(read_kernel(tmp_path / files["kernel-samples.npy"]), draws)
    assert np.allclose(np.load(tmp_path / files["kernel-uncertainty.npy"]), spread[0, 0].numpy())
    picture, _ = read_image(tmp_path / files["kernel-uncertainty.png"])
    assert picture.shape[-2:] == (5, 5) and torch.allclose(picture, spread / spread.max(), atol=1e-4)


def test_field_mnc_of_a_field_with_itself_is_one_and_lower_against_a_delta(items: list[BenchItem]) -> None:
    from deblur.fields import field_mnc
    from deblur.operators import field_from_kernel

    truth, shape = items[0].kernel_field, tuple(items[0].blurry.shape[-2:])
    assert torch.allclose(field_mnc(truth, truth, shape), torch.ones(1), atol=1e-5)
    delta = torch.zeros(1, 1, 5, 5)
    delta[..., 2, 2] = 1
    assert float(field_mnc(field_from_kernel(delta, (1, 1)), truth, shape)) < 0.9
