from __future__ import annotations

import math

import pytest
import torch

from deblur.errors import InputError
from deblur.metrics import AlignedScore, error_ratio, kernel_mnc, levin_compare, psnr, ssim


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 31, generator=g)
    y = (x + 0.1 * torch.randn(2, 3, 24, 31, generator=g)).clamp(0, 1)
    return x, y


def smooth(h: int, w: int, dy: float = 0.0, dx: float = 0.0) -> torch.Tensor:
    """A smooth analytic image sampled at ``(i - dy, j - dx)``."""
    i = torch.arange(h, dtype=torch.float64)[:, None] - dy
    j = torch.arange(w, dtype=torch.float64)[None, :] - dx
    return 0.5 + 0.2 * torch.sin(i / 3.1) * torch.cos(j / 4.3) + 0.15 * torch.sin((i + 2 * j) / 5.7)


def test_psnr_matches_skimage(pair):
    metrics = pytest.importorskip("skimage.metrics")
    x, y = pair
    ours = psnr(y, x)
    assert ours.shape == (2,)
    for b in range(2):
        ref = metrics.peak_signal_noise_ratio(x[b].numpy(), y[b].numpy(), data_range=1.0)
        assert ours[b].item() == pytest.approx(ref, abs=1e-4)
    assert isinstance(psnr(y[0], x[0]), float)


def test_ssim_matches_skimage_gray_and_colour(pair):
    metrics = pytest.importorskip("skimage.metrics")
    x, y = pair
    colour = ssim(y, x)
    for b in range(2):
        ref = metrics.structural_similarity(x[b].numpy(), y[b].numpy(), data_range=1.0, channel_axis=0)
        assert colour[b].item() == pytest.approx(ref, abs=1e-3)
    gray = ssim(y[0, 1], x[0, 1])
    ref = metrics.structural_similarity(x[0, 1].numpy(), y[0, 1].numpy(), data_range=1.0)
    assert gray == pytest.approx(ref, abs=1e-3)
    assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0])


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(InputError, match="different shapes"):
        psnr(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 9))
    with pytest.raises(InputError, match="at least 7x7"):
        ssim(torch.rand(5, 5), torch.rand(5, 5))


def test_levin_compare_recovers_subpixel_shift():
    ref = smooth(64, 64)
    est = smooth(64, 64, dy=1.25, dx=-2.75)
    score = levin_compare(est, ref)
    assert isinstance(score, AlignedScore)
    assert score.shift == (1.25, -2.75)
    assert score.psnr > 45
    assert score.ssim > 0.99
    n = (64 - 30) ** 2
    assert score.psnr == pytest.approx(10 * math.log10(n / score.ssd))


def test_levin_compare_is_translation_tolerant_but_not_noise_tolerant():
    g = torch.Generator().manual_seed(1)
    ref = smooth(48, 48).float()
    noisy = ref + 0.05 * torch.randn(48, 48, generator=g)
    shifted = smooth(48, 48, dy=-3.0, dx=2.5).float()
    s_noisy, s_shift = levin_compare(noisy, ref), levin_compare(shifted, ref)
    assert s_shift.shift == (-3.0, 2.5)
    assert s_shift.ssd < s_noisy.ssd
    # The search includes zero shift, so it never scores worse than the plain cropped PSNR (~26 dB).
    assert s_noisy.psnr >= psnr(noisy[15:-15, 15:-15], ref[15:-15, 15:-15]) - 1e-9
    with pytest.raises(InputError):
        levin_compare(ref[:-1], ref)
    # A larger estimate (the latent of a "valid" model) is centre-cropped first.
    latent = smooth(56, 56, dy=4.0, dx=4.0).float()
    assert levin_compare(latent, ref).shift == (0.0, 0.0)


def test_error_ratio():
    assert error_ratio(66.0, 33.0) == pytest.approx(2.0)
    assert torch.allclose(
        error_ratio(torch.tensor([2.0, 6.0]), torch.tensor([1.0, 2.0])), torch.tensor([2.0, 3.0])
    )


def test_kernel_mnc():
    g = torch.Generator().manual_seed(2)
    k = torch.rand(1, 1, 7, 7, generator=g)
    shifted = torch.nn.functional.pad(k, (3, 0, 1, 2))  # a shifted copy on a larger support
    assert float(kernel_mnc(shifted, k)) == pytest.approx(1.0, abs=1e-6)
    other = torch.rand(1, 1, 5, 9, generator=g)
    value = kernel_mnc(other[0, 0], k[0, 0])
    assert isinstance(value, float) and 0.0 < value < 0.99
    batch = kernel_mnc(torch.cat([shifted[..., :7, :7], torch.rand(1, 1, 7, 7, generator=g)]), k)
    assert batch.shape == (2,) and bool(((batch >= 0) & (batch <= 1 + 1e-6)).all())
    with pytest.raises(InputError):
        kernel_mnc(torch.zeros(3, 3), k)
