from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from deblur.data import (
    PHOTOS,
    BlurredCrops,
    blur_image,
    dead_leaves,
    load_levin,
    skimage_photos,
    text_image,
)
from deblur.errors import InputError
from deblur.kernels import motion_kernel
from deblur.metrics import levin_compare

LEVIN = Path(__file__).resolve().parents[3] / "shared" / "benchdata" / "levin"
needs_levin = pytest.mark.skipif(not (LEVIN / "mat").is_dir(), reason="Levin benchmark (../shared) absent")


def delta(size: int) -> torch.Tensor:
    k = torch.zeros(1, 1, size, size)
    k[0, 0, size // 2, size // 2] = 1.0
    return k


# ------------------------------------------------------------------------------------------ procedural


@pytest.mark.parametrize("make", [dead_leaves, text_image])
@pytest.mark.parametrize("channels", [1, 3])
def test_procedural_images_shape_range_and_seed(make, channels):
    a = make((24, 40), 5, channels=channels)
    assert a.shape == (1, channels, 24, 40) and a.dtype == torch.float32
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0 and float(a.std()) > 0.05
    assert torch.equal(a, make((24, 40), torch.Generator().manual_seed(5), channels=channels))
    assert not torch.equal(a, make((24, 40), 6, channels=channels))


def test_dead_leaves_has_natural_spectrum():
    x = dead_leaves(128, 0, r_min=1.0, r_max=64.0)[0, 0]
    power = torch.fft.fftshift(torch.fft.fft2(x - x.mean()).abs() ** 2)
    yy, xx = torch.meshgrid(torch.arange(128) - 64, torch.arange(128) - 64, indexing="ij")
    radius = (yy**2 + xx**2).float().sqrt()
    low, high = power[(radius >= 4) & (radius < 8)].mean(), power[(radius >= 32) & (radius < 64)].mean()
    slope = torch.log(high / low) / torch.log(torch.tensor(48.0 / 6.0))
    assert -3.0 < float(slope) < -1.5  # natural images: power ~ 1/f^2


def test_text_image_contrast():
    x = text_image(48, 1, min_contrast=0.4)
    background = torch.mode(x.flatten()).values
    assert float((x - background).abs().max()) >= 0.4 - 1 / 255


def test_procedural_bad_arguments():
    with pytest.raises(InputError):
        dead_leaves(16, 0, channels=2)
    with pytest.raises(InputError):
        text_image(0, 0)


# ------------------------------------------------------------------------------------------ photos


def test_skimage_photos_gray_and_colour():
    pytest.importorskip("skimage")
    photos = skimage_photos(["camera", "coffee"], gray=False)
    assert photos["camera"].shape == (1, 1, 512, 512) and photos["coffee"].shape == (1, 3, 400, 600)
    gray = skimage_photos(["coffee"])["coffee"]
    assert gray.shape == (1, 1, 400, 600) and 0 <= float(gray.min()) <= float(gray.max()) <= 1
    assert "astronaut" in PHOTOS
    with pytest.raises(InputError, match="unknown photos"):
        skimage_photos(["nope"])


def test_skimage_photos_missing_dependency(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("skimage"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(InputError, match=r"install deblur-core\[photos\]"):
        skimage_photos(["camera"])


# ------------------------------------------------------------------------------------------ synthetic


def test_blur_image_valid_alignment_and_noise_levels():
    x = dead_leaves(40, 0)
    clean = blur_image(x, delta(5), noise_sigma=0.0)
    torch.testing.assert_close(clean, x[..., 2:-2, 2:-2], atol=1e-6, rtol=0)
    noisy = blur_image(x, delta(5), noise_sigma=0.05, generator=1)
    assert float((noisy - clean).std()) == pytest.approx(0.05, rel=0.1)
    assert torch.equal(noisy, blur_image(x, delta(5), noise_sigma=0.05, generator=1))
    same = blur_image(x, delta(5), noise_sigma=0.0, boundary="same")
    assert same.shape == x.shape


def test_blur_image_poisson_variance_scales_with_intensity():
    x = torch.full((1, 1, 64, 64), 0.2)
    x[..., 32:, :] = 0.8
    y = blur_image(x, delta(3), noise="poisson", noise_sigma=0.05, boundary="same", generator=0)
    dark, bright = (y - x)[..., :28, :].var(), (y - x)[..., 36:, :].var()
    assert float(dark) == pytest.approx(0.05**2 * 0.2, rel=0.2)
    assert float(bright / dark) == pytest.approx(4.0, rel=0.3)
    with pytest.raises(InputError):
        blur_image(x, delta(3), noise="salt")


def test_blurred_crops_shapes_alignment_and_determinism():
    data = BlurredCrops(7, 16, sources=("dead_leaves", "text"), noise=(0.0, 0.0))
    blurry, kernel, sharp = data.triples(3, torch.Generator().manual_seed(4))
    assert blurry.shape == sharp.shape == (3, 1, 16, 16) and kernel.shape == (3, 1, 7, 7)
    assert torch.allclose(kernel.sum((-2, -1)), torch.ones(3, 1))
    again = data.triples(3, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip((blurry, kernel, sharp), again, strict=True))
    # sharp is aligned with blurry: blurring it "same" reproduces the interior.
    from deblur.operators import convolve

    inner = convolve(sharp, kernel, boundary="same", padding="zero")[..., 3:-3, 3:-3]
    assert torch.allclose(inner, blurry[..., 3:-3, 3:-3], atol=1e-5)
    y, k = data.batch(3, torch.Generator().manual_seed(4))
    assert torch.equal(y, blurry) and torch.equal(k, kernel)


def test_blurred_crops_photos_and_unknown_sources():
    pytest.importorskip("skimage")
    blurry, _, sharp = BlurredCrops(5, 24, sources=("photos",)).triples(2, torch.Generator().manual_seed(0))
    assert blurry.shape == sharp.shape == (2, 1, 24, 24)
    with pytest.raises(InputError, match="unknown image sources"):
        BlurredCrops(9, 32, sources=("video",))


def test_motion_kernels_cover_a_length_range_centred_on_the_simplex():
    k = motion_kernel(15, n=8, generator=torch.Generator().manual_seed(0), length_range=(0.3, 1.0))
    assert k.shape == (8, 1, 15, 15) and bool((k >= 0).all())
    torch.testing.assert_close(k.sum((-2, -1)), torch.ones(8, 1))
    rows = (k.sum(-1)[:, 0] * torch.arange(15.0)).sum(-1)
    torch.testing.assert_close(rows, torch.full((8,), 7.0), atol=0.05, rtol=0)
    short = motion_kernel(15, n=8, generator=torch.Generator().manual_seed(0), length_range=(0.2, 0.2))
    spread = lambda k: float((k > 1e-3).sum())  # noqa: E731
    assert spread(short) < spread(k)
    with pytest.raises(InputError, match="length range"):
        motion_kernel(15, length_range=(0.5, 0.2))


# ------------------------------------------------------------------------------------------ Levin


@needs_levin
def test_load_levin_real_folder():
    cases = load_levin(LEVIN, scenes=[1], kernels=[1, 4])
    assert [c.name for c in cases] == ["im01_ker01", "im01_ker04"]
    c, c4 = cases
    assert c.blurry.shape == c.sharp.shape == (1, 1, 255, 255) and c.blurry.dtype == torch.float32
    assert c.kernel.shape == (1, 1, 19, 19) and float(c.kernel.sum()) == pytest.approx(1.0, abs=1e-5)
    assert (c.kernel_size_hint, c.ssd_reference) == (17, pytest.approx(33.2452))
    assert (c4.kernel.shape[-1], c4.kernel_size_hint, c4.ssd_reference) == (27, 25, 48.3362)
    # TRUE-convolution convention: blurring the sharp image with `kernel` reproduces the observation.
    from deblur.operators import convolve

    def score(k: torch.Tensor) -> float:
        return levin_compare(convolve(c4.sharp, k, boundary="same", padding="replicate"), c4.blurry).psnr

    assert score(c4.kernel) > 38.0  # measured 41.4 dB; the 180-degree rotated kernel gives 25.1 dB
    assert score(c4.kernel.flip(-2, -1)) < 30.0


@needs_levin
def test_load_levin_missing_files(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        load_levin(tmp_path / "nope")
    shutil.copytree(LEVIN, tmp_path / "levin", ignore=shutil.ignore_patterns("im02*", "im03*", "im04*"))
    with pytest.raises(InputError, match=r"im02_ker01\.mat"):
        load_levin(tmp_path / "levin")
    (tmp_path / "levin" / "levin_gtkernel_ssde.csv").unlink()
    with pytest.raises(InputError, match=r"levin_gtkernel_ssde\.csv"):
        load_levin(tmp_path / "levin", scenes=[1])


def test_load_levin_missing_folder(tmp_path):
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "absent"))):
        load_levin(tmp_path / "absent")
