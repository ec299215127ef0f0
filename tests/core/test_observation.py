"""The textured-window chooser used by DIP-based methods to estimate a kernel on part of the image."""

from __future__ import annotations

import torch

from deblur.observation import estimation_window, textured_window


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
