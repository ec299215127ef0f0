"""The confidence signal of every result with a kernel, the fallback to the input and the CLI warning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import deblur
import deblur.confidence
from deblur.cli import main
from deblur.confidence import (
    MAX_REBLUR,
    MIN_AGREEMENT,
    Confidence,
    assess,
    halves,
    kernel_agreement,
    kernel_focus,
)
from deblur.data.procedural import dead_leaves, text_image
from deblur.data.synthetic import blur_image
from deblur.io import write_image
from deblur.kernels import gaussian_kernel, motion_kernel
from deblur.solvers import hqs_deconvolve


def _case(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    latent = dead_leaves(160 + 14, g)
    k = motion_kernel(15, generator=g)
    return blur_image(latent, k, noise_sigma=0.01, generator=g), k


def test_kernel_focus_is_the_main_stroke_share() -> None:
    line = torch.zeros(9, 9)
    line[4, 1:8] = 1 / 7
    assert kernel_focus(line) == pytest.approx(1.0)
    two = torch.zeros(9, 9)
    two[1, 1], two[7, 7] = 0.5, 0.5
    assert kernel_focus(two) == pytest.approx(0.5)


def test_the_true_kernel_is_trusted_and_a_wrong_one_is_not() -> None:
    y, k = _case()
    good = assess(y, hqs_deconvolve(y, k, weight=4e-4).clamp(0, 1), k)
    assert good.reliable and not good.reasons, good
    assert 0.3 < good.reblur < 1.5, "a sound estimate explains the observation down to its noise"
    assert 0.008 < good.noise < 0.016, "dense dead-leaves edges lift the estimate a little"
    wrong = torch.zeros_like(k)
    wrong[..., 7, 0:15] = 1 / 15  # a long horizontal streak for a curved shake
    bad = assess(y, hqs_deconvolve(y, wrong, weight=1e-5).clamp(0, 1), wrong)
    assert not bad.reliable and bad.reasons, bad
    assert bad.reblur > good.reblur
    assert bad.kernel_reblur > MAX_REBLUR, "core's own deconvolution with the wrong kernel fails too"


def test_a_good_kernel_behind_an_image_that_does_not_reblur_is_trusted_by_its_reference() -> None:
    """A non-blind solver that is not data-consistent (a learned one smooths) does not condemn its kernel."""
    y, k = _case()
    smooth = hqs_deconvolve(y, k, weight=4e-4).clamp(0, 1)
    smooth = blur_image(smooth, gaussian_kernel(7, 1.5), boundary="same")
    judged = assess(y, smooth, k)
    assert judged.reblur > MAX_REBLUR, "the image itself does not explain the observation"
    assert judged.kernel_reblur < MAX_REBLUR and judged.reliable, judged
    doubled = assess(y, (2 * smooth).clamp(0, 1), k)
    assert not doubled.reliable and "although its kernel" in doubled.reasons[0], doubled


def _unreliable(*args: object) -> Confidence:
    return Confidence(
        reliable=False, kernel_focus=0.5, noise_gain=2.0, reblur=3.0, noise=0.01, reasons=("test",)
    )


def test_run_falls_back_to_the_input_and_keeps_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    y, _ = _case(1)
    kept = deblur.run(y, "classic", kernel_size=15, fallback=False)
    assert kept.confidence and "estimate" not in kept.extras
    monkeypatch.setattr(deblur.confidence, "assess", _unreliable)
    result = deblur.run(y, "classic", kernel_size=15)
    assert torch.equal(result.image, y.clamp(0, 1))
    assert torch.equal(result.extras["estimate"], kept.image)
    assert result.confidence[0].fallback and "input is kept" in result.confidence[0].warning()


def test_cli_warns_in_one_line_and_writes_the_estimate_beside(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    y, _ = _case(2)
    photo = tmp_path / "photo.png"
    write_image(photo, y.clamp(0, 1), bit_depth=8)
    monkeypatch.setattr(deblur.confidence, "assess", _unreliable)
    out = CliRunner().invoke(main, ["run", "classic", str(photo), "-o", str(tmp_path / "out"), "-q"])
    assert out.exit_code == 0, out.output
    warnings = [line for line in out.output.splitlines() if line.startswith("deblur: warning:")]
    assert len(warnings) == 1 and "photo.png" in warnings[0] and "test" in warnings[0]
    assert (tmp_path / "out" / "photo-estimate.png").exists()
    plain = CliRunner().invoke(
        main, ["run", "classic", str(photo), "-o", str(tmp_path / "kept"), "-q", "--no-fallback"]
    )
    assert plain.exit_code == 0 and not (tmp_path / "kept" / "photo-estimate.png").exists()


def test_halves_cut_across_the_longer_side() -> None:
    wide = torch.rand(1, 1, 40, 100)
    left, right = halves(wide, 9, 1000)
    assert torch.equal(torch.cat([left, right], -1), wide)
    top, bottom = halves(wide.mT, 9, 1000)
    assert torch.equal(torch.cat([top, bottom], -2), wide.mT)
    assert halves(wide, 9, 2001) == [], "a half of 2000 pixels is below min_pixels"
    assert halves(wide, 11, 1000) == [], "a 40 px side holds under four 11 px kernels"


def _page(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """A 96 x 224 text page with 2% noise whose left half is blurred by ``left``, the right by ``right``."""
    g = torch.Generator().manual_seed(3)
    size = left.shape[-1]
    page = text_image((96 + size - 1, 224 + size - 1), g)
    return torch.cat(
        [
            blur_image(page[..., i * 112 : (i + 1) * 112 + size - 1], k, noise_sigma=0.02, generator=g)
            for i, k in enumerate((left, right))
        ],
        -1,
    )


def test_a_kernel_both_halves_keep_is_trusted_and_one_they_pull_apart_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deblur.confidence, "MIN_HALF_PIXELS", 96 * 112)
    k = motion_kernel(13, generator=torch.Generator().manual_seed(5))
    same = _page(k, k)
    assert kernel_agreement(same, k) > 0.8
    across, down = torch.zeros(1, 1, 13, 13), torch.zeros(1, 1, 13, 13)
    across[..., 6, :], down[..., :, 6] = 1 / 13, 1 / 13
    mixed = _page(across, down)  # no one kernel blurs both halves: the right half pulls `down` apart
    assert kernel_agreement(mixed, down) < MIN_AGREEMENT
    judged = assess(mixed, hqs_deconvolve(mixed, down, weight=1e-3).clamp(0, 1), down)
    assert not judged.reliable and "two halves" in judged.warning(), judged
    monkeypatch.setattr(deblur.confidence, "MIN_HALF_PIXELS", 96 * 112 + 1)
    assert math.isnan(kernel_agreement(mixed, down)), "too small to cut: not measured"
    assert assess(mixed, mixed, down).as_dict()["kernel_agreement"] is None


def test_run_falls_back_where_the_halves_pull_the_kernel_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deblur.confidence, "kernel_agreement", lambda gray, kernel: 0.2)
    y, _ = _case(4)
    result = deblur.run(y, "classic", kernel_size=15)
    confidence = result.confidence[0]
    assert confidence.fallback and confidence.kernel_agreement == 0.2
    assert "pull the kernel apart (agreement 0.20)" in confidence.warning()
    assert torch.equal(result.image, y.clamp(0, 1))
