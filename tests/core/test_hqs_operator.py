"""Core's HQS on a spatially varying operator (conjugate gradients inside the splitting)."""

from __future__ import annotations

import torch

from deblur.data.procedural import dead_leaves
from deblur.data.spatially_varying import blur_field, mixed_field
from deblur.kernels import motion_kernel
from deblur.metrics import psnr
from deblur.operators import grid_blur
from deblur.priors.image import HyperLaplacian
from deblur.solvers.hqs import HQSDeconvolver


def _scene(size: int = 9) -> torch.Tensor:
    return dead_leaves(48 + size - 1, torch.Generator().manual_seed(0))


def test_a_constant_field_is_deconvolved_as_the_uniform_kernel() -> None:
    k = motion_kernel(9, generator=torch.Generator().manual_seed(1))
    field = k.flatten(1)[:, :, None, None].expand(-1, -1, 2, 2).contiguous()
    x = _scene()
    y = grid_blur(field, (48, 48))(x)
    solver = HQSDeconvolver(prior=HyperLaplacian(1e-4), cg_iterations=20)
    by_field, by_kernel = solver(y, grid_blur(field, (48, 48))), solver(y, k)
    sharp = x[..., 4:-4, 4:-4]
    assert psnr(by_field.clamp(0, 1), sharp) > psnr(y, sharp) + 3
    assert psnr(by_field.clamp(0, 1), sharp) > psnr(by_kernel.clamp(0, 1), sharp) - 1  # the same model


def test_a_spatially_varying_blur_is_undone_by_its_own_operator_better_than_by_one_kernel() -> None:
    g = torch.Generator().manual_seed(2)
    field = mixed_field(9, (3, 3), g)
    x = _scene()
    y = blur_field(x, field, 0.0, g)
    solver = HQSDeconvolver(prior=HyperLaplacian(1e-4), cg_iterations=10)
    sharp = x[..., 4:-4, 4:-4]
    own = psnr(solver(y, grid_blur(field, (48, 48))).clamp(0, 1), sharp)
    centre = psnr(solver(y, field[:, :, 1, 1].reshape(1, 1, 9, 9)).clamp(0, 1), sharp)
    assert own > psnr(y, sharp) + 2
    assert own > centre
