"""The textured-window chooser used by DIP-based methods to estimate a kernel on part of the image."""

from __future__ import annotations

import torch

from deblur.observation import SATURATION, estimation_window, noise_level, saturation_mask, textured_window


def test_window_is_the_textured_part() -> None:
    y = torch.zeros(1, 1, 64, 64)
    y[..., 40:60, 8:28] = torch.rand(1, 1, 20, 20, generator=torch.Generator().manual_seed(0))
    top, left = textured_window(y, (20, 20))
    assert abs(top - 40) <= 1 and abs(left - 8) <= 1


def test_edges_in_one_direction_score_below_edges_in_all() -> None:
    stripes = torch.zeros(1, 1, 48, 96)
    stripes[..., :, :48] = (torch.arange(48) % 6 < 3).float().view(1, 1, 1, 48)  # vertical edges only
    stripes[..., :, 48:] = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(1)) * 0.5
    _, left = textured_window(stripes, (48, 40))
    assert left > 28, "windows mostly on edges in every direction win over stronger one-way edges"


def test_estimation_window_is_at_least_three_kernel_sides_and_inside_the_image() -> None:
    y = torch.zeros(1, 1, 64, 64)
    y[..., 40:60, 8:28] = torch.rand(1, 1, 20, 20, generator=torch.Generator().manual_seed(0))
    assert estimation_window(y, 5, 24)[2:] == (24, 24)
    assert estimation_window(y, 11, 24)[2:] == (33, 33)
    assert estimation_window(y, 5, None) == (0, 0, 64, 64)
    assert estimation_window(y, 5, 100) == (0, 0, 64, 64), "a window as large as the image is the image"


def test_noise_level_reads_the_noise_of_an_8_bit_photo() -> None:
    g = torch.Generator().manual_seed(2)
    rows = torch.linspace(0.2, 0.8, 200).view(1, 1, -1, 1)
    scene = (rows + 0.3 * (torch.arange(200) >= 100).view(1, 1, 1, -1)).clamp(0, 0.95)
    for sigma in (0.003, 0.01, 0.02):
        y = ((scene + sigma * torch.randn(scene.shape, generator=g)).clamp(0, 1) * 255).round() / 255
        assert abs(noise_level(y) - sigma) < 0.15 * sigma + 0.0005, sigma


def test_saturation_mask_marks_clipped_regions_grown_not_stray_pixels() -> None:
    y = torch.full((1, 3, 12, 12), 0.5)
    y[0, 1, 4:7, 4:7] = 1.0  # a clipped 3x3 light in one channel
    y[0, 2, 10, 1] = 1.0  # a stray pixel noise pushed to the top level
    mask = saturation_mask(y)
    assert mask.shape == (1, 1, 12, 12) and int(mask.sum()) == 25 and bool(mask[0, 0, 3:8, 3:8].all())
    assert int(saturation_mask(y, grow=0).sum()) == 9
    assert not saturation_mask(torch.full((1, 1, 5, 5), SATURATION - 0.01)).any()
